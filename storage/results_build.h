// Internal to storage/: builds the whole HDF5 results file from the journal (after a crash, when
// trials are added, when the file was lost or replaced). The new file is written beside the
// target and replaces it only once complete and synced, so readers see the old file or the new
// one, never a half-built one.
#pragma once

#include <cstdint>
#include <string>

#include "storage/journal.h"
#include "storage/results_types.h"

namespace trm::storage {

// The row a trial starts with: pending, with its definition's identity and predictions.
TrialRow initial_row(int64_t index, const TrialDefinition& trial);

// "<path>.rebuild": where the next version of the file is built.
std::string rebuild_path(const std::string& path);

// Replays `journal` into a new file that replaces `path`. Throws StorageError.
void build_results_file(const Journal& journal, const std::string& path);

}  // namespace trm::storage
