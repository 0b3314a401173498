// Runs a SLURM client command (sbatch, scontrol) and captures what it prints: the one place that
// starts them, so that tests can put stand-ins first on PATH.
#pragma once

#include <string>
#include <vector>

namespace trm::launcher {

struct CommandResult {
  int exit_code = -1;  // 127: not found
  std::string output;  // stdout and stderr together
};

// Runs argv[0] (looked up on PATH) with its arguments, each passed as one word. With a
// timeout_s, a command still running then is ended (coreutils' timeout: TERM, KILL 5 s later)
// and exit_code is 124: a slurmctld that does not answer must not hang `status`.
CommandResult run_command(const std::vector<std::string>& argv, int timeout_s = 0);

}  // namespace trm::launcher
