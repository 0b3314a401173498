#include "launcher/submit_verb.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "launcher/sbatch_script.h"
#include "launcher/slurm_command.h"
#include "storage/results_reader.h"
#include "storage/results_writer.h"
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

bool has_hdf5_signature(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof head);
  return in.gcount() == 8 && std::string_view(head, 8) == std::string_view("\x89HDF\r\n\x1a\n", 8);
}

// The trial ids an existing results file of this spec holds; nullopt when there is no file, or
// it cannot be read now (an unclean stop: the job's `run` rebuilds it from its journal and
// checks it then). Whatever the job would refuse in the queue is refused here, before sbatch: a
// folder, a file that is no results file, a file of another spec, one that a sweep writes now.
std::optional<std::set<std::string>> check_existing_results(const std::string& results,
                                                            const sweep::SweepSpec& spec) {
  std::error_code ec;
  const auto status = fs::status(results, ec);
  if (!fs::exists(status)) return std::nullopt;
  if (fs::is_directory(status)) {
    throw ConfigError("-o " + results + " is a folder, not a results file; name a file in it, " +
                      "e.g. -o " + (fs::path(results) / "results.h5").string());
  }
  if (!fs::exists(storage::journal_path(results)) && !has_hdf5_signature(results)) {
    throw ConfigError("-o " + results + " exists and is not a trm-sweep results file (not HDF5): " +
                      "nothing was submitted; choose another -o");
  }
  if (storage::results_writer_holds_lock(results)) {
    throw ConfigError("-o " + results +
                      ": a trm-sweep process is writing it now (a running job?); " +
                      "submit again once it has ended (`trm-sweep status " + results +
                      "` shows it), or choose another -o");
  }
  std::optional<std::set<std::string>> ids;
  std::string stored_hash;
  try {
    storage::ResultsReader reader(results);
    stored_hash = reader.header().spec_hash;
    ids.emplace();
    for (const auto& row : reader.trials()) ids->insert(row.id);
  } catch (const storage::StorageError&) {
    return std::nullopt;
  }
  if (stored_hash != spec.hash) {
    throw ConfigError(results + " was made by another sweep spec; `trm-sweep resume " + results +
                      "` continues the stored one, or choose another -o");
  }
  return ids;
}

// The trial ids of array task k of n: every n-th trial of the spec's order from the k-th, as
// `run --shard k/n` takes them.
std::set<std::string> shard_ids(const sweep::Expansion& expansion, int64_t k, int64_t n) {
  std::set<std::string> ids;
  for (size_t i = static_cast<size_t>(k); i < expansion.trials.size(); i += static_cast<size_t>(n))
    ids.insert(expansion.trials[i].id);
  return ids;
}

// Task files of an earlier --array submission with another task count would be run as shards
// they are not (a task fails in the queue, or runs its trials again from scratch in another
// file): refused, naming the count the files were made with where it can be told.
void check_task_files(const std::string& results, int64_t tasks, const sweep::SweepSpec& spec,
                      const sweep::Expansion& expansion) {
  const auto total = static_cast<int64_t>(expansion.trials.size());
  for (int64_t k = 0; k < std::max(tasks, total); ++k) {
    const std::string path = task_results_path(results, std::to_string(k));
    const auto ids = check_existing_results(path, spec);
    if (!fs::exists(path)) continue;
    const bool other_count = k >= tasks || (ids && *ids != shard_ids(expansion, k, tasks));
    if (!other_count) continue;
    std::string made_with;
    for (int64_t n = 2; ids && n <= total; ++n) {
      if (k < n && *ids == shard_ids(expansion, k, n)) {
        made_with = " (it holds task " + std::to_string(k) + " of " + std::to_string(n) +
                    ": submit with --array " + std::to_string(n) + " to resume those files)";
        break;
      }
    }
    throw ConfigError("--array " + std::to_string(tasks) + ": " + path +
                      " is not the file of task " + std::to_string(k) + " of " +
                      std::to_string(tasks) + made_with +
                      "; nothing was submitted. Or choose another -o");
  }
}

