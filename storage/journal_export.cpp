#include "storage/journal_export.h"

#include <hdf5.h>
#include <unistd.h>

#include "storage/file_ops.h"
#include "storage/h5_layout.h"
#include "storage/journal.h"
#include "storage/journal_records.h"
#include "storage/results_reader.h"
#include "storage/results_writer.h"
#include "storage/storage_error.h"

namespace trm::storage {

namespace {

// A writer that died leaves HDF5's "open for writing" mark, which a plain read-only open refuses.
void require_clean_close(const std::string& path) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, h5::reader_access(path).get());
  if (file < 0) {
    std::string reason = h5::innermost_error();
    if (reason.empty()) reason = "HDF5 will not open it read-only";
    throw StorageError(path + ": its journal " + journal_path(path) +
                       " is missing and the file "
                       "was not closed cleanly or is damaged (" +
                       reason +
                       "), so it cannot be "
                       "continued. "
                       "`trm-sweep status` and `export` can still read it; to continue the "
                       "sweep, bring back its journal.");
  }
  H5Fclose(file);
}

}  // namespace

void export_journal(const std::string& results_path) {
  h5::quiet_errors();
  { const ResultsReader check(results_path); }  // missing, not HDF5, foreign: its clear errors
  require_clean_close(results_path);
  const FileStamp before = file_stamp(results_path);
  const ResultsReader reader(results_path);
  const std::vector<TrialRow> rows = reader.trials();

  const std::string target = journal_path(results_path);
  const std::string partial = target + ".partial";
  Journal journal = Journal::create_or_take(partial);  // refused while another process makes one
  try {
    journal.append(encode(HeaderRecord{1, layout_signature(), reader.header()}), false);
    TrialsRecord trials{0, {}};
    for (const auto& row : rows) {
      trials.trials.push_back({row.id, row.name, reader.config(row.index), row.predicted_peak_bytes,
                               row.predicted_flops, row.total_steps});
    }
    journal.append(encode(trials), false);
    for (const auto& row : rows) {
      journal.append(encode(row), false);
      journal.append(encode(TrainBatch{row.index, reader.train(row.index)}), false);
      journal.append(encode(EvalBatch{row.index, reader.eval(row.index)}), false);
    }
    for (const auto& event : reader.events()) journal.append(encode(event), false);
    if (!(file_stamp(results_path) == before)) {
      throw StorageError(results_path +
                         ": changed while its journal was being written; is "
                         "another process writing it?");
    }
    journal.append(encode(ClosedRecord{before}), false);
    journal.sync();
  } catch (...) {
    ::unlink(partial.c_str());
    throw;
  }
  replace_file(partial, target);
}

}  // namespace trm::storage
