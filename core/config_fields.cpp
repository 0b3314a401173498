#include "core/config_fields.h"

#include <algorithm>
#include <cstdio>

namespace trm::core {

std::string format_double(double v) {
  // Shortest text that reads back to the same double (canonical for ids and files); -0 is 0, the
  // same setting, so one cell and one id.
  if (v == 0) v = 0;
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

void parse_field(std::string_view key, std::string_view text, int64_t& out) {
  int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) {
    throw ConfigError(std::string(key) + " = \"" + std::string(text) + "\": expected an integer");
  }
  out = v;
}

void parse_field(std::string_view key, std::string_view text, double& out) {
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    throw ConfigError(std::string(key) + " = \"" + s + "\": expected a finite number");
  }
  out = v == 0 ? 0.0 : v;  // -0 is 0 (format_double)
}

void parse_field(std::string_view key, std::string_view text, bool& out) {
  if (text == "true") {
    out = true;
  } else if (text == "false") {
    out = false;
  } else {
    throw ConfigError(std::string(key) + " = \"" + std::string(text) +
                      "\": expected true or false");
  }
}

int64_t parse_byte_size(std::string_view key, std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double value = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
  std::string unit = end == nullptr ? std::string() : std::string(end);
  if (unit.size() > 1 && (unit.ends_with("iB") || unit.ends_with("B"))) {
    unit = unit.substr(0, 1);  // "GiB", "GB" -> "G"
  }
  double scale = -1.0;
  if (unit.empty() || unit == "B") scale = 1.0;
  if (unit == "K" || unit == "k") scale = 1024.0;
  if (unit == "M") scale = 1024.0 * 1024;
  if (unit == "G") scale = 1024.0 * 1024 * 1024;
  if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  if (end == s.c_str() || scale < 0 || !(value > 0) || !std::isfinite(value)) {
    throw ConfigError(std::string(key) + " = \"" + s +
                      "\": expected a positive size such as 512M, 48G or 1073741824");
  }
  // A budget is at least a megabyte (below, LibTorch alone does not start) and at most 1 PiB.
  const double bytes = value * scale;
  if (bytes < 1024.0 * 1024 || bytes > 1024.0 * 1024 * 1024 * 1024 * 1024) {
    throw ConfigError(std::string(key) + " = \"" + s + "\": valid range 1M to 1024T");
  }
  return static_cast<int64_t>(bytes);
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string unknown_key_message(std::string_view key, const std::vector<std::string>& valid) {
  std::string msg = "unknown key '" + std::string(key) + "'";
  const std::string* nearest = nullptr;
  size_t best = 0;
  for (const auto& name : valid) {
    // A dotted key is also compared by its last part, so "l_cycle" finds "model.l_cycles".
    const auto dot = name.rfind('.');
    const std::string_view leaf =
        dot == std::string::npos ? std::string_view(name) : std::string_view(name).substr(dot + 1);
    // And a dotted key by its own last part: "model.hidden_size" where the keys have no prefix.
    const auto key_dot = key.rfind('.');
    const std::string_view key_leaf =
        key_dot == std::string_view::npos ? key : key.substr(key_dot + 1);
    // And leaf to leaf: a key in the wrong section ("train.hidden_size") finds its own. Near
    // enough to be a slip, measured on the key's own last part: a shared "model." prefix makes
    // no two keys alike, and a short leaf ("foo") is no slip of another ("box") two letters away.
    const size_t d = std::min(edit_distance(key_leaf, name), edit_distance(key_leaf, leaf));
    const bool near = d <= std::max<size_t>(1, key_leaf.size() / 3);
    if (near && (nearest == nullptr || d < best)) {
      nearest = &name;
      best = d;
    }
  }
  if (nearest != nullptr) {
    msg += "; did you mean '" + *nearest + "'? valid keys:";
  } else {
    msg += "; valid keys:";
  }
  for (const auto& name : valid) msg += " " + name;
  return msg;
}

}  // namespace trm::core
