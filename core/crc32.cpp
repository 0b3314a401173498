#include "core/crc32.h"

#include <array>
#include <string>

namespace trm::core {

namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

uint64_t le(std::string_view b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

constexpr uint32_t kEnd = 0x06054b50, kEnd64 = 0x06064b50, kLocator64 = 0x07064b50;
constexpr uint32_t kCentral = 0x02014b50, kLocal = 0x04034b50;

}  // namespace

uint32_t crc32(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (const char b : bytes) c = kCrcTable[(c ^ static_cast<unsigned char>(b)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string zip_entries(std::string_view a, std::vector<ZipEntry>* out) {
  const size_t n = a.size();
  // The end-of-directory record: the last 22 bytes, before a comment of up to 64 KiB.
  size_t end = std::string::npos;
  for (size_t k = n >= 22 ? n - 22 : 0; n >= 22; --k) {
    if (le(a, k, 4) == kEnd) {
      end = k;
      break;
    }
    if (k == 0 || n - k > 22 + 65535) break;
  }
  if (end == std::string::npos) return "no zip directory at its end (truncated?)";
  uint64_t entries = le(a, end + 10, 2);
  uint64_t directory = le(a, end + 16, 4);
  if ((entries == 0xFFFF || directory == 0xFFFFFFFF) && end >= 20 &&
      le(a, end - 20, 4) == kLocator64) {
    const uint64_t end64 = le(a, end - 20 + 8, 8);
    if (end64 + 56 > n || le(a, end64, 4) != kEnd64) return "damaged zip64 directory record";
    entries = le(a, end64 + 32, 8);
    directory = le(a, end64 + 48, 8);
  }
  size_t at = directory;
  for (uint64_t e = 0; e < entries; ++e) {
    if (at + 46 > n || le(a, at, 4) != kCentral) return "damaged zip directory";
    ZipEntry entry;
    entry.method = static_cast<int>(le(a, at + 10, 2));
    entry.crc = static_cast<uint32_t>(le(a, at + 16, 4));
    uint64_t size = le(a, at + 20, 4);
    uint64_t local = le(a, at + 42, 4);
    const size_t name_len = le(a, at + 28, 2), extra_len = le(a, at + 30, 2),
                 comment_len = le(a, at + 32, 2);
    if (at + 46 + name_len + extra_len > n) return "damaged zip directory";
    entry.name = std::string(a.substr(at + 46, name_len));
    // Zip64: the fields that did not fit are in extra field 1, in this order.
    const uint64_t raw_size = le(a, at + 24, 4);
    for (size_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const auto id = le(a, x, 2), len = le(a, x + 2, 2);
      if (id == 1) {
        size_t f = x + 4;
        if (raw_size == 0xFFFFFFFF) f += 8;  // uncompressed size
        if (size == 0xFFFFFFFF) size = le(a, (f += 8) - 8, 8);
        if (local == 0xFFFFFFFF) local = le(a, f, 8);
      }
      x += 4 + len;
    }
    if (local + 30 > n || le(a, local, 4) != kLocal)
      return "entry '" + entry.name + "': damaged header";
    entry.offset = local + 30 + le(a, local + 26, 2) + le(a, local + 28, 2);
    entry.size = size;
    if (entry.offset > n || entry.size > n - entry.offset)
      return "entry '" + entry.name + "': cut short";
    out->push_back(std::move(entry));
    at += 46 + name_len + extra_len + comment_len;
  }
  return "";
}

std::string zip_damage(std::string_view a) {
  std::vector<ZipEntry> entries;
  if (auto damage = zip_entries(a, &entries); !damage.empty()) return damage;
  for (const ZipEntry& e : entries) {
    if (e.method == 0 && crc32(a.substr(e.offset, e.size)) != e.crc)
      return "entry '" + e.name + "': its bytes do not match their CRC-32";
  }
  return "";
}

}  // namespace trm::core
