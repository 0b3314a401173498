// Internal to storage/: the POSIX file steps behind crash safety (sync a file or its folder,
// rename, stat) with errors that name the path, say why and, for a full disk, how to fix it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace trm::storage {

// Identity of a file's content at one moment: any write, truncation or replacement changes it.
struct FileStamp {
  int64_t size = -1;
  int64_t mtime_ns = -1;
  int64_t inode = -1;
  bool operator==(const FileStamp&) const = default;
};

bool file_exists(const std::string& path);
// StorageError unless `path` is missing or a regular file: a results file or journal that is a
// pipe, device or folder would block or fail on the first read. `what` names it in the message.
void require_regular_or_missing(const std::string& path, const std::string& what);
// The stamp of `path`; size -1 when it does not exist.
FileStamp file_stamp(const std::string& path);
// fsync of an existing file.
void sync_file(const std::string& path);
// fsync of the folder holding `path`, so that a create, rename or unlink in it is durable.
void sync_parent_folder(const std::string& path);
// Atomically replaces `to` by `from` and makes the rename durable.
void replace_file(const std::string& from, const std::string& to);
void remove_file_if_present(const std::string& path);
// Throws StorageError "<path>: cannot <what>: <strerror(err)>" plus a hint for a full disk or a
// folder without write permission.
[[noreturn]] void fail_errno(const std::string& path, std::string_view what, int err);

}  // namespace trm::storage
