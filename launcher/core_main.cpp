// trm-core: the core verbs without the full CLI (built with TRM_CORE_ONLY, where LibTorch is the
// only dependency). Usage: trm-core parity [DIR] [-v] | trm-core model [--preset P] [--set k=v]...
// | trm-core train --out DIR [--set k=v]... [--device D] [--threads N] [--stop-at S] (no TOML)
// | trm-core eval --weights FILE [--set k=v]... [--device D] [--threads N] [--submission FILE].
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "core/parity.h"
#include "launcher/core_verbs.h"
#include "launcher/train_verb.h"

namespace {

// A whole number in [1, max]; more LibTorch threads than 4096 is a typo (100000 made 32k
// threads and hung the trial), as in trm-sweep.
int64_t parse_count(const std::string& flag, const std::string& value,
                    int64_t max = int64_t{1} << 40) {
  try {
    size_t used = 0;
    const int64_t n = std::stoll(value, &used);
    if (used == value.size() && n > 0 && n <= max) return n;
  } catch (const std::exception&) {
  }
  throw trm::ConfigError(flag + ": " + value + ": expected a whole number from 1 to " +
                         std::to_string(max));
}

int usage() {
  std::cerr
      << "usage: trm-core parity [DIR] [-v]\n"
         "       trm-core model [--preset trm|trm-att|hrm] [--set key=value]...\n"
         "       trm-core train --out DIR [--set key=value]... [--device D] [--threads N]\n"
         "                      [--memory-budget SIZE] [--stop-at STEP] [--checkpoint-every N]\n"
         "       trm-core eval --weights FILE [--set key=value]... [--device D] [--threads N]\n"
         "                     [--submission FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string verb = argv[1];
  return trm::launcher::run_guarded("trm-core", [&] {
    if (verb == "parity") {
      std::string dir = trm::core::default_fixtures_dir();
      bool verbose = false;
      for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "-v") == 0) {
          verbose = true;
        } else {
          dir = argv[i];
        }
      }
      return trm::launcher::parity_verb(dir, verbose, std::cout);
    }
    if (verb == "model") {
      std::string preset = "trm";
      std::vector<std::string> sets;
      for (int i = 2; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 == argc) return usage();  // a flag without its value
        if (flag == "--preset") {
          preset = argv[i + 1];
        } else if (flag == "--set") {
          sets.emplace_back(argv[i + 1]);
        } else {
          return usage();
        }
      }
      return trm::launcher::model_verb(preset, sets, std::cout);
    }
    if (verb == "train") {
      trm::core::TrialConfig config;
      std::vector<std::string> sets;
      trm::launcher::TrainOptions options;
      for (int i = 2; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 == argc) return usage();
        const std::string value = argv[i + 1];
        if (flag == "--set") {
          sets.push_back(value);
        } else if (flag == "--out") {
          options.out_dir = value;
        } else if (flag == "--device") {
          options.device = value;
        } else if (flag == "--threads") {
          options.threads = parse_count(flag, value, 4096);
        } else if (flag == "--stop-at") {
          options.stop_at_step = parse_count(flag, value);
        } else if (flag == "--checkpoint-every") {
          options.checkpoint_every = parse_count(flag, value);
        } else if (flag == "--memory-budget") {
          options.memory_budget = trm::core::parse_byte_size(flag, value);
        } else if (flag == "--config") {
          throw trm::ConfigError(
              "--config: trm-core reads no TOML; pass the keys with --set, "
              "or use trm-sweep train");
        } else {
          return usage();
        }
      }
      if (sets.empty() && options.device.rfind("cuda", 0) != 0 && options.memory_budget == 0) {
        // The built-in defaults are the paper's Sudoku-Extreme run (batch 768): tens of GB on a
        // CPU, which the kernel's OOM killer ends, not this program. As `trm-sweep train`.
        throw trm::ConfigError(
            "train without --set runs the paper's full Sudoku-Extreme config (batch 768, tens of "
            "GB) on the CPU: pass its keys (e.g. --set train.batch_size=32 --set "
            "data.train_puzzles=200), --device cuda, or --memory-budget SIZE to run it anyway");
      }
      trm::core::apply_sets(config, sets);
      trm::launcher::install_stop_signals();
      return trm::launcher::train_verb(config, options, std::cout, std::cerr);
    }
    if (verb == "eval") {
      trm::core::TrialConfig config;
      std::vector<std::string> sets;
      trm::launcher::EvalOptions options;
      for (int i = 2; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 == argc) return usage();
        const std::string value = argv[i + 1];
        if (flag == "--set") {
          sets.push_back(value);
        } else if (flag == "--weights") {
          options.weights = value;
        } else if (flag == "--device") {
          options.device = value;
        } else if (flag == "--threads") {
          options.threads = parse_count(flag, value, 4096);
        } else if (flag == "--submission") {
          options.submission = value;
        } else {
          return usage();
        }
      }
      trm::core::apply_sets(config, sets);
      return trm::launcher::eval_verb(config, options, std::cout);
    }
    return usage();
  });
}
