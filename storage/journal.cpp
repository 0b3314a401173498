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

constexpr std::string_view kMagic = "TRMJRNL2";
constexpr std::string_view kMagicV1 = "TRMJRNL1";  // no sync marks
constexpr int64_t kFrame = 8;                      // length + checksum
constexpr uint32_t kMaxRecord = 1u << 30;          // larger lengths can only be damage
constexpr uint32_t kMarkFlag = 0x80000000u;        // the word of a sync mark
constexpr uint32_t kMarkPayload = 8;               // its own offset
constexpr int64_t kMarkBytes = kFrame + kMarkPayload;

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void store_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint64_t load_u64(const char* p) {
  return static_cast<uint64_t>(load_u32(p)) | static_cast<uint64_t>(load_u32(p + 4)) << 32;
}

// The sync mark written at byte `at`.
std::string sync_mark(int64_t at) {
  std::string frame(kMarkBytes, '\0');
  const auto offset = static_cast<uint64_t>(at);
  store_u32(frame.data() + kFrame, static_cast<uint32_t>(offset & 0xFFFFFFFFu));
  store_u32(frame.data() + kFrame + 4, static_cast<uint32_t>(offset >> 32));
  store_u32(frame.data(), kMarkFlag | kMarkPayload);
  store_u32(frame.data() + 4, crc32(std::string_view(frame.data() + kFrame, kMarkPayload)));
  return frame;
}

// Whether the kMarkBytes at `p` are the sync mark written at byte `at`.
bool is_sync_mark(const char* p, int64_t at) {
  return load_u32(p) == (kMarkFlag | kMarkPayload) &&
         load_u64(p + kFrame) == static_cast<uint64_t>(at) &&
         load_u32(p + 4) == crc32(std::string_view(p + kFrame, kMarkPayload));
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
      format_(other.format_),
      unmarked_(other.unmarked_),
      torn_(other.torn_),
      broken_(other.broken_) {}

Journal& Journal::operator=(Journal&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    size_ = other.size_;
    format_ = other.format_;
    unmarked_ = other.unmarked_;
    torn_ = other.torn_;
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
  return start(fd, path);
}

Journal Journal::create_or_take(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno(path, "create the journal", errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    ::close(fd);
    throw StorageError(path +
                       " is locked: another trm-sweep process is creating this results file at "
                       "this moment; let it start the sweep, then use `trm-sweep resume`");
  }
  lock(fd, path);  // held now, or a file system without flock (as create)
  if (::ftruncate(fd, 0) != 0) {
    const int err = errno;
    ::close(fd);
    fail_errno(path, "empty the journal", err);
  }
  return start(fd, path);
}

Journal Journal::start(int fd, const std::string& path) {
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
  std::array<char, 8> magic{};
  if (read_at(fd, magic.data(), 8, 0, path) && std::string_view(magic.data(), 8) == kMagicV1)
    journal.format_ = 1;
  // Records after the last sync mark may have been kept (intact, never acknowledged): the next
  // sync marks them, even with nothing appended before it.
  journal.unmarked_ = journal.format_ >= 2;
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno(path, "read the journal's size", errno);
  journal.torn_ = st.st_size > end;  // cut off by cut_torn_tail() or the first write
  journal.size_ = end;
  return journal;
}

void Journal::replay(const RecordFn& on_record) const { scan(on_record); }

int64_t Journal::scan(const RecordFn& on_record) const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail_errno(path_, "read the journal's size", errno);
  const int64_t file_size = st.st_size;
  std::array<char, 8> head{};
  const bool read = read_at(fd_, head.data(), 8, 0, path_);
  const std::string_view magic(head.data(), 8);
  if (!read || (magic != kMagic && magic != kMagicV1)) {
    throw StorageError(path_ + ": not a trm-sweep journal (it does not start with " +
                       std::string(kMagic) +
                       "); move it away to resume from the HDF5 file "
                       "alone");
  }
  const bool marked = magic == kMagic;
  int64_t at = static_cast<int64_t>(kMagic.size());
  std::string payload;
  std::string damage;  // why the frame at `at` is not intact
  while (at < file_size) {
    if (at + kFrame > file_size || !read_at(fd_, head.data(), kFrame, at, path_)) {
      damage = "a frame cut short";
      break;
    }
    const uint32_t word = load_u32(head.data());
    const uint32_t checksum = load_u32(head.data() + 4);
    const bool mark = marked && (word & kMarkFlag) != 0;
    const uint32_t length = mark ? word & ~kMarkFlag : word;
    const int64_t end = at + kFrame + length;
    if (length == 0 || length > kMaxRecord || end > file_size || (mark && length != kMarkPayload)) {
      damage = "an impossible length";
      break;
    }
    payload.resize(length);
    if (!read_at(fd_, payload.data(), length, at + kFrame, path_)) {
      damage = "a frame cut short";
      break;
    }
    if (crc32(payload) != checksum) {
      if (!marked && end != file_size) {
        throw StorageError(path_ + ": damaged record at byte " + std::to_string(at) +
                           " (checksum mismatch) with acknowledged records after it; restore the "
                           "journal from a backup");
      }
      damage = "checksum mismatch";
      break;
    }
    if (mark) {
      if (load_u64(payload.data()) != static_cast<uint64_t>(at)) {
        damage = "a sync mark out of place";
        break;
      }
    } else {
      on_record(payload);
    }
    at = end;
  }
  // Format 2 tells damage from a torn tail by its sync marks. Format 1 cannot: its group commits
  // leave unacknowledged intact records after a torn one, so only a checksum mismatch before
  // the end is refused (above) and anything else ends the records (as it always did).
  if (marked && at < file_size && acknowledged_after(at, file_size)) {
    throw StorageError(
        path_ + ": damaged record at byte " + std::to_string(at) + " (" + damage +
        ") with acknowledged records after it; nothing was changed. Restore the journal "
        "from a backup (or, if the results file was closed cleanly, move the "
        "journal away: resume then writes a new one from the file)");
  }
  return at;
}

