// The verbs that read sweep specs: `plan` (and, with the launcher issue, `run`). They need the
// sweep library (TOML), so they are not part of the core-only build.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "core/trial_config.h"

namespace trm::launcher {

struct PlanCli {
  std::string device = "cpu";  // cpu | cuda
  std::string memory;          // device memory, e.g. 48G (default on cpu: this machine's RAM)
  double gflops = 0;           // training throughput; 0 = measured (cpu) or assumed (cuda)
  int64_t ranks = 1;
  std::string format = "text";
};

// `plan SPEC`: expands the spec and prints every trial's predicted cost, memory and OOM flag;
// warnings and duplicate cells go to `err`.
int plan_verb(const std::string& spec_path, const PlanCli& options, std::ostream& out,
              std::ostream& err);

// The resolved config of trial `index` of a spec (what a sweep worker trains).
core::TrialConfig spec_trial_config(const std::string& spec_path, int64_t index);

}  // namespace trm::launcher
