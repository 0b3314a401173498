#include "sweep/trial_toml.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"

namespace trm::sweep {

namespace {

void apply(core::TrialConfig& config, const toml::table& table, const std::string& prefix,
           const std::string& source, std::vector<std::string>& problems) {
  for (const auto& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    const std::string at = toml_where(source, key.source());
    if (const auto* sub = node.as_table()) {
      apply(config, *sub, name + ".", source, problems);
      continue;
    }
    try {
      std::string problem;
      const auto text = toml_field_text(node, name, &problem);
      if (!text) {
        problems.push_back(at + ": " + problem);
        continue;
      }
      core::set_key(config, name, *text);
    } catch (const ConfigError& e) {
      problems.push_back(at + ": " + e.what());
    }
  }
}

}  // namespace

std::string toml_where(const std::string& source, const toml::source_region& r) {
  return source + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

std::optional<std::string> toml_scalar_text(const toml::node& v) {
  if (const auto* i = v.as_integer()) return std::to_string(i->get());
  if (const auto* f = v.as_floating_point()) return core::format_double(f->get());
  if (const auto* b = v.as_boolean()) return std::string(b->get() ? "true" : "false");
  if (const auto* s = v.as_string()) return s->get();
  return std::nullopt;
}

namespace {

// How a TOML value reads in a message: a string quoted, an array or table by its kind.
std::string toml_value_shown(const toml::node& v) {
  if (v.is_string()) {
    std::string quoted = "\"";
    for (const char c : *v.value<std::string>()) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    return quoted + "\"";
  }
  if (v.is_array()) return "an array";
  if (v.is_table()) return "a table";
  // A float that prints as a whole number (2.0) keeps its point: it is why an integer key
  // refuses it.
  if (const auto* f = v.as_floating_point()) {
    std::string text = core::format_double(f->get());
    if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
    return text;
  }
  return toml_scalar_text(v).value_or("?");
}

const char* toml_type_name(const toml::node& v) {
  if (v.is_integer()) return "an integer";
  if (v.is_floating_point()) return "a float";
  if (v.is_boolean()) return "a boolean";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_table()) return "a table";
  return "a date or time";
}

}  // namespace

std::optional<std::string> toml_field_text(const toml::node& node, const std::string& key,
                                           std::string* problem) {
  const auto kind = core::key_kind<core::TrialConfig>(key);
  const char* expected = nullptr;
  switch (kind) {
    case core::FieldKind::integer:
      if (node.is_integer()) return toml_scalar_text(node);
      expected = "an integer (such as 6)";
      break;
    case core::FieldKind::number:
      if (node.is_integer() || node.is_floating_point()) return toml_scalar_text(node);
      expected = "a number (such as 0.5 or 1e-4)";
      break;
    case core::FieldKind::boolean:
      if (node.is_boolean()) return toml_scalar_text(node);
      expected = "true or false (unquoted)";
      break;
    case core::FieldKind::text:
      if (node.is_string()) return toml_scalar_text(node);
      expected = "a quoted name";
      break;
  }
  std::string valid;
  if (kind == core::FieldKind::text) {
    // The enum's names, from the error a bad name would give.
    try {
      core::TrialConfig scratch;
      core::set_key(scratch, key, "\x01");
    } catch (const ConfigError& e) {
      const std::string m = e.what();
      if (const auto at = m.find("valid: "); at != std::string::npos)
        valid = " (" + m.substr(at) + ")";
    }
  }
  *problem = key + " = " + toml_value_shown(node) + ": expected " + expected + valid + ", not " +
             toml_type_name(node);
  return std::nullopt;
}

std::string trial_toml_text(const core::TrialConfig& config) {
  std::string out;
  core::TrialConfig::visit_fields(config, [&](std::string_view name, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    const std::string text = core::field_to_string(field);
    // Numbers and booleans bare; enums and strings as TOML strings (quotes and backslashes
    // escaped, which toml++ reads back exactly).
    if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double> ||
                  std::is_same_v<T, bool>) {
      out += std::string(name) + " = " + text + "\n";
    } else {
      std::ostringstream quoted;
      quoted << toml::value<std::string>(text);
      out += std::string(name) + " = " + quoted.str() + "\n";
    }
  });
  return out;
}

void apply_toml_table(core::TrialConfig& config, const toml::table& table,
                      const std::string& source, std::vector<std::string>& problems) {
  apply(config, table, "", source, problems);
}

void apply_toml_file(core::TrialConfig& config, const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found)
    throw ConfigError("config file " + path + ": no such file");
  if (error) throw ConfigError("config file " + path + ": cannot read it: " + error.message());
  if (std::filesystem::is_directory(status)) {
    throw ConfigError("config file " + path + ": is a folder; give the .toml file");
  }
  if (std::ifstream probe(path); !probe.is_open())
    throw ConfigError("config file " + path + ": cannot read it: " + std::strerror(errno));
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(toml_where(path, e.source()) + ": " + std::string(e.description()));
  }
  for (const char* section : {"sweep", "base", "grid", "zip", "variant", "exclude", "table"}) {
    if (table.contains(section)) {
      throw ConfigError("config file " + path + " is a sweep spec (it has [" + section +
                        "]); train one of its trials with --spec " + path +
                        " --trial N (`trm-sweep plan` lists them)");
    }
  }
  std::vector<std::string> problems;
  apply_toml_table(config, table, path, problems);
  if (problems.size() == 1) throw ConfigError(problems.front());
  if (!problems.empty()) {
    std::string msg = std::to_string(problems.size()) + " problems in " + path + ":";
    constexpr size_t kShown = 10;  // the rest are usually the same mistake again
    for (size_t i = 0; i < problems.size() && i < kShown; ++i) msg += "\n  " + problems[i];
    if (problems.size() > kShown)
      msg += "\n  ... and " + std::to_string(problems.size() - kShown) + " more";
    throw ConfigError(msg);
  }
}

}  // namespace trm::sweep
