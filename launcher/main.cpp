// trm-sweep: the composition root. Parses the command line and dispatches to the verbs; user
// errors become one clear line on stderr and exit code 2, bugs exit code 3.
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "core/parity.h"
#include "launcher/core_verbs.h"
#include "launcher/run_verb.h"
#include "launcher/sweep_verbs.h"
#include "launcher/train_verb.h"
#include "sweep/trial_toml.h"

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

  auto* train = app.add_subcommand(
      "train", "train one trial; resumes from the checkpoint in --out when there is one");
  std::string config_file, memory_budget, spec_file;
  int64_t trial_index = -1;
  std::vector<std::string> train_sets;
  trm::launcher::TrainOptions options;
  train->add_option("--config", config_file,
                    "TOML file of trainer keys ([model], [train], [data])");
  train->add_option("--spec", spec_file, "a sweep spec; with --trial, train that trial's config")
      ->excludes("--config");
  train->add_option("--trial", trial_index, "index of the trial in --spec (see `plan`)")
      ->needs("--spec");
  train->add_option("--set", train_sets,
                    "override a key after the file: section.key=value, e.g. model.l_cycles=4");
  train->add_option("--out", options.out_dir, "folder for checkpoint, metrics and weights")
      ->required();
  train->add_option("--device", options.device, "cpu, cuda or cuda:N")->capture_default_str();
  train->add_option("--threads", options.threads, "LibTorch threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  train->add_option("--memory-budget", memory_budget,
                    "heap limit for the trial, e.g. 2G; going past it is reported as OOM");
  train
      ->add_option("--stop-at", options.stop_at_step,
                   "checkpoint and stop after this step (exit 5); run again to continue")
      ->check(CLI::PositiveNumber);
  train
      ->add_option("--checkpoint-every", options.checkpoint_every,
                   "steps between checkpoints (also after every evaluation)")
      ->check(CLI::PositiveNumber);
  train
      ->add_option("--progress-seconds", options.progress_seconds, "seconds between progress lines")
      ->capture_default_str();

  auto* plan = app.add_subcommand(
      "plan", "expand a sweep spec: every trial with predicted cost, memory and OOM flag");
  std::string plan_spec;
  trm::launcher::PlanCli plan_options;
  plan->add_option("spec", plan_spec, "sweep spec (TOML)")->required();
  plan->add_option("--device", plan_options.device, "cpu or cuda")->capture_default_str();
  plan->add_option("--memory", plan_options.memory,
                   "device memory, e.g. 48G (default on cpu: this machine's RAM)");
  plan->add_option("--gflops", plan_options.gflops,
                   "training throughput in GFLOP/s (default: measured on cpu)");
  plan->add_option("--ranks", plan_options.ranks, "workers for the makespan")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  plan->add_option("--format", plan_options.format, "text, csv or json")->capture_default_str();

  auto* run = app.add_subcommand("run", "run a sweep on this machine into one results file");
  trm::launcher::RunOptions run_options;
  run->add_option("spec", run_options.spec, "sweep spec (TOML)")->required();
  run->add_option("-o,--out", run_options.results, "results file (HDF5); continued if it exists")
      ->required();
  run->add_option("--jobs", run_options.jobs, "trials at once (each gets cores / jobs threads)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_option("--device", run_options.device, "cpu or cuda")->capture_default_str();
  run->add_flag("--extend", run_options.extend,
                "the results file was made by another spec: add this spec's new cells");

  auto* resume = app.add_subcommand("resume", "continue a sweep from its results file");
  trm::launcher::RunOptions resume_options;
  resume->add_option("results", resume_options.results, "results file (HDF5)")->required();
  resume->add_option("--jobs", resume_options.jobs, "trials at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  resume->add_option("--device", resume_options.device, "cpu or cuda")->capture_default_str();

  auto* status = app.add_subcommand("status", "progress of a sweep, also while it runs");
  std::string status_file, status_format = "text";
  status->add_option("results", status_file, "results file (HDF5)")->required();
  status->add_option("--format", status_format, "text or json")->capture_default_str();
  double status_watch = 0;
  status->add_option("--watch", status_watch, "redraw every N seconds while trials run")
      ->expected(0, 1)
      ->default_str("2");

  CLI11_PARSE(app, argc, argv);
  return trm::launcher::run_guarded("trm-sweep", [&] {
    if (parity->parsed()) return trm::launcher::parity_verb(fixtures_dir, verbose, std::cout);
    if (model->parsed()) return trm::launcher::model_verb(preset, model_sets, std::cout);
    if (run->parsed()) return trm::launcher::run_verb(run_options, std::cout, std::cerr);
    if (resume->parsed()) return trm::launcher::run_verb(resume_options, std::cout, std::cerr);
    if (status->parsed())
      return trm::launcher::status_verb(
          status_file, status_format,
          status->count("--watch") ? std::max(0.5, status_watch == 0 ? 2.0 : status_watch) : 0.0,
          std::cout);
    if (plan->parsed()) {
      return trm::launcher::plan_verb(plan_spec, plan_options, std::cout, std::cerr);
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
