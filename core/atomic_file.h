// Writing a file so that a kill at any instant leaves the old version or the new one, never a
// torn one: write a temporary file beside it, fsync, rename over the target, fsync the folder.
#pragma once

#include <string>
#include <string_view>

namespace trm::core {

// Throws DataError naming the path and the system's reason.
void write_file_atomically(const std::string& path, std::string_view bytes);
// The whole file; DataError when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace trm::core
