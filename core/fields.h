// Field access by name for any config struct with a `visit_fields(self, v)` visitor (STYLE.md §5):
// the list of keys, set-from-text, get-as-text and the canonical text that trial ids hash.
// Torch-free; nested structs (TrialConfig) visit their members with a dotted prefix.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config_fields.h"
#include "core/errors.h"

namespace trm::core {

// Every key of C, in visitor order.
template <class C>
std::vector<std::string> keys_of() {
  std::vector<std::string> names;
  C c{};
  C::visit_fields(c, [&](std::string_view name, auto&) { names.emplace_back(name); });
  return names;
}

// Sets one field from text; an unknown key is a ConfigError listing the valid keys.
template <class C>
void set_key(C& c, std::string_view key, std::string_view value) {
  bool found = false;
  C::visit_fields(c, [&](std::string_view name, auto& field) {
    if (key == name) {
      parse_field(key, value, field);
      found = true;
    }
  });
  if (!found) throw ConfigError(unknown_key_message(key, keys_of<C>()));
}

// The canonical text of one field (what set_key reads back to the same value).
template <class C>
std::string get_key(const C& c, std::string_view key) {
  std::string out;
  bool found = false;
  C::visit_fields(c, [&](std::string_view name, const auto& field) {
    if (key == name) {
      out = field_to_string(field);
      found = true;
    }
  });
  if (!found) throw ConfigError(unknown_key_message(key, keys_of<C>()));
  return out;
}

// (key, canonical value) for every field, in visitor order.
template <class C>
std::vector<std::pair<std::string, std::string>> key_values(const C& c) {
  std::vector<std::pair<std::string, std::string>> out;
  C::visit_fields(c, [&](std::string_view name, const auto& field) {
    out.emplace_back(std::string(name), field_to_string(field));
  });
  return out;
}

// Applies "key=value" overrides (the --set form) in order.
template <class C>
void apply_sets(C& c, const std::vector<std::string>& sets) {
  for (const auto& kv : sets) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError("--set " + kv + ": expected key=value, e.g. --set model.l_cycles=6");
    }
    set_key(c, std::string_view(kv).substr(0, eq), std::string_view(kv).substr(eq + 1));
  }
}

}  // namespace trm::core
