// Writing a file so that a kill at any instant leaves the old version or the new one, never a
// torn one: write a temporary file beside it, fsync, rename over the target, fsync the folder.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace trm::core {

// Throws DataError naming the path and the system's reason.
void write_file_atomically(const std::string& path, std::string_view bytes);

// Receives the file's bytes piece by piece.
using ByteSink = std::function<void(const void* data, size_t size)>;
// The same, the bytes streamed to the temporary file as `produce` hands them to its sink, so that
// a large file (a checkpoint) is never held in memory whole. If `produce` throws, the temporary
// file is removed, the target is left as it was and the exception goes on.
void write_file_atomically(const std::string& path,
                           const std::function<void(const ByteSink&)>& produce);
// Why `path` is not a regular file one can read: "no such file", "not a regular file", or the
// system's own reason ("Permission denied" on a folder above it, "Too many levels of symbolic
// links"); "" when it is one.
std::string why_not_a_file(const std::string& path);

// The whole file; DataError when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace trm::core
