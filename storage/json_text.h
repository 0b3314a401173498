// JSON text for the reports storage writes (`status --format json`, `export --format json`).
#pragma once

#include <string>
#include <string_view>

namespace trm::storage {

// A JSON string literal: quotes, backslashes and control characters escaped.
std::string json_quote(std::string_view s);
// A JSON number, or null for NaN and infinities (JSON has no such numbers).
std::string json_number(double v);

}  // namespace trm::storage
