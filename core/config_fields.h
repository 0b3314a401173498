// Text conversion of config fields (int, double, bool, enums) for set_field/get_field and every
// other place that reads or writes a field by name. Torch-free.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/config.h"
#include "core/errors.h"

namespace trm::core {

template <class E>
concept ConfigEnum = std::is_enum_v<E> && requires {
  EnumNames<E>::values;
};

template <ConfigEnum E>
std::string_view enum_name(E e) {
  for (const auto& [value, name] : EnumNames<E>::values) {
    if (value == e) return name;
  }
  throw InternalError("enum value without a name");
}

template <ConfigEnum E>
std::string enum_choices() {
  std::string out;
  for (const auto& [value, name] : EnumNames<E>::values) {
    out += out.empty() ? "" : ", ";
    out += name;
  }
  return out;
}

// Canonical text of a field value: integers in decimal, doubles with the shortest round-trip
// form, booleans true/false, enums by name.
std::string format_double(double v);
inline std::string field_to_string(int64_t v) { return std::to_string(v); }
inline std::string field_to_string(double v) { return format_double(v); }
inline std::string field_to_string(bool v) { return v ? "true" : "false"; }
inline std::string field_to_string(const std::string& v) { return v; }
template <ConfigEnum E>
std::string field_to_string(E e) {
  return std::string(enum_name(e));
}

// Parses text into a field; throws ConfigError naming key, value and the expected form.
void parse_field(std::string_view key, std::string_view text, int64_t& out);
void parse_field(std::string_view key, std::string_view text, double& out);
void parse_field(std::string_view key, std::string_view text, bool& out);
inline void parse_field(std::string_view, std::string_view text, std::string& out) { out = text; }
template <ConfigEnum E>
void parse_field(std::string_view key, std::string_view text, E& out) {
  for (const auto& [value, name] : EnumNames<E>::values) {
    if (name == text) {
      out = value;
      return;
    }
  }
  throw ConfigError(std::string(key) + " = \"" + std::string(text) +
                    "\": unknown value; valid: " + enum_choices<E>());
}

// "512M", "2G", "1.5GiB", "1073741824" -> bytes (K/M/G/T are powers of 1024); ConfigError naming
// `key` and the text unless it is a positive size.
int64_t parse_byte_size(std::string_view key, std::string_view text);

// "unknown key 'x'; did you mean 'y'? valid keys: a, b, c".
std::string unknown_key_message(std::string_view key, const std::vector<std::string>& valid);

}  // namespace trm::core
