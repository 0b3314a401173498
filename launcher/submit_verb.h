// `trm-sweep submit SPEC -o RESULTS.h5 --nodes N --gpus-per-node G ...`: renders slurm/sweep.sbatch
// (one srun step of N x ranks-per-node ranks, requeued on the time-limit warning) and sbatches it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "launcher/submit_options.h"

namespace trm::launcher {

// `unparsed`: what the command line left over (an unknown option is a ConfigError that lists
// the valid ones). With dry_run prints the script; otherwise writes it to RESULTS.sbatch, runs
// `sbatch --parsable` on it and prints the job id and the log path. 0 on success.
int submit_verb(SubmitOptions options, const std::vector<std::string>& unparsed, std::ostream& out);

// The MPI plugin names in the output of `srun --mpi=list` (indented names, and the versions after
// "available:"); empty for output of another form.
std::vector<std::string> srun_mpi_plugins(const std::string& listing);

}  // namespace trm::launcher
