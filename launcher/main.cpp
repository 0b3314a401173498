// trm-sweep: the composition root. Parses the command line and dispatches to the verbs; user
// errors become one clear line on stderr and exit code 2, bugs exit code 3.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "core/parity.h"
#include "launcher/core_verbs.h"
#include "launcher/export_verb.h"
#include "launcher/merge_verb.h"
#include "launcher/mpi_session.h"
#include "launcher/run_verb.h"
#include "launcher/submit_cli.h"
#include "launcher/submit_verb.h"
#include "launcher/sweep_verbs.h"
#include "launcher/train_verb.h"
#include "storage/results_writer.h"
#include "sweep/trial_toml.h"

namespace {

// A whole number in [lo, hi], said in one line ("--threads: 0: expected a whole number from 1 to
// 4096"); CLI11's PositiveNumber printed a 300-digit bound and let 0 through its wording.
CLI::Validator whole_number(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const long long n = std::stoll(text, &used);
          if (used == text.size() && n >= lo && n <= hi) return "";
        } catch (const std::exception&) {
        }
        return text + ": expected a whole number from " + std::to_string(lo) + " to " +
               std::to_string(hi);
      },
      "INT");
}

// A finite number in [lo, hi] of `unit`.
CLI::Validator number_in(double lo, double hi, const std::string& unit) {
  return CLI::Validator(
      [lo, hi, unit](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double v = std::stod(text, &used);
          if (used == text.size() && std::isfinite(v) && v >= lo && v <= hi) return "";
        } catch (const std::exception&) {
        }
        return text + ": expected " + unit + " from " + trm::core::format_double(lo) + " to " +
               trm::core::format_double(hi);
      },
      "NUMBER");
}
CLI::Validator positive_seconds() { return number_in(1e-3, 1e7, "seconds"); }

// A path or size given as "" (an unset shell variable): an error, not the option left out.
CLI::Validator not_empty() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "an empty value (an unset shell variable?)" : "";
      },
      "TEXT");
}

// More LibTorch threads than this is a typo (100000 made 32k threads and hung the trial).
constexpr int64_t kMaxThreads = 4096;
// Steps and counts: far beyond any real sweep, well inside int64 arithmetic.
constexpr int64_t kMaxCount = int64_t{1} << 40;

