// `trm-sweep train`: one trial, alone or as the child process of a sweep worker. Trains with a
// live progress line, writes metrics and checkpoints into --out, resumes from its checkpoint.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "core/trial_config.h"

namespace trm::launcher {

// Exit codes of `train` beyond run_guarded's 2 (user error) and 3 (bug).
inline constexpr int kExitOutOfMemory = 4;  // the trial ran out of memory (a result, not a crash)
inline constexpr int kExitStopped = 5;      // stopped early by a signal or --stop-at; resumable

struct TrainOptions {
  std::string out_dir;            // checkpoint.pt, metrics.jsonl, weights.pt
  std::string device = "cpu";     // cpu, cuda, cuda:N
  int64_t threads = 0;            // LibTorch intra-op threads; 0 = the cores this process may use
  int64_t memory_budget = 0;      // bytes of heap (CPU) the trial may use; 0 = no limit
  int64_t stop_at_step = 0;       // stop with a checkpoint after this step; 0 = run to the end
  int64_t checkpoint_every = 0;   // steps between checkpoints (also after each evaluation)
  double progress_seconds = 2.0;  // seconds between progress lines
};

// The LibTorch version this binary was built with.
std::string torch_version();

// Peak resident memory of this process so far (getrusage), in bytes.
int64_t peak_rss_bytes();

// The heap limit (bytes) a CPU run given no --memory-budget gets: 0 (none) while its predicted
// peak fits in what it holds now (`rss`) plus 90% of what the machine has free (`available`,
// MemAvailable); else that sum, so that the run fails its allocation and ends as out of memory
// (exit 4) instead of meeting the kernel's OOM killer. 0 too when `available` is unknown (<= 0).
int64_t default_cpu_memory_limit(double predicted_peak, int64_t rss, int64_t available);

// CPU cores this process may run on (its affinity mask: taskset, SLURM's binding).
int64_t usable_cores();

// CUDA devices this process sees (CUDA_VISIBLE_DEVICES applies); 0 without CUDA.
int64_t cuda_device_count();

// Runs (or resumes) the trial; progress on `progress`, the final evaluation as the last line of
// `out`, ending in "exact_accuracy=<value>". Returns 0, kExitStopped; throws on errors.
int train_verb(const core::TrialConfig& config, const TrainOptions& options, std::ostream& out,
               std::ostream& progress);

struct EvalOptions {
  std::string weights;         // weights.pt of `train`, or a reference checkpoint (state_dict)
  std::string device = "cpu";  // cpu, cuda, cuda:N
  int64_t threads = 0;         // LibTorch intra-op threads; 0 = the cores this process may use
  std::string submission;      // ARC: write submission.json here (a new file); "" = none
};

// Evaluates `weights` on the config's test split, as training evaluates (every test example, all
// N_sup steps, from a fresh carry). Prints one line ending in "exact_accuracy=<value>" and
// returns 0; throws DataError when the weights do not fit the config's model.
int eval_verb(const core::TrialConfig& config, const EvalOptions& options, std::ostream& out);

// Installs SIGTERM, SIGINT and SIGUSR1 handlers that ask a running train_verb to checkpoint and
// stop (SLURM sends USR1 before the time limit).
void install_stop_signals();
// Whether one of those signals has come.
bool stop_requested();

}  // namespace trm::launcher
