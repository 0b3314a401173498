// Trainer config files in TOML: `[model]`, `[train]`, `[data]` tables (or dotted keys such as
// `model.l_cycles = 4`), every leaf one field of core::TrialConfig by its dotted name. The same
// reader serves `trm-sweep train --config` and the `[base]` table of a sweep spec.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <vector>

#include "core/trial_config.h"

namespace trm::sweep {

// "FILE:LINE:COL" of a TOML node or key.
std::string toml_where(const std::string& source, const toml::source_region& region);
// A TOML scalar as the text set_key parses; nullopt for arrays and tables.
std::optional<std::string> toml_scalar_text(const toml::node& node);
// The text of `node` as a value of trainer field `key`, or nullopt with *problem set when its TOML
// type is not the field's: an integer field takes integers (not 6.0 or "6"), a number field
// integers or floats, a boolean field true/false, an enum a string. An unknown key is a
// ConfigError listing the valid ones.
std::optional<std::string> toml_field_text(const toml::node& node, const std::string& key,
                                           std::string* problem);

// Applies every key of `table` to `config`. Problems (unknown key with the valid ones, wrong
// type, bad value) are appended as "SOURCE:LINE:COL: key: message", all of them, not just the
// first.
void apply_toml_table(core::TrialConfig& config, const toml::table& table,
                      const std::string& source, std::vector<std::string>& problems);

// The config as a trainer config file (dotted keys, every field): what `apply_toml_file` reads
// back to the same config. A sweep hands each trial's child process this file.
std::string trial_toml_text(const core::TrialConfig& config);

// Reads a trainer config file onto `config`; ConfigError listing every problem with file and line.
void apply_toml_file(core::TrialConfig& config, const std::string& path);

}  // namespace trm::sweep
