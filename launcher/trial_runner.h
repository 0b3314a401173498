// One trial slot of a rank: runs an assignment (normally `trm-sweep train` as a child process)
// and reports its metrics lines and how it ended. The same class serves the coordinator's own
// slots and every worker rank, and the assignment and outcome travel over MPI as text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/trial_config.h"
#include "launcher/trial_process.h"

namespace trm::launcher {

// What a slot does with a trial. `train` is the real thing; the others exist for the scheduling
// benchmarks: `noop` ends at once without a child, `exec` starts a child that exits at once (the
// cost of a child process alone), `sleep` waits the assignment's sleep_seconds.
enum class TrialKind { train, noop, exec, sleep };
TrialKind parse_trial_kind(const std::string& text);  // ConfigError listing the kinds

struct Assignment {
  int64_t index = -1;
  core::TrialConfig config;
  TrialLaunch launch;  // dir, memory budget, checkpoint interval; threads/device set by the slot
  TrialKind kind = TrialKind::train;
  double sleep_seconds = 0;
};

std::string encode(const Assignment& a);
Assignment decode_assignment(const std::string& text);
std::string encode(const TrialOutcome& o);
TrialOutcome decode_outcome(const std::string& text);

class TrialRunner {
 public:
  TrialRunner();
  ~TrialRunner();
  TrialRunner(TrialRunner&&) noexcept;
  TrialRunner& operator=(TrialRunner&&) noexcept;

  bool busy() const;
  int64_t index() const { return index_; }
  void start(const Assignment& assignment);
  // Asks the trial to checkpoint and stop; kill_now() ends it at once (SIGKILL).
  void request_stop();
  void kill_now();
  // New complete metrics lines since the last call; true once the trial has ended, with
  // *outcome filled (the lines it wrote last are returned by that same call).
  bool poll(std::vector<std::string>& lines, TrialOutcome* outcome);

 private:
  int64_t index_ = -1;
  TrialKind kind_ = TrialKind::train;
  double until_ = 0;  // sleep: when it ends
  bool stop_ = false;
  std::unique_ptr<TrialProcess> process_;
  std::string start_error_;  // the trial could not start (its folder, fork): poll() reports it
};

}  // namespace trm::launcher
