// CRC-32 (IEEE 802.3, as zlib and the zip format), for the results journal's records and the
// checkpoints' zip entries. Torch-free (core_base).
#pragma once

#include <cstdint>
#include <string_view>

namespace trm::core {

uint32_t crc32(std::string_view bytes);

// Where the stored entries of a zip archive (torch.save's format, which LibTorch reads without
// checking the entries' CRC-32) do not match their checksums, or the archive's directory cannot
// be read: "entry 'archive/data/3': ..." ; "" when every entry checks out. Entries stored
// compressed are not checked (torch.save stores them as they are). Zip64 archives included.
std::string zip_damage(std::string_view archive);

}  // namespace trm::core
