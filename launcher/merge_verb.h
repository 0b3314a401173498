// `trm-sweep merge OUT.h5 IN.h5...`: joins the results files of one sweep's shards (the tasks of
// `submit --array`, or `run --shard K/N` by hand) into one file, indexed as a single run would be.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace trm::launcher {

// Re-expands the spec stored in the inputs for the sweep's trial order, merges, prints a summary
// to `out` and each warning (duplicates, missing or unfinished trials) to `err`. ConfigError /
// StorageError for no inputs, a missing or foreign input, shards of different specs, an existing
// OUT. 0 on success, also when trials are missing (they are pending; `resume OUT` runs them).
int merge_verb(const std::string& out_path, const std::vector<std::string>& inputs,
               std::ostream& out, std::ostream& err);

}  // namespace trm::launcher
