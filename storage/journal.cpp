#include "storage/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "storage/file_ops.h"
#include "storage/storage_error.h"

namespace trm::storage {

namespace {

constexpr std::string_view kMagic = "TRMJRNL1";
constexpr int64_t kFrame = 8;              // length + checksum
constexpr uint32_t kMaxRecord = 1u << 30;  // larger lengths can only be damage

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void store_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Reads exactly `n` bytes at `offset`; false at end of file.
bool read_at(int fd, char* out, int64_t n, int64_t offset, const std::string& path) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, static_cast<size_t>(n), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail_errno(path, "read the journal", errno);
    if (got == 0) return false;
    out += got;
    n -= got;
    offset += got;
  }
  return true;
}

void lock(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return;
  const int err = errno;
  if (err == EWOULDBLOCK) {
    ::close(fd);
    throw StorageError(path +
                       " is locked: another trm-sweep process is writing these results. "
                       "Wait for it to finish or stop it, then resume.");
  }
  // File systems without flock (ENOLCK, EOPNOTSUPP) run unlocked: one writer is then up to you.
  if (err != ENOLCK && err != EOPNOTSUPP) {
    ::close(fd);
    fail_errno(path, "lock the journal", err);
  }
}

}  // namespace

Journal::Journal(int fd, std::string path, int64_t size)
    : fd_(fd), path_(std::move(path)), size_(size) {}

Journal::Journal(Journal&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      size_(other.size_),
      broken_(other.broken_) {}

Journal& Journal::operator=(Journal&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    size_ = other.size_;
    broken_ = other.broken_;
  }
  return *this;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Journal Journal::create(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno(path, "create the journal", errno);
  lock(fd, path);
  Journal journal(fd, path, 0);
  if (::pwrite(fd, kMagic.data(), kMagic.size(), 0) != static_cast<ssize_t>(kMagic.size()) ||
      ::fdatasync(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    fail_errno(path, "write the journal", err);
  }
  journal.size_ = static_cast<int64_t>(kMagic.size());
  sync_parent_folder(path);
  return journal;
}

Journal Journal::open(const std::string& path, const RecordFn& on_record) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "open the journal", errno);
  lock(fd, path);
  Journal journal(fd, path, 0);
  const int64_t end = journal.scan(on_record);
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno(path, "read the journal's size", errno);
  if (st.st_size > end) {
    if (::ftruncate(fd, end) != 0 || ::fdatasync(fd) != 0) {
      fail_errno(path, "cut off the torn last record", errno);
    }
  }
  journal.size_ = end;
  return journal;
}

void Journal::replay(const RecordFn& on_record) const { scan(on_record); }

int64_t Journal::scan(const RecordFn& on_record) const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail_errno(path_, "read the journal's size", errno);
  const int64_t file_size = st.st_size;
  std::array<char, 8> head{};
  if (!read_at(fd_, head.data(), 8, 0, path_) || std::string_view(head.data(), 8) != kMagic) {
    throw StorageError(path_ + ": not a trm-sweep journal (it does not start with " +
                       std::string(kMagic) +
                       "); move it away to resume from the HDF5 file "
                       "alone");
  }
  int64_t at = static_cast<int64_t>(kMagic.size());
  std::string payload;
  while (at + kFrame <= file_size) {
    if (!read_at(fd_, head.data(), kFrame, at, path_)) break;
    const uint32_t length = load_u32(head.data());
    const uint32_t checksum = load_u32(head.data() + 4);
    const int64_t end = at + kFrame + length;
    if (length == 0 || length > kMaxRecord || end > file_size) break;  // torn tail
    payload.resize(length);
    if (!read_at(fd_, payload.data(), length, at + kFrame, path_)) break;
    if (crc32(payload) != checksum) {
      if (end == file_size) break;  // a last record whose bytes never reached the disk
      throw StorageError(path_ + ": damaged record at byte " + std::to_string(at) +
                         " (checksum mismatch) with acknowledged records after it; restore the "
                         "journal from a backup");
    }
    on_record(payload);
    at = end;
  }
  return at;
}

void Journal::rename_to(const std::string& path) {
  replace_file(path_, path);
  path_ = path;
}

void Journal::sync() {
  if (::fdatasync(fd_) != 0) fail_errno(path_, "sync the journal", errno);
}

void Journal::append(std::string_view payload, bool sync) {
  if (broken_) {
    throw StorageError(path_ +
                       ": an earlier failed write could not be undone; reopen the results "
                       "file to continue");
  }
  std::string frame(kFrame, '\0');
  store_u32(frame.data(), static_cast<uint32_t>(payload.size()));
  store_u32(frame.data() + 4, crc32(payload));
  frame.append(payload);
  int64_t done = 0;
  int err = 0;
  while (done < static_cast<int64_t>(frame.size())) {
    const ssize_t wrote =
        ::pwrite(fd_, frame.data() + done, frame.size() - static_cast<size_t>(done), size_ + done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      err = wrote < 0 ? errno : ENOSPC;
      break;
    }
    done += wrote;
  }
  if (err == 0 && sync && ::fdatasync(fd_) != 0) err = errno;
  if (err != 0) {
    if (::ftruncate(fd_, size_) != 0) broken_ = true;
    fail_errno(path_, "append to the journal", err);
  }
  size_ += static_cast<int64_t>(frame.size());
}

}  // namespace trm::storage
