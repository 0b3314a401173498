// CRC-32 (IEEE 802.3, as zlib and the zip format), for the results journal's records and the
// checkpoints' zip entries. Torch-free (core_base).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trm::core {

uint32_t crc32(std::string_view bytes);

// One entry of a zip archive's directory: where its (stored) bytes lie in the archive.
struct ZipEntry {
  std::string name;
  int method = 0;  // 0: stored as is
  uint32_t crc = 0;
  uint64_t offset = 0, size = 0;
};

// The entries of a zip archive (Zip64 included), each checked to lie inside it, into *out;
// "" or what is damaged ("damaged zip directory", "entry 'x': cut short"). CRCs are not checked.
std::string zip_entries(std::string_view archive, std::vector<ZipEntry>* out);

// Where the stored entries of a zip archive (torch.save's format, which LibTorch reads without
// checking the entries' CRC-32) do not match their checksums, or the archive's directory cannot
// be read: "entry 'archive/data/3': ..." ; "" when every entry checks out. Entries stored
// compressed are not checked (torch.save stores them as they are). Zip64 archives included.
std::string zip_damage(std::string_view archive);

}  // namespace trm::core
