// `trm-sweep run SPEC -o RESULTS.h5`, `resume RESULTS.h5` and `status RESULTS.h5`: a sweep's
// trials, each a child process, every result in the one HDF5 file (DESIGN.md "Process model").
//
// Alone, one process runs `--jobs` trials at once. Under mpirun/srun, rank 0 is the coordinator
// (the queue and the only writer of the file) and ranks 1..P-1 are workers that pull trials,
// longest predicted first, and stream their metrics and outcomes back over MPI; with
// --coordinator-works rank 0 runs trials too. Same code, same file.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace trm::launcher {

struct RunOptions {
  std::string spec;                // sweep spec (run); empty for resume (the stored spec is used)
  std::string results;             // the HDF5 results file
  int64_t jobs = 1;                // trials at once without MPI; each gets cores / jobs threads
  std::string device = "cpu";      // cpu, or cuda: each rank binds one GPU of its node
  bool extend = false;             // allow a changed spec on an existing file: add its new cells
  bool retry_failed = false;       // resume: run the failed trials again (`retries` more times)
  bool from_journal = false;       // resume: rebuild from the journal a file that leads it
  int64_t shard_index = 0;         // --shard K/N: only every N-th trial from the K-th (job arrays;
  int64_t shard_count = 1;         // `trm-sweep merge` joins the shards' files)
  bool coordinator_works = false;  // under MPI, rank 0 also runs one trial at a time
  double heartbeat_seconds = 2;    // a worker's sign of life while it runs a trial
  double worker_timeout = 120;     // a worker silent this long is lost; its trial goes elsewhere
  // Scheduling benchmarks only (hidden options): what a trial does and how work is handed out.
  std::string trial_kind = "train";  // train | noop | exec | sleep
  double sleep_per_step = 0;         // sleep: seconds per planned step of the trial
  std::string schedule = "dynamic";  // dynamic (pull, longest first) | static (round-robin)
};

// Exit: 0 when every trial has a final status, kExitStopped when a signal stopped the sweep or a
// trial was interrupted (`resume` continues), 1 when some trial of the sweep has failed after its
// retries (in this run or an earlier one: `resume --retry-failed` runs them again).
int run_verb(const RunOptions& options, std::ostream& out, std::ostream& err);

// `status RESULTS.h5 [--format json] [--watch SECONDS]`: with watch > 0 the report is redrawn
// every `watch` seconds until no trial is pending or running.
int status_verb(const std::string& results, const std::string& format, double watch_seconds,
                std::ostream& out);

}  // namespace trm::launcher
