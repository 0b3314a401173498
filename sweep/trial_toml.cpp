#include "sweep/trial_toml.h"

#include <toml++/toml.h>

#include <filesystem>
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
    const auto text = toml_scalar_text(node);
    if (!text) {
      problems.push_back(at + ": " + name + ": expected a number, boolean or string");
      continue;
    }
    try {
      // A quoted number for a numeric field is accepted as the same text; strings go to enums.
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
  if (!std::filesystem::exists(path)) throw ConfigError("config file " + path + ": no such file");
  if (std::filesystem::is_directory(path)) {
    throw ConfigError("config file " + path + ": is a folder; give the .toml file");
  }
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
