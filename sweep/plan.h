// `plan`: what a sweep will cost before anything runs — per trial its steps, FLOPs, time on the
// chosen device, predicted peak memory and OOM flag; totals and the makespan on R ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/cost_model.h"
#include "sweep/expand.h"

namespace trm::sweep {

struct PlanOptions {
  core::MemoryDevice device = core::MemoryDevice::cpu;
  double memory_bytes = 0;  // the device's memory; the spec's memory_budget lowers it
  double gflops = 1;        // sustained training throughput, GFLOP/s (measured or given)
  int64_t ranks = 1;        // workers the makespan is computed for
};

struct PlannedTrial {
  const Trial* trial = nullptr;
  int64_t steps = 0;       // optimizer steps
  double step_flops = 0;   // one training step
  double total_flops = 0;  // all steps and every evaluation
  double seconds = 0;      // total_flops / throughput
  core::MemoryEstimate memory;
  bool oom = false;  // predicted peak above the limit
};

struct Plan {
  std::string sweep;
  std::vector<PlannedTrial> trials;
  PlanOptions options;
  double memory_limit = 0;  // min(device memory, spec budget)
  double total_flops = 0;
  double device_seconds = 0;    // trials that would run (not skipped as predicted OOM)
  double makespan_seconds = 0;  // longest-first greedy over `ranks` workers
  int64_t oom_count = 0;
  bool skip_oom = true;
};

Plan make_plan(const SweepSpec& spec, const Expansion& expansion, const PlanOptions& options);

// Optimizer steps of a trial from its data config (Sudoku: one example per puzzle).
int64_t trial_steps(const core::TrialConfig& c);

// "text" (a table and totals), "csv" (one row per trial) or "json".
std::string format_plan(const Plan& plan, const std::string& format);

std::string format_bytes(double bytes);      // "1.23 GiB"
std::string format_seconds(double seconds);  // "1h02m", "3m05s", "12s"

}  // namespace trm::sweep
