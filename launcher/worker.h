// A worker rank (rank > 0 under mpirun/srun): pulls trials from the coordinator, runs each in a
// child process, streams its metrics lines and its outcome back, and sends heartbeats.
#pragma once

#include <cstdint>
#include <string>

#include "launcher/mpi_session.h"

namespace trm::launcher {

// How one rank runs its trials on its node.
struct RankSetup {
  int64_t threads = 1;         // LibTorch threads of each child
  std::string device = "cpu";  // "cpu" or "cuda:K"
  double heartbeat_seconds = 2;
};

// Threads for each of `runners` trial-running ranks of a node: SLURM_CPUS_PER_TASK when set,
// else the affinity mask when the launcher bound this rank to fewer cores than the node has,
// else the node's cores shared out among its runners.
int64_t rank_threads(int runners);
// `device` ("cpu", "cuda" or "cuda:K") for the runner_index-th trial-running rank of its node:
// plain "cuda" becomes cuda:(runner_index mod visible GPUs). ConfigError when no GPU is visible.
std::string rank_device(const std::string& device, int runner_index);

std::string host_name();

// A monotonic clock, in seconds: the launcher's timeouts and pauses.
double steady_seconds();

// Stop signals as a user means them: the first asks the running trials to checkpoint and stop;
// one more ends them at once, unless it came within `window` seconds of the first. One scancel
// or preemption reaches a step's tasks several times at once (SLURM's own SIGTERM, srun's
// forwarded SIGTERM, the batch script's USR1): counted as one, so the trials still checkpoint.
class StopSignals {
 public:
  explicit StopSignals(double window = 1.0) : window_(window) {}
  enum class Act { none, stop, kill };
  // `delivered`: the signals counted by the handler so far; `now`: steady_seconds().
  Act update(int delivered, double now);

 private:
  double window_;
  int seen_ = 0;
  double first_at_ = -1;
  bool killed_ = false;
};

// Serves the coordinator until it says exit; returns the process exit code (0).
int run_worker(MpiSession& mpi, const RankSetup& setup);

// Pause of the polling loops: none right after something happened, then doubling up to a cap:
// a small one for a short while after the last activity (a reply is likely soon), a larger one
// after. MPI messages are seen only when the receiver polls, so the cap bounds their latency.
class Backoff {
 public:
  void reset();
  void wait(int64_t slow_cap_micros);

 private:
  static constexpr int64_t kFastCapMicros = 200;
  static constexpr double kFastWindowSeconds = 0.2;
  int64_t micros_ = 0;
  double last_reset_ = 0;
};

}  // namespace trm::launcher
