#include "launcher/submit_verb.h"

#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "launcher/sbatch_script.h"
#include "launcher/slurm_command.h"
#include "storage/results_reader.h"
#include "storage/storage_error.h"
#include "sweep/expand.h"
#include "sweep/spec.h"

namespace fs = std::filesystem;

namespace trm::launcher {

std::string submit_option_list() {
  std::string list;
  SubmitOptions o;
  SubmitOptions::visit_options(o, [&](const char* flags, auto&, const char*) {
    if (!list.empty()) list += ", ";
    list += flags;
  });
  return list;
}

namespace {

std::string absolute(const std::string& path) {
  return fs::absolute(path).lexically_normal().string();
}

// An existing results file must come from the same spec: the job would fail on it otherwise.
void check_existing_results(const std::string& results, const sweep::SweepSpec& spec) {
  if (!fs::exists(results)) return;
  std::string stored_hash;
  try {
    stored_hash = storage::ResultsReader(results).header().spec_hash;
  } catch (const storage::StorageError&) {
    return;  // unclean stop: the job's `run` rebuilds it from its journal and checks it then
  }
  if (stored_hash != spec.hash) {
    throw ConfigError(results + " was made by another sweep spec; `trm-sweep resume " + results +
                      "` continues the stored one, or choose another -o");
  }
}

}  // namespace

int submit_verb(SubmitOptions o, const std::vector<std::string>& unparsed, std::ostream& out) {
  for (const auto& arg : unparsed) {
    if (arg.starts_with("-")) {
      throw ConfigError("submit: unknown option " + arg +
                        "; valid options: " + submit_option_list());
    }
    throw ConfigError("submit: unexpected argument '" + arg + "' (one SPEC.toml only)");
  }
  if (o.spec.empty()) throw ConfigError("submit: the sweep spec (SPEC.toml) is required");
  if (o.results.empty()) throw ConfigError("submit: -o RESULTS.h5 is required");
  if (!fs::is_regular_file(o.spec)) throw ConfigError("submit: no sweep spec at " + o.spec);
  o.spec = absolute(o.spec);
  o.results = absolute(o.results);
  if (!o.log.empty()) o.log = absolute(o.log);
  const fs::path folder = fs::path(o.results).parent_path();
  if (!fs::is_directory(folder)) {
    throw ConfigError("-o " + o.results + ": the folder " + folder.string() + " does not exist");
  }
  const auto spec = sweep::parse_spec_file(o.spec);
  if (o.array > 0) {
    // The tasks' files are resumed like -o is for the MPI job; -o itself is merge's output.
    if (fs::exists(o.results)) {
      throw ConfigError("-o " + o.results + " exists: with --array the tasks write " +
                        task_results_path(o.results, "K") + " and `trm-sweep merge` makes " +
                        o.results + "; choose another -o, or remove it to merge again");
    }
    for (int64_t k = 0; k < o.array; ++k) {
      check_existing_results(task_results_path(o.results, std::to_string(k)), spec);
    }
  } else {
    check_existing_results(o.results, spec);
  }

  SbatchContext context;
  context.trm = fs::read_symlink("/proc/self/exe").string();
  context.sweep_name = spec.sweep.name;
  context.trials = static_cast<int64_t>(sweep::expand(spec).trials.size());
  o = validated(o, context);
  const std::string script = render_sbatch(o, context);
  if (o.dry_run) {
    out << script;
    return 0;
  }

  // Kept beside the results: what ran, and what to sbatch again by hand.
  const std::string script_path = o.results + ".sbatch";
  {
    std::ofstream f(script_path, std::ios::trunc);
    f << script;
    if (!f.flush()) throw ConfigError("submit: cannot write " + script_path);
  }
  const auto r = run_command({"sbatch", "--parsable", script_path});
  if (r.exit_code == 127) {
    throw ConfigError("submit: sbatch not found; run submit on a SLURM login node (or --dry-run)");
  }
  if (r.exit_code != 0) {
    throw ConfigError("submit: sbatch failed (exit " + std::to_string(r.exit_code) +
                      "): " + r.output);
  }
  // --parsable: "JOBID" or "JOBID;CLUSTER" on the last line.
  std::string job = r.output;
  while (!job.empty() && (job.back() == '\n' || job.back() == ' ')) job.pop_back();
  job = job.substr(job.find_last_of('\n') + 1);
  job = job.substr(0, job.find(';'));
  if (o.array == 0) {
    out << "submitted job " << job << ": sweep " << spec.sweep.name << ", " << context.trials
        << " trials -> " << o.results << "\n"
        << "log: " << log_path_of(o, job) << "\n"
        << "script: " << script_path << "\n";
    return 0;
  }
  const std::string tasks = o.array == 1 ? "0" : "{0.." + std::to_string(o.array - 1) + "}";
  std::string merge = shell_quote(context.trm) + " merge " + shell_quote(o.results);
  for (int64_t k = 0; k < o.array; ++k) {
    merge.append(" ").append(shell_quote(task_results_path(o.results, std::to_string(k))));
  }
  out << "submitted job array " << job << ": sweep " << spec.sweep.name << ", " << context.trials
      << " trials in " << o.array << " tasks -> " << task_results_path(o.results, tasks) << "\n"
      << "logs: " << log_path_of(o, job, tasks) << "\n"
      << "script: " << script_path << "\n"
      << "when every task has finished (squeue -j " << job << " lists none), merge them:\n"
      << merge << "\n";
  return 0;
}

}  // namespace trm::launcher
