// Read-only access to a results file, also while its writer appends to it (HDF5 SWMR read: every
// call sees the writer's latest flush, never a half-written one). What `status`, `export` and
// resume read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/trial_config.h"
#include "storage/results_types.h"

namespace trm::storage {

class ResultsReader {
 public:
  // Opens `path`; StorageError naming the path, the problem and the fix when it is missing, not
  // HDF5, truncated or damaged, from another tool or of another schema version.
  explicit ResultsReader(const std::string& path);
  ResultsReader(ResultsReader&&) noexcept;
  ResultsReader& operator=(ResultsReader&&) noexcept;
  ~ResultsReader();

  const std::string& path() const;
  SweepHeader header() const;
  int64_t schema_version() const;
  // The HDF5 library version that created the file.
  std::string hdf5_version() const;

  int64_t trial_count() const;
  std::vector<TrialRow> trials() const;
  // The resolved config of a trial; StorageError when there is no such trial.
  core::TrialConfig config(int64_t trial_index) const;
  std::vector<core::TrainRecord> train(int64_t trial_index) const;
  std::vector<core::EvalRecord> eval(int64_t trial_index) const;
  int64_t train_rows(int64_t trial_index) const;
  int64_t eval_rows(int64_t trial_index) const;
  // The newest record of a trial (reads one row), nullopt when it has none yet.
  std::optional<core::TrainRecord> last_train(int64_t trial_index) const;
  std::optional<core::EvalRecord> last_eval(int64_t trial_index) const;
  std::vector<Event> events() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trm::storage
