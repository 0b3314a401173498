#include "launcher/core_verbs.h"

#include <c10/core/Device.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>

#include "core/config.h"
#include "core/config_fields.h"
#include "core/errors.h"
#include "core/out_of_memory.h"
#include "core/parity.h"
#include "core/reference_data.h"
#include "core/trial_data.h"
#include "core/trm_model.h"
#include "launcher/train_verb.h"

namespace trm::launcher {

namespace {
extern "C" void on_file_size_limit(int) {}
}  // namespace

int run_guarded(const char* program, const std::function<int()>& verb) {
  // Past a file-size limit (ulimit -f) the write fails with EFBIG, which the writers report as a
  // full disk and leave nothing half-done; the default action would kill the process on the spot.
  // Caught, not ignored: an ignored signal would stay ignored in the programs it starts.
  struct sigaction sa {};
  sa.sa_handler = on_file_size_limit;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGXFSZ, &sa, nullptr);
  // Out of memory first: it is a result of the trial (exit 4), whatever type the allocator threw.
  auto out_of_memory = [&](const core::OutOfMemoryError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 4;
  };
  try {
    return verb();
  } catch (const core::OutOfMemoryError& e) {
    return out_of_memory(e);
  } catch (const UserError& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that the system refuses (permission denied, a name too long, a loop
    // of symbolic links): the path and the system's reason, as for any bad input.
    std::cerr << program << ": error: " << (e.path1().empty() ? "" : e.path1().string() + ": ")
              << e.code().message() << "\n";
    return 2;
  } catch (const std::exception& e) {
    if (const auto oom = core::as_out_of_memory(e)) return out_of_memory(*oom);
    std::cerr << program << ": internal error (please report): " << e.what() << "\n";
    return 3;
  }
}

int data_verb(const core::TrialConfig& config, const std::string& out_dir,
              const std::string& inspect_dir, std::ostream& out) {
  auto describe = [&](const char* split, const core::PuzzleArrays& a) {
    out << split << ": " << a.num_examples() << " examples, " << a.num_puzzles() << " puzzles, "
        << a.num_groups() << " groups; seq_len " << a.seq_len << ", vocab_size " << a.vocab_size
        << "\n";
  };
  if (!inspect_dir.empty()) {
    // Everything a trial reads checks first (both splits' arrays, and an ARC set's evaluation
    // files), as train and plan do: the verdict is printed only once all of it holds.
    const auto shape = core::reference_data_shape(inspect_dir);
    core::DataConfig d;
    d.source = core::DataSource::reference;
    d.path = inspect_dir;
    const core::TrialData data = core::make_trial_data(d);
    out << inspect_dir
        << ": a data set in the reference's format; model.seq_len = " << shape.train.seq_len
        << ", model.vocab_size >= " << shape.train.vocab_size
        << ", model.num_puzzle_identifiers >= "
        << std::max(shape.train.num_puzzle_identifiers, shape.test.num_puzzle_identifiers) << "\n";
    describe("train", data.train);
    describe("test", data.test);
    if (data.arc) {
      out << "ARC evaluation files: " << data.arc->tasks.size() << " test tasks, "
          << data.arc->identifiers.size() << " puzzle names\n";
    }
    return 0;
  }
  if (out_dir.empty()) throw ConfigError("data needs --out DIR (to write) or --inspect DIR");
  if (config.data.source == core::DataSource::reference) {
    throw ConfigError(
        "data --out writes generated data (data.source = sudoku or maze); a folder "
        "in the reference's format is used as it is (data.path)");
  }
  // The data keys only: the model's are the trainer's business.
  std::vector<std::string> problems;
  for (const auto& line : core::trial_problems(config))
    if (line.rfind("data.", 0) == 0) problems.push_back(line);
  if (!problems.empty()) {
    std::string msg = "invalid data config:";
    for (const auto& line : problems) msg += (problems.size() == 1 ? " " : "\n  ") + line;
    throw ConfigError(msg);
  }
  if (std::filesystem::exists(out_dir) && !std::filesystem::is_directory(out_dir)) {
    throw DataError(out_dir + ": a file has this name; give a folder (nothing is overwritten)");
  }
  if (std::filesystem::exists(out_dir) && !std::filesystem::is_empty(out_dir)) {
    // Before the puzzles are drawn (minutes for a large set), not after.
    throw DataError(out_dir + ": not empty; give a new or empty folder (nothing is overwritten)");
  }
  std::optional<core::TrialData> made;
  try {
    made.emplace(core::make_trial_data(config.data, stop_requested));
  } catch (const Stopped&) {
    out << "stopped while the puzzles were made; nothing was written\n";
    return kExitStopped;
  }
  const core::TrialData& data = *made;
  core::write_reference_data(data.train, data.test, out_dir);
  out << "wrote " << out_dir << " (data.source = \"reference\", data.path = \"" << out_dir
      << "\" reads it)\n";
  describe("train", data.train);
  describe("test", data.test);
  return 0;
}

std::vector<std::string> preset_names() { return {"trm", "trm-att", "hrm"}; }

namespace {

core::ModelConfig preset_config(const std::string& name) {
  if (name == "trm") return core::ModelConfig{};
  if (name == "trm-att") return core::trm_attention_config();
  if (name == "hrm") return core::hrm_config();
  std::string valid;
  for (const auto& p : preset_names()) valid += " " + p;
  throw ConfigError("--preset " + name + ": unknown preset; valid:" + valid);
}

}  // namespace

int parity_verb(const std::string& dir, bool verbose, std::ostream& out) {
  const auto fixtures = core::find_fixtures(dir);
  if (fixtures.empty()) throw DataError(dir + ": no fixture (<name>.pt with <name>.json) found");
  bool all_ok = true;
  for (const auto& f : fixtures) {
    const auto report = core::run_parity(f);
    size_t failed = 0;
    for (const auto& c : report.checks) {
      if (c.ok && !verbose) continue;
      failed += c.ok ? 0 : 1;
      out << (c.ok ? "  ok   " : "  FAIL ") << std::left << std::setw(64) << c.key << " error "
          << std::setw(12) << c.error << " allowed " << std::setw(12) << c.allowed << " (" << c.how
          << ")\n";
    }
    out << f.name << ": " << report.checks.size() - failed << " of " << report.checks.size()
        << " tensors match the reference (mixer " << core::enum_name(report.config.mixer) << ", D "
        << report.config.hidden_size << ", T " << report.config.h_cycles << ", n "
        << report.config.l_cycles << ")\n";
    all_ok = all_ok && report.ok();
  }
  out << (all_ok ? "parity: ok" : "parity: FAILED") << "\n";
  return all_ok ? 0 : 1;
}

int model_verb(const std::string& preset, const std::vector<std::string>& sets, std::ostream& out) {
  core::ModelConfig c = preset_config(preset);
  for (const auto& kv : sets) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      throw ConfigError("--set " + kv + ": expected key=value, e.g. --set l_cycles=6");
    }
    // The key as a spec's --set names it (model.l_cycles) or bare (l_cycles).
    std::string key = kv.substr(0, eq);
    if (key.rfind("model.", 0) == 0) key.erase(0, 6);
    core::set_field(c, key, kv.substr(eq + 1));
  }
  const auto model = core::make_model(c, c10::Device(c10::kCPU));
  const int64_t evals = c.h_cycles * (c.l_cycles + 1);
  const int64_t graded = c.gradient == core::GradientMode::full ? c.l_cycles + 1 : 2;
  out << "parameters           " << model->parameter_count() << "\n"
      << "positions (L_total)  " << c.total_len() << " (" << c.prefix_len() << " prefix + "
      << c.seq_len << ")\n"
      << "evaluations per step " << evals << " (" << graded << " back-propagated)\n"
      << "effective depth      " << evals * c.layers << "\n";
  for (const auto& name : core::field_names()) {
    out << "  " << std::left << std::setw(24) << name << core::get_field(c, name) << "\n";
  }
  return 0;
}

}  // namespace trm::launcher
