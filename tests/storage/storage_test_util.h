// Shared by the storage tests: a temporary folder per test and small sample sweeps.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "storage/results_types.h"

namespace trm::storage::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/trm-storage-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline SweepHeader sample_header() {
  return {.spec_toml = "[base]\nmodel.l_cycles = 6\n\n[grid]\nmodel.h_cycles = [2, 3]\n",
          .spec_hash = "0123456789abcdef0123",
          .created = "2025-11-30T09:00:00Z",
          .tool_version = "0.1.0",
          .git_revision = "52bab56",
          .host = "node01",
          .torch_version = "2.5.1",
          .mpi_version = "Open MPI v4.1.4",
          .sweep_name = "sample"};
}

// Trial i: h_cycles = i + 1, non-default values in a few fields of every type.
inline TrialDefinition sample_trial(int i) {
  TrialDefinition t;
  t.id = "id-" + std::to_string(i);
  t.name = "h_cycles=" + std::to_string(i + 1);
  t.config.model.h_cycles = i + 1;
  t.config.model.mixer = core::TokenMixer::attention;
  t.config.model.expansion = 2.5;
  t.config.train.ema = (i % 2) == 0;
  t.config.train.lr = 3e-4;
  t.config.data.box = 2;
  t.predicted_peak_bytes = (int64_t{1} << 30) * (i + 1);
  t.predicted_flops = 1e12 * (i + 1);
  t.total_steps = 100;
  return t;
}

inline std::vector<TrialDefinition> sample_trials(int n) {
  std::vector<TrialDefinition> out;
  for (int i = 0; i < n; ++i) out.push_back(sample_trial(i));
  return out;
}

// A train record whose every field follows from (trial, step), so a reader can check it alone.
inline core::TrainRecord train_record(int64_t trial, int64_t step) {
  const double s = static_cast<double>(step);
  const double t = static_cast<double>(trial);
  return {.step = step,
          .lr = 1e-4,
          .loss = 1.0 / (1 + s),
          .lm_loss = 0.5 / (1 + s),
          .q_halt_loss = t,
          .q_continue_loss = 0,
          .accuracy = std::fmod(s * 0.01, 1.0),
          .exact_accuracy = std::fmod(s * 0.001, 1.0),
          .q_halt_accuracy = 0.5,
          .steps = 3,
          .count = step * 7 + trial,
          .examples_per_s = 1000 + s};
}

inline core::EvalRecord eval_record(int64_t trial, int64_t step) {
  const double s = static_cast<double>(step);
  return {.step = step,
          .lm_loss = 1.0 / (1 + s),
          .q_halt_loss = static_cast<double>(trial),
          .accuracy = 0.9,
          .exact_accuracy = std::fmod(s * 0.002, 1.0),
          .q_halt_accuracy = 0.8,
          .steps = 16,
          .count = 1000 + trial,
          .seconds = 2.5};
}

}  // namespace trm::storage::testing