// Options of `run` and `resume` for MPI jobs, and the scheduling benchmarks' hidden knobs.
void add_mpi_options(CLI::App* verb, trm::launcher::RunOptions& o) {
  verb->add_option_function<std::string>(
          "--shard",
          [&o](const std::string& text) {
            const auto slash = text.find('/');
            // Both halves whole, digits only: "1x/4" is a typo, not shard 1.
            auto whole = [](const std::string& part) {
              if (part.empty() || part.size() > 12 ||
                  part.find_first_not_of("0123456789") != std::string::npos)
                throw std::invalid_argument(part);
              return static_cast<int64_t>(std::stoll(part));
            };
            try {
              if (slash == std::string::npos) throw std::invalid_argument(text);
              o.shard_index = whole(text.substr(0, slash));
              o.shard_count = whole(text.substr(slash + 1));
            } catch (const std::exception&) {
              throw CLI::ValidationError("--shard", "expected K/N, e.g. 0/4, got " + text);
            }
          },
          "run only trials K, K+N, K+2N, ... of the spec (a SLURM job array's task); "
          "`merge` joins the shards' files")
      ->type_name("K/N");
  verb->add_flag("--coordinator-works", o.coordinator_works,
                 "under MPI, rank 0 also runs trials (default: it only coordinates)");
  verb->add_option("--heartbeat", o.heartbeat_seconds, "seconds between a worker's signs of life")
      ->check(positive_seconds())
      ->capture_default_str();
  verb->add_option("--worker-timeout", o.worker_timeout,
                   "seconds of silence after which a worker is lost and its trial runs elsewhere")
      ->check(positive_seconds())
      ->capture_default_str();
  // Benchmarks only: an empty group hides them from --help.
  verb->add_option("--trial-kind", o.trial_kind, "train, noop, exec or sleep")->group("");
  verb->add_option("--sleep-per-step", o.sleep_per_step, "sleep trials: seconds per step")
      ->group("");
  verb->add_option("--schedule", o.schedule, "dynamic or static")->group("");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trm-sweep: ablation sweeps of the Tiny Recursive Model"};
  app.require_subcommand(1);

  auto* parity = app.add_subcommand("parity", "compare the model with the reference fixtures");
  std::string fixtures_dir = trm::core::default_fixtures_dir();
  bool verbose = false;
  parity->add_option("dir", fixtures_dir, "fixture folder (default: $TRM_FIXTURES_DIR or shared/)");
  parity->add_flag("-v,--verbose", verbose, "print every compared tensor");

  auto* model = app.add_subcommand("model", "validate a model config and print its sizes");
  std::string preset = "trm";
  std::vector<std::string> model_sets;
  model->add_option("--preset", preset, "starting config")
      ->check(CLI::IsMember(trm::launcher::preset_names()));
  model->add_option("--set", model_sets, "override a field: key=value (repeatable)");

  auto* data = app.add_subcommand(
      "data", "write a generated data set in the reference's format, or check one (--inspect)");
  std::string data_config, data_out, data_inspect;
  std::vector<std::string> data_sets;
  data->add_option("--config", data_config, "TOML file of trainer keys (its [data] matters)")
      ->check(not_empty());
  data->add_option("--set", data_sets, "a data key: data.key=value (repeatable)");
  data->add_option("--out", data_out, "the folder to write (new or empty)")->check(not_empty());
  data->add_option("--inspect", data_inspect, "a data set's folder to read and check")
      ->excludes("--out")
      ->excludes("--config")
      ->excludes("--set")
      ->check(not_empty());

  auto* train = app.add_subcommand(
      "train", "train one trial; resumes from the checkpoint in --out when there is one");
  std::string config_file, memory_budget, spec_file;
  int64_t trial_index = -1;
  std::vector<std::string> train_sets;
  trm::launcher::TrainOptions options;
  train
      ->add_option("--config", config_file,
                   "TOML file of trainer keys ([model], [train], [data]); or --spec")
      ->check(not_empty());
  train->add_option("--spec", spec_file, "a sweep spec; with --trial, train that trial's config")
      ->excludes("--config")
      ->check(not_empty());
  train->add_option("--trial", trial_index, "index of the trial in --spec (see `plan`)")
      ->check(whole_number(0, kMaxCount))
      ->needs("--spec");
  train->add_option("--set", train_sets,
                    "override a key after the file: section.key=value, e.g. model.l_cycles=4");
  train->add_option("--out", options.out_dir, "folder for checkpoint, metrics and weights")
      ->required()
      ->check(not_empty());
  train->add_option("--device", options.device, "cpu, cuda or cuda:N")->capture_default_str();
  train->add_option("--threads", options.threads, "LibTorch threads (default: all cores)")
      ->check(whole_number(1, kMaxThreads));
  train
      ->add_option("--memory-budget", memory_budget,
                   "heap limit for the trial, e.g. 2G; going past it is reported as OOM")
      ->check(not_empty());
  train
      ->add_option("--stop-at", options.stop_at_step,
                   "checkpoint and stop after this step (exit 5); run again to continue")
      ->check(whole_number(1, kMaxCount));
  train
      ->add_option("--checkpoint-every", options.checkpoint_every,
                   "steps between checkpoints (also after every evaluation)")
      ->check(whole_number(1, kMaxCount));
  train
      ->add_option("--progress-seconds", options.progress_seconds, "seconds between progress lines")
      ->check(number_in(0, 86400, "seconds"))
      ->capture_default_str();

  auto* eval = app.add_subcommand(
      "eval", "evaluate weights (train's weights.pt, or a reference checkpoint) on a config");
  std::string eval_config, eval_spec;
  int64_t eval_trial = -1;
  std::vector<std::string> eval_sets;
  trm::launcher::EvalOptions eval_options;
  eval->add_option("--weights", eval_options.weights,
                   "weights.pt of `train`, or the reference's torch.save of a state_dict")
      ->required()
      ->check(not_empty());
  eval->add_option("--config", eval_config, "TOML file of trainer keys; or --spec")
      ->check(not_empty());
  eval->add_option("--spec", eval_spec, "a sweep spec; with --trial, that trial's config")
      ->excludes("--config")
      ->check(not_empty());
  eval->add_option("--trial", eval_trial, "index of the trial in --spec (see `plan`)")
      ->check(whole_number(0, kMaxCount))
      ->needs("--spec");
  eval->add_option("--set", eval_sets, "override a key after the file: section.key=value");
  eval->add_option("--device", eval_options.device, "cpu, cuda or cuda:N")->capture_default_str();
  eval->add_option("--threads", eval_options.threads, "LibTorch threads (default: all cores)")
      ->check(whole_number(1, kMaxThreads));
  eval->add_option("--submission", eval_options.submission,
                   "ARC data sets: write submission.json (two attempts per test input) to FILE, "
                   "a new file")
      ->check(not_empty());

  auto* plan = app.add_subcommand(
      "plan", "expand a sweep spec: every trial with predicted cost, memory and OOM flag");
  std::string plan_spec;
  trm::launcher::PlanCli plan_options;
  plan->add_option("spec", plan_spec, "sweep spec (TOML)")->required();
  plan->add_option("--device", plan_options.device, "cpu or cuda")->capture_default_str();
  plan->add_option("--memory", plan_options.memory,
                   "device memory, e.g. 48G (default on cpu: this machine's RAM)");
  plan->add_option("--gflops", plan_options.gflops,
                   "training throughput in GFLOP/s (default: measured on cpu)")
      ->check(number_in(1e-3, 1e9, "GFLOP/s"));
  plan->add_option("--ranks", plan_options.ranks, "workers for the makespan")
      ->check(whole_number(1, 65536))
      ->capture_default_str();
  plan->add_option("--format", plan_options.format, "text, csv or json")->capture_default_str();

  auto* run = app.add_subcommand("run", "run a sweep on this machine into one results file");
  trm::launcher::RunOptions run_options;
  run->add_option("spec", run_options.spec, "sweep spec (TOML)")->required();
  run->add_option("-o,--out", run_options.results, "results file (HDF5); continued if it exists")
      ->required();
  run->add_option("--jobs", run_options.jobs, "trials at once (each gets cores / jobs threads)")
      ->check(whole_number(1, kMaxThreads))
      ->capture_default_str();
  run->add_option("--device", run_options.device, "cpu or cuda")->capture_default_str();
  run->add_flag("--extend", run_options.extend,
                "the results file was made by another spec: add this spec's new cells");
  run->add_flag("--retry-failed", run_options.retry_failed,
                "continuing a file: run its failed trials again (the spec's retries more times)");
  add_mpi_options(run, run_options);

  auto* resume = app.add_subcommand("resume", "continue a sweep from its results file");
  trm::launcher::RunOptions resume_options;
  resume->add_option("results", resume_options.results, "results file (HDF5)")->required();
  resume->add_option("--jobs", resume_options.jobs, "trials at once")
      ->check(whole_number(1, kMaxThreads))
      ->capture_default_str();
  resume->add_option("--device", resume_options.device, "cpu or cuda")->capture_default_str();
  resume->add_flag("--from-journal", resume_options.from_journal,
                   "rebuild the results file from its journal even where the file holds more "
                   "(a power loss cut the journal short); the file is kept as .before-rebuild");
  resume->add_flag("--retry-failed", resume_options.retry_failed,
                   "run the failed trials again (the spec's retries more times each)");
  add_mpi_options(resume, resume_options);

  auto* status = app.add_subcommand("status", "progress of a sweep, also while it runs");
  std::string status_file, status_format = "text";
  status->add_option("results", status_file, "results file (HDF5)")->required();
  status->add_option("--format", status_format, "text or json")->capture_default_str();
  double status_watch = 0;
  status->add_option("--watch", status_watch, "redraw every N seconds while trials run")
      ->expected(0, 1)
      ->check(number_in(0.5, 86400, "seconds"))
      ->default_str("2");

  trm::launcher::SubmitOptions submit_options;
  auto* submit = trm::launcher::add_submit_command(app, submit_options);

  auto* exporter =
      app.add_subcommand("export", "the sweep's tables as md, csv, latex, json or html");
  trm::launcher::ExportCli export_options;
  exporter->add_option("results", export_options.results, "results file (HDF5)")->required();
  exporter->add_option("--table", export_options.tables,
                       "a [[table]] of the spec by name (repeatable; default: every table)");
  exporter->add_option("--kind", export_options.kind,
                       "a table the spec does not declare: ablation, grid or raw");
  exporter->add_option("--rows", export_options.rows, "grid: the config key of the rows");
  exporter->add_option("--cols", export_options.cols, "grid: the config key of the columns");
  auto* metric_option =
      exporter->add_option("--metric", export_options.metric,
                           "exact_accuracy (default), best_exact_accuracy, accuracy, ...");
  exporter->add_option("--format", export_options.format,
                       "md, csv, latex, json or html (default: from -o's extension, else md)");
  auto* export_out = exporter->add_option(
      "-o,--out", export_options.out,
      "write to this file (default: stdout); an existing one only with --force");
  exporter->add_flag("--force", export_options.force, "let -o replace an existing file");

  auto* merge = app.add_subcommand(
      "merge", "join the results files of one sweep's shards (submit --array tasks) into one");
  std::string merge_out;
  std::vector<std::string> merge_inputs;
  // Not ->required(): merge_verb answers a missing one in one line, exit 2, like other mistakes.
  merge->add_option("out", merge_out, "the merged results file (HDF5), new");
  merge->add_option("inputs", merge_inputs, "the shards' results files");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // Under mpirun every rank parsed the same command line: rank 0 says what is wrong, once.
    if (trm::launcher::launcher_rank() > 0) return 2;
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
      std::string verbs;
      for (const auto* verb : app.get_subcommands({}))
        verbs += (verbs.empty() ? "" : ", ") + verb->get_name();
      std::cerr << "trm-sweep: error: '" << argv[1] << "' is not a verb; valid: " << verbs << "\n";
      return 2;
    }
    // One line, exit 2, like every other mistake (CLI11's own codes were 105-109).
    std::cerr << "trm-sweep: error: " << e.what() << " (trm-sweep "
              << (app.get_subcommands().empty()
                      ? std::string("--help")
                      : app.get_subcommands().front()->get_name() + " --help")
              << " lists the options)\n";
    return 2;
  }
  return trm::launcher::run_guarded("trm-sweep", [&] {
    if (parity->parsed()) return trm::launcher::parity_verb(fixtures_dir, verbose, std::cout);
    if (model->parsed()) return trm::launcher::model_verb(preset, model_sets, std::cout);
    if (data->parsed()) {
      trm::core::TrialConfig config;
      if (!data_config.empty()) trm::sweep::apply_toml_file(config, data_config);
      for (const auto& set : data_sets) {
        // Checked as any key, but only data.* keys make the data set: say so for the others.
        if (set.rfind("data.", 0) != 0)
          std::cerr << "trm-sweep data: note: --set " << set
                    << " does not change the data set (only data.* keys do)\n";
      }
      trm::core::apply_sets(config, data_sets);
      trm::launcher::install_stop_signals();  // a large set takes minutes: a signal ends it
      return trm::launcher::data_verb(config, data_out, data_inspect, std::cout);
    }
    export_options.metric_given = metric_option->count() > 0;
    if (export_out->count() > 0 && export_options.out.empty())
      throw trm::ConfigError(
          "export -o: an empty file name; name a file, or leave -o out to "
          "write to stdout");
    // cuda:N plans as cuda: the memory model is the card's whichever card it is.
    if (plan_options.device.rfind("cuda:", 0) == 0 && plan_options.device.size() > 5 &&
        plan_options.device.find_first_not_of("0123456789", 5) == std::string::npos)
      plan_options.device = "cuda";
    // A results file named through a symbolic link: its journal and trial folders are the file's.
    for (std::string* results : {&run_options.results, &resume_options.results, &status_file,
                                 &export_options.results, &merge_out, &submit_options.results})
      if (!results->empty()) *results = trm::storage::resolve_results_path(*results);
    for (auto& in : merge_inputs) in = trm::storage::resolve_results_path(in);
    if (run->parsed()) return trm::launcher::run_verb(run_options, std::cout, std::cerr);
    if (resume->parsed()) return trm::launcher::run_verb(resume_options, std::cout, std::cerr);
    if (submit->parsed())
      return trm::launcher::submit_verb(submit_options, submit->remaining(), std::cout);
    if (exporter->parsed()) return trm::launcher::export_verb(export_options, std::cout);
    if (merge->parsed())
      return trm::launcher::merge_verb(merge_out, merge_inputs, std::cout, std::cerr);
    if (status->parsed())
      return trm::launcher::status_verb(
          status_file, status_format,
          status->count("--watch") ? std::max(0.5, status_watch == 0 ? 2.0 : status_watch) : 0.0,
          std::cout);
    if (plan->parsed()) {
      return trm::launcher::plan_verb(plan_spec, plan_options, std::cout, std::cerr);
    }
    if (eval->parsed()) {
      if (eval_spec.empty() && eval_config.empty())
        throw trm::ConfigError(
            "eval needs --config FILE.toml or --spec FILE --trial N: the model "
            "the weights are for and the test data to evaluate on");
      trm::core::TrialConfig config;
      if (!eval_spec.empty()) {
        if (eval_trial < 0) throw trm::ConfigError("--spec needs --trial INDEX (see `plan`)");
        config = trm::launcher::spec_trial_config(eval_spec, eval_trial);
      }
      if (!eval_config.empty()) trm::sweep::apply_toml_file(config, eval_config);
      trm::core::apply_sets(config, eval_sets);
      return trm::launcher::eval_verb(config, eval_options, std::cout);
    }
    if (spec_file.empty() && config_file.empty()) {
      // The built-in defaults are the paper's Sudoku-Extreme run (batch 768, tens of GB): never
      // what a missing option meant.
      throw trm::ConfigError(
          "train needs --config FILE.toml or --spec FILE --trial N (configs/quick_train.toml is a "
          "small one; `plan` lists a spec's trials)");
    }
    trm::core::TrialConfig config;
    if (!spec_file.empty()) {
      if (trial_index < 0) throw trm::ConfigError("--spec needs --trial INDEX (see `plan`)");
      config = trm::launcher::spec_trial_config(spec_file, trial_index);
    }
    if (!config_file.empty()) trm::sweep::apply_toml_file(config, config_file);
    trm::core::apply_sets(config, train_sets);
    if (!memory_budget.empty()) {
      options.memory_budget = trm::core::parse_byte_size("--memory-budget", memory_budget);
    }
    trm::launcher::install_stop_signals();
    return trm::launcher::train_verb(config, options, std::cout, std::cerr);
  });
}
