// trm-sweep: the composition root. Parses the command line and dispatches to the verbs; user
// errors become one clear line on stderr and exit code 2, bugs exit code 3.
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/errors.h"
#include "core/parity.h"
#include "launcher/core_verbs.h"

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
  std::vector<std::string> sets;
  model->add_option("--preset", preset, "starting config")
      ->check(CLI::IsMember(trm::launcher::preset_names()));
  model->add_option("--set", sets, "override a field: key=value (repeatable)");

  CLI11_PARSE(app, argc, argv);
  return trm::launcher::run_guarded("trm-sweep", [&] {
    if (parity->parsed()) return trm::launcher::parity_verb(fixtures_dir, verbose, std::cout);
    return trm::launcher::model_verb(preset, sets, std::cout);
  });
}
