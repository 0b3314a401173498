// Field access by name for any config struct with a `visit_fields(self, v)` visitor (STYLE.md §5):
// the list of keys, set-from-text, get-as-text and the canonical text that trial ids hash.
// Torch-free; nested structs (TrialConfig) visit their members with a dotted prefix.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
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

// The kind of value a field takes, for readers of typed formats (TOML) to check a value's type.
enum class FieldKind { integer, number, boolean, text };

template <class T>
constexpr FieldKind field_kind_of() {
  if constexpr (std::is_same_v<T, int64_t>) return FieldKind::integer;
  if constexpr (std::is_same_v<T, double>) return FieldKind::number;
  if constexpr (std::is_same_v<T, bool>) return FieldKind::boolean;
  return FieldKind::text;  // enums by name, strings
}

// The kind of one field; an unknown key is a ConfigError listing the valid keys.
template <class C>
FieldKind key_kind(std::string_view key) {
  FieldKind kind = FieldKind::text;
  bool found = false;
  C c{};
  C::visit_fields(c, [&](std::string_view name, const auto& field) {
    if (key == name) {
      kind = field_kind_of<std::decay_t<decltype(field)>>();
      found = true;
    }
  });
  if (!found) throw ConfigError(unknown_key_message(key, keys_of<C>()));
  return kind;
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
