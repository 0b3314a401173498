// `trm-sweep status`: progress of a sweep read from its results file (also while it runs) — counts
// per status, one line per trial, OOM cells with predicted vs measured memory, recent errors — as
// a text table for people or as JSON for scripts.
#pragma once

#include <cstdint>
#include <string>

#include "storage/results_reader.h"
#include "storage/results_types.h"

namespace trm::storage {

enum class StatusFormat { text, json };

struct StatusOptions {
  StatusFormat format = StatusFormat::text;
  double now = kUnknown;   // unix seconds for the elapsed time of running trials; NaN = now
  int64_t max_errors = 5;  // most recent trial errors listed
  // No process writes the file: trials recorded running were cut off, so their elapsed time and
  // ETA are unknown rather than growing with the clock.
  bool writer_gone = false;
};

// Reads `reader` once and renders the report. Throws StorageError when the file cannot be read.
std::string format_status(const ResultsReader& reader, const StatusOptions& options = {});

}  // namespace trm::storage
