// The options of `trm-sweep submit`, in one typed struct: its visitor lists every command-line
// option once (flag, member, help), so the CLI, the "valid options" message and the tests agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trm::launcher {

struct SubmitOptions {
  std::string spec;                       // sweep spec (TOML), positional
  std::string results;                    // -o: the HDF5 results file; an existing one is resumed
  int64_t nodes = 1;                      // N: nodes of the job
  int64_t gpus_per_node = 0;              // G: GPUs per node, one rank each; 0 = a CPU job
  int64_t tasks_per_node = 0;             // ranks per node; 0 = G on GPU nodes, 1 on CPU nodes
  int64_t cpus_per_task = 1;              // C: cores per rank (a CPU rank's trials share them)
  std::string time = "01:00:00";          // time limit: [D-]HH:MM:SS, MM:SS or minutes
  int64_t grace = 120;                    // seconds before the limit that USR1 arrives
  int64_t max_requeues = 10;              // times the job may requeue itself after a USR1
  std::string partition;                  // -p; empty = the cluster's default
  std::string account;                    // -A
  std::string qos;                        // --qos
  std::string mem;                        // memory per node, e.g. 64G; empty = the site default
  std::string constraint;                 // node features, e.g. a100|h100
  std::string job_name;                   // empty = trm-<sweep name>
  std::string log;                        // empty = RESULTS.slurm-%j.log (appended across requeues)
  std::string mpi = "pmix";               // srun --mpi: the site's PMI plugin (pmix, pmi2, ...)
  std::vector<std::string> extra_sbatch;  // more directives, e.g. "--exclusive --gres=foo:1"
  int64_t array = 0;                      // a job array of this many one-node tasks, task K running
                                          // shard K/N into RESULTS.taskK.h5; 0 = one MPI job
  bool dry_run = false;                   // print the script, submit nothing

  // v(flag, member, help) for every option of the command line (not the positional spec).
  template <class Self, class Visitor>
  static void visit_options(Self& s, Visitor&& v) {
    v("-o,--out", s.results, "results file (HDF5); an existing one of the same spec is resumed");
    v("--nodes", s.nodes, "nodes (N)");
    v("--gpus-per-node", s.gpus_per_node, "GPUs per node (G), one rank each; 0 = CPU nodes");
    v("--tasks-per-node", s.tasks_per_node, "ranks per node (default: G, or 1 on CPU nodes)");
    v("--cpus-per-task", s.cpus_per_task, "cores per rank (C)");
    v("--time", s.time, "time limit: [D-]HH:MM:SS, MM:SS or minutes");
    v("--grace", s.grace, "seconds before the time limit that USR1 asks the sweep to stop");
    v("--max-requeues", s.max_requeues, "times the job requeues itself after the warning");
    v("--partition", s.partition, "partition (-p)");
    v("--account", s.account, "account to charge (-A)");
    v("--qos", s.qos, "quality of service");
    v("--mem", s.mem, "memory per node, e.g. 64G");
    v("--constraint", s.constraint, "node features, e.g. 'a100|h100'");
    v("--job-name", s.job_name, "job name (default: trm-<sweep name>)");
    v("--log", s.log, "job log (default: RESULTS.slurm-%j.log); %j = job id");
    v("--mpi", s.mpi,
      "srun's MPI plugin (`srun --mpi=list` shows the site's); Debian's OpenMPI needs pmix");
    v("--extra-sbatch", s.extra_sbatch, "more #SBATCH directives, e.g. '--exclusive' (repeatable)");
    v("--array", s.array,
      "a job array of N one-node tasks, each running every N-th trial into its own file "
      "(RESULTS.taskK.h5); join them with `trm-sweep merge`");
    v("--dry-run", s.dry_run, "print the sbatch script, submit nothing");
  }
};

// "--nodes, --gpus-per-node, ...": every valid option, for the unknown-option message.
std::string submit_option_list();

}  // namespace trm::launcher