// The trm-sweep binary the job will run: this one. A binary replaced or deleted while it runs
// reads back as "PATH (deleted)".
std::string this_binary() {
  std::string path = fs::read_symlink("/proc/self/exe").string();
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) {
    path.resize(path.size() - kDeleted.size());
    if (!fs::is_regular_file(path)) {
      throw ConfigError("submit: this trm-sweep binary was deleted while it ran (" + path +
                        " is gone); the job could not start it. Run submit from the installed one");
    }
  }
  return path;
}

// srun's MPI plugins, when srun is here to say (`srun --mpi=list`): a typo fails at submit, not
// in the queue as "sweep exited 1". The listing (SLURM 20-23): a heading line, one indented
// plugin name a line, then "specific pmix plugin versions available: pmix_v4[,pmix_v5]".
void check_mpi_plugin(const std::string& mpi) {
  const auto r = run_command({"srun", "--mpi=list"});
  if (r.exit_code != 0) return;  // no srun here (a --dry-run elsewhere): the job's srun decides
  const auto names = srun_mpi_plugins(r.output);
  // A listing of another form (no plugin found in it) decides nothing.
  if (names.empty() || std::find(names.begin(), names.end(), mpi) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw ConfigError("submit: --mpi " + mpi +
                    ": srun here has no such MPI plugin (srun --mpi=list: " + list + ")");
}

}  // namespace

std::vector<std::string> srun_mpi_plugins(const std::string& listing) {
  std::vector<std::string> names;
  auto add = [&](const std::string& name) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(name);
  };
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    const auto available = line.find("available:");
    if (!line.empty() && (line[0] == '\t' || line[0] == ' ')) {
      std::istringstream words(line);
      std::string name;
      if (words >> name) add(name);
    } else if (available != std::string::npos) {
      std::string rest = line.substr(available + 10);
      std::replace(rest.begin(), rest.end(), ',', ' ');
      std::istringstream words(rest);
      for (std::string name; words >> name;) add(name);
    }
  }
  return names;
}

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
  if (!o.log.empty()) {
    // SLURM creates no folder for the log: the job would fail at launch, without a log to say so.
    const std::string log_folder = fs::path(o.log).parent_path().string();
    if (log_folder.find('%') == std::string::npos && !fs::is_directory(log_folder)) {
      throw ConfigError("--log " + o.log + ": the folder " + log_folder +
                        " does not exist (SLURM does not create it, and the job would fail "
                        "without a log)");
    }
  }
  const auto spec = sweep::parse_spec_file(o.spec);
  const auto expansion = sweep::expand(spec);
  if (o.array > 0) {
    // The tasks' files are resumed like -o is for the MPI job; -o itself is merge's output.
    if (fs::exists(o.results)) {
      throw ConfigError("-o " + o.results + " exists: with --array the tasks write " +
                        task_results_path(o.results, "K") + " and `trm-sweep merge` makes " +
                        o.results + "; choose another -o, or remove it to merge again");
    }
    check_task_files(o.results, o.array, spec, expansion);
  } else {
    check_existing_results(o.results, spec);
  }

  SbatchContext context;
  context.trm = this_binary();
  context.sweep_name = spec.sweep.name;
  context.spec_text = spec.text;
  context.trials = static_cast<int64_t>(expansion.trials.size());
  o = validated(o, context);
  check_mpi_plugin(o.mpi);
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
    // The script carries the spec's text: past SLURM's max_script_size (4 MB by default) sbatch
    // answers with a message that does not say so.
    const std::string size_hint =
        script.size() > (size_t{1} << 20)
            ? " (the script is " + std::to_string(script.size() >> 20) +
                  " MiB, with the spec's text in it: SLURM refuses scripts over its "
                  "max_script_size, 4 MB by default; shorten the spec, e.g. its comments)"
            : "";
    throw ConfigError("submit: sbatch failed (exit " + std::to_string(r.exit_code) +
                      "): " + r.output + size_hint);
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
