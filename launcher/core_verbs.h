// The verbs that need only core (LibTorch): they build in the core-only configuration too, where
// launcher/core_main.cpp parses their arguments instead of the full CLI.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "core/trial_config.h"

namespace trm::launcher {

// `parity [DIR]`: replays every fixture in DIR against the reference tensors; prints one line per
// key that fails (all of them with `verbose`) and a summary per fixture. Returns the exit code.
int parity_verb(const std::string& dir, bool verbose, std::ostream& out);

// `model [--preset NAME] [--set key=value ...]`: validates the config, builds the model and
// prints its sizes (parameters, L_total, network evaluations per supervision step).
int model_verb(const std::string& preset, const std::vector<std::string>& sets, std::ostream& out);

// `data --out DIR`: writes the data set of `config` (generated Sudoku) into DIR in the reference's
// on-disk format. `data --inspect DIR`: reads a data set in that format, checks every array and
// prints what each split holds. Only the data.* keys of `config` matter.
int data_verb(const core::TrialConfig& config, const std::string& out_dir,
              const std::string& inspect_dir, std::ostream& out);

// Runs a verb; a user error becomes one line "<program>: error: ..." on stderr and exit code 2,
// any other exception (a bug) exit code 3.
int run_guarded(const char* program, const std::function<int()>& verb);

// Names accepted by --preset.
std::vector<std::string> preset_names();

}  // namespace trm::launcher