bool Journal::acknowledged_after(int64_t from, int64_t file_size) const {
  // Search byte by byte: the damaged frame's length cannot be trusted to find the next one. A
  // mark is 16 bytes that name their own offset under a checksum, so none appears by chance.
  constexpr int64_t kChunk = int64_t{1} << 20;
  std::vector<char> buffer;
  for (int64_t start = from + 1; start + kMarkBytes <= file_size; start += kChunk) {
    const int64_t n = std::min(kChunk + kMarkBytes - 1, file_size - start);
    buffer.resize(static_cast<size_t>(n));
    if (!read_at(fd_, buffer.data(), n, start, path_)) return false;
    for (int64_t k = 0; k + kMarkBytes <= n && k < kChunk; ++k) {
      const char* p = buffer.data() + k;
      if (static_cast<unsigned char>(p[3]) != 0x80 || !is_sync_mark(p, start + k)) continue;
      // The first mark after the damage closes the damaged group; bytes after it were written
      // once that group's sync had returned.
      return start + k + kMarkBytes < file_size;
    }
  }
  return false;
}

void Journal::rename_to(const std::string& path) {
  replace_file(path_, path);
  path_ = path;
}

void Journal::cut_torn_tail() {
  if (!torn_) return;
  if (::ftruncate(fd_, size_) != 0 || ::fdatasync(fd_) != 0)
    fail_errno(path_, "cut off the torn tail", errno);
  torn_ = false;
}

void Journal::sync() {
  cut_torn_tail();
  if (format_ >= 2 && unmarked_) {
    write_at_end(sync_mark(size_), true);
    unmarked_ = false;
    return;
  }
  if (::fdatasync(fd_) != 0) fail_errno(path_, "sync the journal", errno);
}

void Journal::append(std::string_view payload, bool sync) {
  if (payload.empty() || payload.size() > kMaxRecord)
    throw StorageError(path_ + ": a journal record of " + std::to_string(payload.size()) +
                       " bytes (1 to 2^30 fit)");
  std::string frame(kFrame, '\0');
  store_u32(frame.data(), static_cast<uint32_t>(payload.size()));
  store_u32(frame.data() + 4, crc32(payload));
  frame.append(payload);
  if (sync && format_ >= 2) frame.append(sync_mark(size_ + static_cast<int64_t>(frame.size())));
  write_at_end(frame, sync);
  unmarked_ = !sync && format_ >= 2;
}

void Journal::write_at_end(const std::string& bytes, bool sync) {
  if (broken_) {
    throw StorageError(path_ +
                       ": an earlier failed write could not be undone; reopen the results "
                       "file to continue");
  }
  cut_torn_tail();
  int64_t done = 0;
  int err = 0;
  while (done < static_cast<int64_t>(bytes.size())) {
    const ssize_t wrote =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - static_cast<size_t>(done), size_ + done);
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
  size_ += static_cast<int64_t>(bytes.size());
}

}  // namespace trm::storage
