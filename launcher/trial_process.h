// One trial as a child process (DESIGN.md "Process model"): `trm-sweep train` on the trial's
// resolved config, in its own folder, so a crash or an out-of-memory kill ends that trial only.
// The parent follows its metrics file and classifies how it ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/trial_config.h"

namespace trm::launcher {

struct TrialLaunch {
  std::string dir;      // config.toml, checkpoint, metrics.jsonl, stdout/stderr logs
  int64_t threads = 1;  // LibTorch threads of the child
  std::string device = "cpu";
  int64_t memory_budget = 0;     // bytes; 0 = none
  int64_t checkpoint_every = 0;  // steps; 0 = at evaluations
};

enum class TrialEnd { done, oom, interrupted, failed };

struct TrialOutcome {
  TrialEnd end = TrialEnd::failed;
  int64_t peak_rss_bytes = -1;
  std::string error;  // exit code or signal, and the last lines of stderr
};

class TrialProcess {
 public:
  // Writes dir/config.toml and starts the child (the current executable's `train`).
  TrialProcess(const core::TrialConfig& config, const TrialLaunch& launch);
  // The current executable with `args` instead of `train` (the benchmarks' child-start cost).
  TrialProcess(const TrialLaunch& launch, const std::vector<std::string>& args);
  ~TrialProcess();  // a child still running is killed: a trial never outlives its slot
  TrialProcess(const TrialProcess&) = delete;
  TrialProcess& operator=(const TrialProcess&) = delete;
  pid_t pid() const { return pid_; }
  // Asks the child to checkpoint and stop (SIGTERM).
  void request_stop();
  // Ends the child at once (SIGKILL): a second Ctrl-C.
  void kill_now();
  // Metrics lines appended since the last call (complete lines only), raw or parsed.
  void read_metric_lines(std::vector<std::string>& lines);
  void read_metrics(std::vector<core::TrainRecord>& train, std::vector<core::EvalRecord>& eval);
  // Non-blocking: true once the child has exited, with *outcome filled.
  bool poll(TrialOutcome* outcome);

 private:
  void spawn(std::vector<std::string> args);

  TrialLaunch launch_;
  pid_t pid_ = -1;
  bool killed_ = false;     // kill_now() sent its SIGKILL: the end is ours, not an OOM or a crash
  bool stop_sent_ = false;  // request_stop() sent its SIGTERM
  int64_t oom_kills_at_start_ = -1;  // the cgroup's OOM-kill count when the child started
  int64_t stderr_from_ = 0;          // where this attempt's lines begin in stderr.log
  int64_t metrics_offset_ = 0;
  ino_t metrics_inode_ = 0;  // of the metrics file read so far (the child replaces it on resume)
  std::string partial_;
};

// Processes the kernel's OOM killer has ended in this process's memory cgroup (which its
// children share): "oom_kill N" of memory.events (cgroup v2) or memory.oom_control (v1, kernel
// 4.13+), under `root` as /proc/self/cgroup places it, else at the root of the mount (a
// container sees its own cgroup there). -1 when no such file can be read.
int64_t cgroup_oom_kills(const std::string& root = "/sys/fs/cgroup",
                         const std::string& proc_cgroup = "/proc/self/cgroup");

// "train" / "eval" records of one metrics.jsonl line; false for anything else.
bool parse_metrics_line(const std::string& line, core::TrainRecord* train, core::EvalRecord* eval,
                        bool* is_train);

}  // namespace trm::launcher
