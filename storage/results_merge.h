// `trm-sweep merge`: joins the results files of one sweep's shards (the tasks of a SLURM job
// array, `run --shard K/N`) into one file that holds every trial at the index a single run of the
// whole sweep gives it, so `export`, `status` and `resume` see one sweep.
#pragma once

#include <string>
#include <vector>

#include "storage/results_types.h"

namespace trm::storage {

struct MergeReport {
  std::vector<std::string> warnings;  // duplicates resolved, trials in no input, unfinished ones
  int64_t trials = 0;                 // trials in the merged file
  int64_t copied = 0;                 // of them, taken from an input (the rest are pending)
};

// Creates `out` (refused when it or its journal exists) from `inputs`, which must all hold the
// same spec (same header().spec_hash; StorageError naming the file and both hashes otherwise).
// `order` is the sweep's trials in the order of the merged file (index 0, 1, ...): a trial found
// in an input is copied from it (definition, row, train and eval tables, events, with indexes
// remapped); one found in none is created pending from its definition in `order` (a warning).
// A trial in two inputs: the copy with a final status (done, oom, oom_predicted, failed) wins,
// else the one with more steps (a warning). Trials of an input missing from `order` (an extended
// sweep) follow at the end (a warning). Events keep their times; sweep-level ones stay trial -1.
MergeReport merge_results(const std::string& out, const std::vector<std::string>& inputs,
                          const std::vector<TrialDefinition>& order);

}  // namespace trm::storage
