// `trm-sweep run SPEC -o RESULTS.h5`, `resume RESULTS.h5` and `status RESULTS.h5`: a whole sweep
// on this machine, each trial a child process, every result in the one HDF5 file. (The MPI
// coordinator/worker mode is the launcher issue's next step; this is its one-process default.)
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace trm::launcher {

struct RunOptions {
  std::string spec;     // sweep spec (run); empty for resume (the stored spec is used)
  std::string results;  // the HDF5 results file
  int64_t jobs = 1;     // trials at once; each gets cores / jobs threads
  std::string device = "cpu";
  bool extend = false;  // allow a changed spec on an existing file: add its new cells
};

// Exit: 0 when every trial has a final status, kExitStopped when a signal stopped the sweep
// (trials interrupted and checkpointed; `resume` continues), 1 when some trial failed.
int run_verb(const RunOptions& options, std::ostream& out, std::ostream& err);

// `status RESULTS.h5 [--format json] [--watch SECONDS]`: with watch > 0 the report is redrawn
// every `watch` seconds until no trial is pending or running.
int status_verb(const std::string& results, const std::string& format, double watch_seconds,
                std::ostream& out);

}  // namespace trm::launcher
