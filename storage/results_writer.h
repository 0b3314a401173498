// The single writer of a sweep's results file (DESIGN.md "Results file"): creates it, continues
// it after an interruption or a crash, and makes every change durable before acknowledging it.
//
// Crash safety: each change is first appended to the journal "<file>.journal" and synced to disk
// (that is the acknowledgement), then written to the HDF5 file, which is kept open in SWMR mode
// and flushed so that readers (`trm-sweep status`, h5py with swmr=True) follow it live. Opening a
// file whose last writer did not close it (kill -9, node failure, full disk) rebuilds the HDF5
// file from the journal, so no acknowledged change is lost. Keep the journal beside the file
// while the sweep may still be resumed; the HDF5 file alone is complete once closed.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "storage/results_types.h"

namespace trm::storage {

// "<path>.journal".
std::string journal_path(const std::string& results_path);

// The results file a path names, its symbolic links followed (also a link to a file not yet
// made): the journal, the trial folders and the lock belong beside the file itself, not beside
// a link to it (`-o link.h5` to a file on scratch). Other paths are returned as they are.
std::string resolve_results_path(const std::string& path);

// Whether a trm-sweep process is writing `results_path` now (it holds its journal's lock). False
// when there is no journal or nobody holds it; true where the file system cannot tell (no flock).
bool results_writer_alive(const std::string& results_path);
// Whether a writer certainly holds the file (its journal's lock is taken); false where the file
// system has no locks.
bool results_writer_holds_lock(const std::string& results_path);

// One per results file and process (the journal's lock refuses a second); not thread-safe.
class ResultsWriter {
 public:
  // A new results file holding `trials` as indexes 0, 1, ...; refuses when `path` or its journal
  // exists. Throws StorageError.
  static ResultsWriter create(const std::string& path, const SweepHeader& header,
                              const std::vector<TrialDefinition>& trials);
  // An existing results file, to continue it. Rebuilds the HDF5 file from the journal when its
  // last writer did not close it; writes a journal from the HDF5 file when there is none.
  // Throws StorageError (missing, foreign, damaged, locked by another writer). An HDF5 file that
  // holds changes its journal lacks is set aside (set_aside()) and rebuilt from the journal when
  // the journal ends in a torn tail (a power loss) or with `from_journal`; else refused.
  static ResultsWriter open(const std::string& path, bool from_journal = false);

  ResultsWriter(ResultsWriter&&) noexcept;
  ResultsWriter& operator=(ResultsWriter&&) noexcept;
  ~ResultsWriter();  // closes cleanly when it can; never throws

  const std::string& path() const;
  const SweepHeader& header() const;
  // Every trial's row as last acknowledged, by index.
  const std::vector<TrialRow>& trials() const;
  int64_t train_rows(int64_t trial_index) const;
  int64_t eval_rows(int64_t trial_index) const;
  // Whether open() had to rebuild the HDF5 file from the journal.
  bool rebuilt() const;
  // Where open() moved an HDF5 file its journal did not account for; "" when it moved none.
  const std::string& set_aside() const;

  // Every call below is durable on disk when it returns. It throws StorageError when it could not
  // be made durable: when the journal write failed (disk full, ...) nothing changed and the
  // writer stays usable; when the journal took the change but the HDF5 file failed, the change is
  // kept and the writer refuses further calls: open the file again, which rebuilds it.
  // An index out of range or an update that changes a trial's id is a bug (InternalError).

  // Appends trials (new cells of an extended sweep) and returns their indexes. The HDF5 file is
  // rebuilt to hold their groups; readers keep the previous version until they reopen.
  std::vector<int64_t> add_trials(const std::vector<TrialDefinition>& trials);
  // Replaces row `row.index`. Text longer than text_capacity() is clipped.
  void update_trial(const TrialRow& row);
  // Appends training / evaluation records to a trial's tables (pass many at once when you can).
  void append_train(int64_t trial_index, std::span<const core::TrainRecord> records);
  void append_eval(int64_t trial_index, std::span<const core::EvalRecord> records);
  // Appends to /events; a NaN time becomes now; trial -1 is the sweep as a whole.
  void log_event(const Event& event);
  void log_event(int64_t trial_index, std::string_view kind, std::string_view message);
  // Flushes the HDF5 file for readers again (each call above already did).
  void flush();

  // Group commit: between begin_group() and end_group() the calls above are written but not
  // synced; end_group() makes all of them durable at once (one journal sync, one HDF5 flush).
  // Acknowledge none of them before end_group() returns. Groups nest; only the outermost syncs.
  void begin_group();
  void end_group();
  // Closes cleanly: the next open() continues in place instead of rebuilding. Further calls
  // throw InternalError.
  void close();

 private:
  struct Impl;
  explicit ResultsWriter(std::unique_ptr<Impl> impl);
  // The open writer; with `changing`, also refuses when an earlier write failed.
  Impl& live(bool changing = true) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trm::storage
