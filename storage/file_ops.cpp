#include "storage/file_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "storage/storage_error.h"

namespace trm::storage {

namespace {

std::string parent_folder(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "open it to sync", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a folder (EINVAL); the rename is then as durable as they allow.
  if (rc != 0 && !(err == EINVAL && (flags & O_DIRECTORY)))
    fail_errno(path, "sync it to disk", err);
}

}  // namespace

void fail_errno(const std::string& path, std::string_view what, int err) {
  std::string message = path + ": cannot " + std::string(what) + ": " + std::strerror(err);
  if (err == ENOSPC || err == EFBIG || err == EDQUOT) {
    message +=
        " (the disk or your quota is full, or the file reached its size limit; free space "
        "and resume: every change acknowledged so far is kept)";
  } else if (err == EACCES || err == EPERM || err == EROFS) {
    message += " (no write permission there; choose a writable folder or fix its permissions)";
  }
  throw StorageError(message);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void require_regular_or_missing(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  const char* kind = S_ISDIR(st.st_mode)    ? "a folder"
                     : S_ISFIFO(st.st_mode) ? "a pipe"
                     : S_ISCHR(st.st_mode)  ? "a device"
                                            : "not a regular file";
  throw StorageError(path + ": is " + kind + ", not " + what +
                     " (the .h5 file `trm-sweep run SPEC -o FILE` writes, and its .journal)");
}

FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_ino)};
}

void sync_file(const std::string& path) { sync_path(path, O_RDONLY); }

void sync_parent_folder(const std::string& path) {
  sync_path(parent_folder(path), O_RDONLY | O_DIRECTORY);
}

void replace_file(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) fail_errno(to, "replace it by " + from, errno);
  sync_parent_folder(to);
}

void remove_file_if_present(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail_errno(path, "remove it", errno);
}

}  // namespace trm::storage
