// Expansion of a sweep spec into trials (DESIGN.md "Trials"): deterministic and pure. Each trial
// has a stable index, a name, its seed, and an id = hash of its canonical resolved config, so
// the same cell has the same id whatever file, key order or explicit defaults wrote it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/trial_config.h"
#include "sweep/spec.h"

namespace trm::sweep {

struct Trial {
  int64_t index = 0;    // position in the sweep, 0-based
  std::string name;     // variant name, "base", or the axis values ("h_cycles=3 l_cycles=6")
  std::string variant;  // the variant's name, "" for grid cells and the base
  std::vector<std::pair<std::string, std::string>> settings;  // what the cell sets on the base
  int64_t seed = 0;                                           // train.seed
  core::TrialConfig config;                                   // fully resolved
  std::string id;                                             // stable_hash(canonical_text(config))
};

struct Expansion {
  std::vector<Trial> trials;
  std::vector<std::string> duplicates;  // cells equal to an earlier one: run once, reported
  std::vector<std::string> warnings;    // e.g. an exclude rule that matches no cell
};

// Cells: the [grid] x [[zip]] product applied to [base] (the base alone when there are no axes),
// then each [[variant]] applied to [base]; [[exclude]] drops cells; each cell runs once per seed.
// ConfigError listing every invalid trial (with its name) at once.
Expansion expand(const SweepSpec& spec);

std::string trial_id(const core::TrialConfig& config);

}  // namespace trm::sweep
