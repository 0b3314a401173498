// Internal to storage/: where everything lives in the results file, and how the sweep header and
// a trial's resolved config become typed attributes.
//   /              attrs: format, schema_version, hdf5_version and every SweepHeader field
//   /trials        one TrialRow per trial; row i is trial i
//   /events        Event rows, in the order they happened
//   /trial/000042  attrs: trial_index, trial_id, trial_name and one per config field
//                  ("model.l_cycles" int64, "train.lr" float64, "train.ema" bool, enums as text)
//     train, eval  core::TrainRecord / core::EvalRecord rows
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "core/trial_config.h"
#include "storage/h5_tables.h"
#include "storage/results_types.h"

namespace trm::storage::h5 {

inline constexpr int64_t kSchemaVersion = 1;
inline constexpr std::string_view kFormat = "trm-sweep results";
inline constexpr const char* kTrials = "trials";
inline constexpr const char* kEvents = "events";
inline constexpr const char* kTrialGroups = "trial";
inline constexpr const char* kTrain = "train";
inline constexpr const char* kEval = "eval";

// "trial/000042": the group of trial 42 (zero-padded so that listings sort by index).
std::string trial_group(int64_t index);

// The four table layouts of a file.
struct Tables {
  explicit Tables(const std::string& path) : trials(path), train(path), eval(path), events(path) {}
  TableCodec<TrialRow> trials;
  TableCodec<core::TrainRecord> train;
  TableCodec<core::EvalRecord> eval;
  TableCodec<Event> events;
};

// File access with the newest format (needed by SWMR).
Id latest_format_access(const std::string& path);
// File access for readers: without HDF5's file locks, so that `status` never keeps the writer
// from opening the file, nor is refused while it does (SWMR needs no locks; the journal's lock
// keeps writers single).
Id reader_access(const std::string& path);

// A new file's root attributes and its empty /trials, /events and /trial.
void create_layout(hid_t file, const Tables& tables, const SweepHeader& header,
                   const std::string& path);
// The group of a new trial: its identity, its config and empty train/eval tables.
void create_trial(hid_t file, const Tables& tables, int64_t index, const TrialDefinition& trial,
                  const std::string& path);

// Throws StorageError unless `file` is a trm-sweep results file of schema kSchemaVersion.
void check_format(hid_t file, const std::string& path);
SweepHeader read_header(hid_t file, const std::string& path);
// The resolved config of trial `index`; fields the file lacks keep their defaults.
core::TrialConfig read_config(hid_t file, int64_t index, const std::string& path);

}  // namespace trm::storage::h5
