#include "storage/results_types.h"

#include <chrono>

namespace trm::storage {

std::string clip_text(std::string_view text, size_t capacity) {
  if (text.size() <= capacity) return std::string(text);
  size_t end = capacity;
  // Step back over UTF-8 continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

double unix_now() {
  const auto since = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since).count();
}

}  // namespace trm::storage
