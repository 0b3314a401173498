// Internal to storage/: a journal written from a cleanly closed HDF5 results file, for a file
// that travelled without its journal (copied to another cluster) and is to be continued there.
#pragma once

#include <string>

namespace trm::storage {

// Writes "<results>.journal" describing `results_path` exactly, ending with a clean-close record.
// StorageError when the file was not closed cleanly (its writer died): it can then be read but
// not continued without its original journal.
void export_journal(const std::string& results_path);

}  // namespace trm::storage
