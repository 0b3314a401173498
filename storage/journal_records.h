// Internal to storage/: the journal's records, one per acknowledged change, and their encoding
// (a kind byte, then little-endian int64/double and length-prefixed text, field by field in each
// struct's visitor order).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/metrics.h"
#include "storage/file_ops.h"
#include "storage/results_types.h"

namespace trm::storage {

// First record: what the journal describes. `layout` names every table column; a journal of
// other columns (another trm-sweep version) is refused rather than misread.
struct HeaderRecord {
  int64_t journal_version = 1;
  std::string layout;
  SweepHeader header;
};
// Trials appended to /trials, starting at `first_index`.
struct TrialsRecord {
  int64_t first_index = 0;
  std::vector<TrialDefinition> trials;
};
struct TrainBatch {
  int64_t trial = 0;
  std::vector<core::TrainRecord> records;
};
struct EvalBatch {
  int64_t trial = 0;
  std::vector<core::EvalRecord> records;
};
// Last record of a clean close: the HDF5 file then matched the journal and had this stamp.
struct ClosedRecord {
  FileStamp results;
};

using JournalRecord =
    std::variant<HeaderRecord, TrialsRecord, TrialRow, TrainBatch, EvalBatch, Event, ClosedRecord>;

// The column names of the four tables, e.g. "trials:index,id,...;train:step,...".
std::string layout_signature();

std::string encode(const JournalRecord& record);
// The record if `payload` is a ClosedRecord (cheap: the rest are not decoded), else nullopt.
std::optional<ClosedRecord> as_closed(std::string_view payload, const std::string& path);
// Throws StorageError naming `path` when the payload is not a record this version writes.
JournalRecord decode(std::string_view payload, const std::string& path);

}  // namespace trm::storage
