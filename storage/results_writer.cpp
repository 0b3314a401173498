#include "storage/results_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "core/config_fields.h"
#include "storage/file_ops.h"
#include "storage/h5_layout.h"
#include "storage/journal.h"
#include "storage/journal_export.h"
#include "storage/journal_records.h"
#include "storage/results_build.h"
#include "storage/results_reader.h"
#include "storage/storage_error.h"

namespace trm::storage {

std::string journal_path(const std::string& results_path) { return results_path + ".journal"; }

std::string resolve_results_path(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  std::error_code ec;
  for (int hops = 0; !p.empty() && fs::is_symlink(p, ec); ++hops) {
    if (hops == 40) throw StorageError(path + ": too many levels of symbolic links");
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) throw StorageError(path + ": cannot read the symbolic link: " + ec.message());
    p = target.is_absolute() ? target : (p.parent_path() / target).lexically_normal();
  }
  return p.string();
}

bool results_writer_alive(const std::string& results_path) {
  const int fd = ::open(journal_path(results_path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool alive = true;  // unknown counts as alive: never call a live run dead
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    alive = false;
    ::flock(fd, LOCK_UN);
  } else if (errno != EWOULDBLOCK && errno != ENOLCK && errno != EOPNOTSUPP) {
    alive = true;
  }
  ::close(fd);
  return alive;
}

bool results_writer_holds_lock(const std::string& results_path) {
  const int fd = ::open(journal_path(results_path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  if (!held) ::flock(fd, LOCK_UN);
  ::close(fd);
  return held;
}

struct ResultsWriter::Impl {
  Impl(std::string p, Journal j) : path(std::move(p)), journal(std::move(j)), tables(path) {}

  // Opens the HDF5 file for SWMR writing and loads the rows and table sizes from it.
  void open_file() {
    file = open_locked();
    h5::check_format(file.get(), path);
    header = h5::read_header(file.get(), path);
    trials = h5::open_table(file.get(), h5::kTrials, path);
    rows = tables.trials.read(trials.get(), 0, h5::table_rows(trials.get(), path));
    events = h5::open_table(file.get(), h5::kEvents, path);
    events_n = h5::table_rows(events.get(), path);
    train.clear();
    eval.clear();
    train_n.clear();
    eval_n.clear();
    for (const auto& row : rows) {
      const std::string group = h5::trial_group(row.index);
      train.push_back(h5::open_table(file.get(), (group + "/train").c_str(), path));
      eval.push_back(h5::open_table(file.get(), (group + "/eval").c_str(), path));
      train_n.push_back(h5::table_rows(train.back().get(), path));
      eval_n.push_back(h5::table_rows(eval.back().get(), path));
    }
  }

  // HDF5 locks the file while it opens it; a reader that opens it at that instant (h5py, which
  // locks) makes the open fail for a moment, so the writer tries again for a while.
  h5::Id open_locked() const {
    const h5::Id access = h5::latest_format_access(path);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, access.get());
      if (id >= 0) return h5::Id(id);
      const std::string reason = h5::innermost_error();
      if (reason.find("unable to lock file") == std::string::npos ||
          std::chrono::steady_clock::now() > give_up) {
        throw StorageError(path + ": cannot open the results file for writing: " + reason +
                           (reason.find("lock") == std::string::npos
                                ? std::string()
                                : " (another process keeps it open with HDF5's locks, e.g. "
                                  "h5py without swmr=True; close it and try again)"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Releases every HDF5 handle; `check` reports a failed close (it leaves the file unclean).
  void close_file(bool check) {
    // After a failed write HDF5 must not touch the file again: its close would write a
    // superblock over data that never reached the disk. Leaving the handles open (a small leak
    // per failure) keeps the file as the last successful flush left it, readable by SWMR readers.
    if (!broken.empty()) {
      for (auto& t : train) t.release();
      for (auto& t : eval) t.release();
      trials.release();
      events.release();
      file.release();
    }
    train.clear();
    eval.clear();
    train_n.clear();
    eval_n.clear();
    trials.reset();
    events.reset();
    if (!file.valid()) return;
    const herr_t status = H5Fclose(file.release());
    if (check) h5::check(status, path, "close the results file");
  }

  // The HDF5 half of a change the journal already holds; a failure leaves the writer refusing
  // further changes until the file is opened again (and rebuilt). For an append, `table` and
  // `rows` say how long the table was: a failed append shrinks it back, best effort, so that
  // readers of the file as left see no half-written rows.
  template <class Fn>
  void to_file(Fn&& write, hid_t table = H5I_INVALID_HID, hsize_t rows = 0) {
    try {
      write();
      // In a group the flush (like the journal's sync) waits for end_group().
      if (group_depth == 0) {
        h5::check(H5Fflush(file.get(), H5F_SCOPE_LOCAL), path, "flush the results file");
      }
    } catch (const StorageError& e) {
      if (table >= 0 && H5Dset_extent(table, &rows) >= 0) H5Fflush(file.get(), H5F_SCOPE_LOCAL);
      h5::innermost_error();  // clears the stack of a failed shrink
      broken = e.what();
      throw StorageError(broken + ". The change is safe in the journal " + journal.path() +
                         "; open the results file again (resume) to rebuild it and continue.");
    }
  }

  size_t index(int64_t trial, const char* call) const {
    if (trial < 0 || trial >= static_cast<int64_t>(rows.size())) {
      throw InternalError(std::string(call) + ": no trial " + std::to_string(trial) + " in " +
                          path + " (" + std::to_string(rows.size()) + " trials)");
    }
    return static_cast<size_t>(trial);
  }

  std::string path;
  Journal journal;
  h5::Tables tables;
  h5::Id file, trials, events;
  std::vector<h5::Id> train, eval;
  SweepHeader header;
  std::vector<TrialRow> rows;
  std::vector<hsize_t> train_n, eval_n;
  hsize_t events_n = 0;
  bool rebuilt = false;
  std::string set_aside;  // where open() moved a file that led its journal
  int group_depth = 0;    // open begin_group() calls
  std::string broken;     // why the HDF5 side failed; the writer then refuses changes
};

namespace {

// The definitions as they will be stored: text clipped, ids new and unique.
std::vector<TrialDefinition> checked_definitions(const std::vector<TrialDefinition>& trials,
                                                 const std::vector<TrialRow>& existing) {
  std::set<std::string> ids;
  for (const auto& row : existing) ids.insert(row.id);
  std::vector<TrialDefinition> out = trials;
  for (auto& t : out) {
    t.id = clip_text(t.id, text_capacity("id"));
    t.name = clip_text(t.name, text_capacity("name"));
    if (t.id.empty() || !ids.insert(t.id).second) {
      throw InternalError("add_trials: trial id '" + t.id + "' is empty or already present");
    }
  }
  return out;
}

}  // namespace

ResultsWriter::ResultsWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultsWriter::ResultsWriter(ResultsWriter&&) noexcept = default;
ResultsWriter& ResultsWriter::operator=(ResultsWriter&&) noexcept = default;

ResultsWriter::~ResultsWriter() {
  if (!impl_) return;
  try {
    close();
  } catch (...) {
    // A destructor cannot report; the journal keeps every acknowledged change and the next
    // open() rebuilds the file.
    impl_.reset();
  }
}

ResultsWriter::Impl& ResultsWriter::live(bool changing) const {
  if (!impl_) throw InternalError("ResultsWriter used after close() or after being moved from");
  if (changing && !impl_->broken.empty()) {
    throw StorageError(impl_->path + ": an earlier write failed (" + impl_->broken +
                       "); open the results file again (resume) to continue");
  }
  return *impl_;
}

ResultsWriter ResultsWriter::create(const std::string& path, const SweepHeader& header,
                                    const std::vector<TrialDefinition>& trials) {
  h5::quiet_errors();
  const std::string jpath = journal_path(path);
  require_regular_or_missing(path, "a results file");
  require_regular_or_missing(jpath, "a results file's journal");
  if (file_exists(path)) {
    throw StorageError(path + ": already exists. To continue that sweep use `trm-sweep resume " +
                       path + "`; to start a new one choose another output file.");
  }
  if (file_exists(jpath)) {
    throw StorageError(jpath +
                       ": a journal without its results file (an interrupted start?). "
                       "`trm-sweep resume " +
                       path +
                       "` rebuilds the file from it; to start "
                       "afresh delete it.");
  }
  const auto definitions = checked_definitions(trials, {});
  // Built beside its final names: a kill leaves no file, or a complete results file (whose
  // journal open() writes again), or both.
  const std::string partial = jpath + ".partial";
  auto impl = std::make_unique<Impl>(path, Journal::create_or_take(partial));
  // Checked again under the partial journal's lock: another process that created the file
  // between the first look and now holds it (its results would be replaced by ours).
  if (file_exists(path) || file_exists(jpath)) {
    ::unlink(partial.c_str());
    throw StorageError(path +
                       ": created by another trm-sweep process a moment ago. To continue "
                       "that sweep use `trm-sweep resume " +
                       path + "`.");
  }
  try {
    impl->journal.append(encode(HeaderRecord{1, layout_signature(), header}), false);
    impl->journal.append(encode(TrialsRecord{0, definitions}));
    build_results_file(impl->journal, path);
    impl->journal.rename_to(jpath);
    impl->open_file();
  } catch (...) {
    impl->close_file(false);
    ::unlink(path.c_str());
    ::unlink(impl->journal.path().c_str());
    throw;
  }
  return ResultsWriter(std::move(impl));
}

namespace {

// What a journal says the results file holds: the header, the trials and their table sizes.
struct JournalContents {
  std::optional<SweepHeader> header;
  std::vector<TrialRow> rows;
  std::vector<int64_t> train, eval;
  int64_t events = 0;

  void operator()(const HeaderRecord& r) { header = r.header; }
  void operator()(const TrialsRecord& r) {
    for (size_t k = 0; k < r.trials.size(); ++k) {
      rows.push_back(initial_row(r.first_index + static_cast<int64_t>(k), r.trials[k]));
      train.push_back(0);
      eval.push_back(0);
    }
  }
  void operator()(const TrialRow& r) {
    if (r.index >= 0 && r.index < static_cast<int64_t>(rows.size()))
      rows[static_cast<size_t>(r.index)] = r;
  }
  void operator()(const TrainBatch& r) { grow(train, r.trial, r.records.size()); }
  void operator()(const EvalBatch& r) { grow(eval, r.trial, r.records.size()); }
  void operator()(const Event&) { ++events; }
  void operator()(const ClosedRecord&) {}

  static void grow(std::vector<int64_t>& n, int64_t trial, size_t rows) {
    if (trial >= 0 && trial < static_cast<int64_t>(n.size()))
      n[static_cast<size_t>(trial)] += static_cast<int64_t>(rows);
  }
};

bool is_final(TrialStatus s) {
  return s == TrialStatus::done || s == TrialStatus::oom || s == TrialStatus::oom_predicted ||
         s == TrialStatus::failed;
}

// What a readable results file holds that its journal lacks, or that the two describe different
// sweeps. Every change reaches the journal before the HDF5 file, so after a kill the file may
// lag its journal but never lead it. After a power loss it can: HDF5 writes evicted pages before
// the group's sync, and the journal's unsynced tail may be lost.
struct LeadCheck {
  std::string why;           // what the file has beyond the journal; "" when it has nothing
  bool other_sweep = false;  // the journal is of another sweep
  bool clean = false;        // the file was closed cleanly (a journal can be written from it)
};

bool opens_plainly(const std::string& path) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, h5::reader_access(path).get());
  if (file < 0) {
    h5::innermost_error();
    return false;
  }
  H5Fclose(file);
  return true;
}

std::string what_file_leads(const ResultsReader& file, const JournalContents& j) {
  const auto* reader = &file;
  const auto rows = reader->trials();
  if (rows.size() > j.rows.size()) {
    return "the file has " + std::to_string(rows.size()) + " trials, the journal " +
           std::to_string(j.rows.size());
  }
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto& f = rows[k];
    const auto& r = j.rows[k];
    const std::string trial = "trial #" + std::to_string(k);
    const int64_t train = reader->train_rows(static_cast<int64_t>(k));
    const int64_t eval = reader->eval_rows(static_cast<int64_t>(k));
    if (train > j.train[k] || eval > j.eval[k]) {
      return trial + " has " + std::to_string(train) + " training and " + std::to_string(eval) +
             " evaluation records in the file, " + std::to_string(j.train[k]) + " and " +
             std::to_string(j.eval[k]) + " in the journal";
    }
    if (f.attempts > r.attempts ||
        (f.attempts == r.attempts && is_final(f.status) && f.status != r.status)) {
      return trial + " is " + core::field_to_string(f.status) + " (attempt " +
             std::to_string(f.attempts) + ") in the file, " + core::field_to_string(r.status) +
             " (attempt " + std::to_string(r.attempts) + ") in the journal";
    }
  }
  const auto events = static_cast<int64_t>(reader->events().size());
  if (events > j.events) {
    return "the file has " + std::to_string(events) + " events, the journal " +
           std::to_string(j.events);
  }
  return "";
}

}  // namespace

LeadCheck file_leads_journal(const Journal& journal, const std::string& path) {
  LeadCheck out;
  std::optional<ResultsReader> reader;
  try {
    reader.emplace(path);
  } catch (const StorageError&) {
    return out;  // damaged: the journal is all there is
  }
  JournalContents j;
  journal.replay([&](std::string_view payload) { std::visit(j, decode(payload, journal.path())); });
  if (!j.header) return out;  // build_results_file says what is wrong with it
  const SweepHeader file_header = reader->header();
  if (file_header.spec_hash != j.header->spec_hash || file_header.created != j.header->created) {
    out.other_sweep = true;
    out.why = "it is of another sweep (spec " + j.header->spec_hash + ", created " +
              j.header->created + "; the file: spec " + file_header.spec_hash + ", created " +
              file_header.created + ")";
    return out;
  }
  out.why = what_file_leads(*reader, j);
  if (!out.why.empty()) out.clean = opens_plainly(path);
  return out;
}

namespace {

// Moves an HDF5 file the journal does not account for out of the way of the rebuild, to
// <path>.before-rebuild (or .before-rebuild.2, ...: an earlier one is never replaced).
std::string move_aside(const std::string& path) {
  std::string aside = path + ".before-rebuild";
  for (int k = 2; file_exists(aside); ++k) aside = path + ".before-rebuild." + std::to_string(k);
  replace_file(path, aside);
  return aside;
}

}  // namespace

ResultsWriter ResultsWriter::open(const std::string& path, bool from_journal) {
  h5::quiet_errors();
  const std::string jpath = journal_path(path);
  require_regular_or_missing(path, "a results file");
  require_regular_or_missing(jpath, "a results file's journal");
  if (!file_exists(jpath)) {
    if (!file_exists(path)) {
      throw StorageError(path + ": no such results file (and no journal " + jpath +
                         "). Check the path; start a sweep with `trm-sweep run SPEC -o FILE`.");
    }
    export_journal(path);
  }
  std::optional<ClosedRecord> closed;
  Journal journal =
      Journal::open(jpath, [&](std::string_view payload) { closed = as_closed(payload, jpath); });
  auto impl = std::make_unique<Impl>(path, std::move(journal));
  // In place only when the last writer closed cleanly and the file is still the one it closed.
  if (closed && closed->results == file_stamp(path)) {
    try {
      impl->open_file();
      return ResultsWriter(std::move(impl));
    } catch (const StorageError&) {
      impl->close_file(false);
    }
  }
  if (file_exists(path)) {
    const LeadCheck lead = file_leads_journal(impl->journal, path);
    if (lead.other_sweep) {
      throw StorageError(jpath + " is not the journal of " + path + ": " + lead.why +
                         "; nothing was changed. Put the file's own journal beside it.");
    }
    if (!lead.why.empty()) {
      // The file holds changes the journal lacks. Where the journal ends in a torn tail, that is
      // a power loss's mark: the HDF5 file's pages went to disk, the journal's unsynced tail did
      // not, so none of those changes had been acknowledged. Else only the user can tell a
      // journal cut short from an older one put back: refuse unless told.
      if (impl->journal.torn() || from_journal) {
        impl->set_aside = move_aside(path);
      } else {
        throw StorageError(
            jpath + " holds less than " + path + ": " + lead.why +
            ". Either it was cut short (a power loss before its last sync: then nothing "
            "the file has beyond it was acknowledged) or it is an older copy; nothing was "
            "changed. If it is this file's own journal, `trm-sweep resume " +
            path + " --from-journal` rebuilds the file from it and keeps this one as " + path +
            ".before-rebuild." +
            (lead.clean ? " If the journal is an older copy, move it aside (mv " + jpath + " " +
                              jpath + ".old): the next resume writes a new one from the file."
                        : ""));
      }
    }
  }
  impl->journal.cut_torn_tail();
  build_results_file(impl->journal, path);
  impl->rebuilt = true;
  impl->open_file();
  return ResultsWriter(std::move(impl));
}

const std::string& ResultsWriter::path() const { return live(false).path; }
const SweepHeader& ResultsWriter::header() const { return live(false).header; }
const std::vector<TrialRow>& ResultsWriter::trials() const { return live(false).rows; }
bool ResultsWriter::rebuilt() const { return live(false).rebuilt; }
const std::string& ResultsWriter::set_aside() const { return live(false).set_aside; }

int64_t ResultsWriter::train_rows(int64_t trial_index) const {
  auto& m = live(false);
  return static_cast<int64_t>(m.train_n[m.index(trial_index, "train_rows")]);
}

int64_t ResultsWriter::eval_rows(int64_t trial_index) const {
  auto& m = live(false);
  return static_cast<int64_t>(m.eval_n[m.index(trial_index, "eval_rows")]);
}

std::vector<int64_t> ResultsWriter::add_trials(const std::vector<TrialDefinition>& trials) {
  auto& m = live();
  const auto definitions = checked_definitions(trials, m.rows);
  const auto first = static_cast<int64_t>(m.rows.size());
  m.journal.append(encode(TrialsRecord{first, definitions}), m.group_depth == 0);
  m.to_file([&] {
    m.close_file(true);
    build_results_file(m.journal, m.path);
    m.open_file();
  });
  std::vector<int64_t> indexes;
  for (size_t i = 0; i < definitions.size(); ++i)
    indexes.push_back(first + static_cast<int64_t>(i));
  return indexes;
}

void ResultsWriter::update_trial(const TrialRow& row) {
  auto& m = live();
  const size_t i = m.index(row.index, "update_trial");
  TrialRow clipped = row;
  clip_texts(clipped);
  if (clipped.id != m.rows[i].id) {
    throw InternalError("update_trial: row " + std::to_string(row.index) + " has id '" +
                        clipped.id + "' but trial " + std::to_string(row.index) + " is '" +
                        m.rows[i].id + "'");
  }
  m.journal.append(encode(clipped), m.group_depth == 0);
  m.rows[i] = clipped;
  m.to_file([&] {
    h5::write_table(m.trials.get(), m.tables.trials, std::span<const TrialRow>(&clipped, 1), i,
                    m.path);
  });
}

void ResultsWriter::append_train(int64_t trial_index, std::span<const core::TrainRecord> records) {
  auto& m = live();
  const size_t i = m.index(trial_index, "append_train");
  if (records.empty()) return;
  m.journal.append(encode(TrainBatch{trial_index, {records.begin(), records.end()}}),
                   m.group_depth == 0);
  m.to_file(
      [&] {
        h5::write_table(m.train[i].get(), m.tables.train, records, m.train_n[i], m.path);
        m.train_n[i] += records.size();
      },
      m.train[i].get(), m.train_n[i]);
}

void ResultsWriter::append_eval(int64_t trial_index, std::span<const core::EvalRecord> records) {
  auto& m = live();
  const size_t i = m.index(trial_index, "append_eval");
  if (records.empty()) return;
  m.journal.append(encode(EvalBatch{trial_index, {records.begin(), records.end()}}),
                   m.group_depth == 0);
  m.to_file(
      [&] {
        h5::write_table(m.eval[i].get(), m.tables.eval, records, m.eval_n[i], m.path);
        m.eval_n[i] += records.size();
      },
      m.eval[i].get(), m.eval_n[i]);
}

void ResultsWriter::log_event(const Event& event) {
  auto& m = live();
  if (event.trial != -1) m.index(event.trial, "log_event");
  Event clipped = event;
  clip_texts(clipped);
  if (std::isnan(clipped.time)) clipped.time = unix_now();
  m.journal.append(encode(clipped), m.group_depth == 0);
  m.to_file(
      [&] {
        h5::write_table(m.events.get(), m.tables.events, std::span<const Event>(&clipped, 1),
                        m.events_n, m.path);
        ++m.events_n;
      },
      m.events.get(), m.events_n);
}

void ResultsWriter::log_event(int64_t trial_index, std::string_view kind,
                              std::string_view message) {
  log_event(Event{kUnknown, trial_index, std::string(kind), std::string(message)});
}

void ResultsWriter::begin_group() { ++live(false).group_depth; }

void ResultsWriter::end_group() {
  auto& m = live(false);
  if (m.group_depth == 0) throw InternalError("end_group without begin_group");
  if (--m.group_depth > 0 || !m.broken.empty()) return;
  m.journal.sync();
  m.to_file([] {});
}

void ResultsWriter::flush() {
  auto& m = live();
  m.to_file([] {});
}

void ResultsWriter::close() {
  if (!impl_) throw InternalError("ResultsWriter::close() called twice");
  auto impl = std::move(impl_);
  if (!impl->broken.empty()) {
    impl->close_file(false);  // unclean on purpose: the next open() rebuilds from the journal
    return;
  }
  impl->close_file(true);
  sync_file(impl->path);
  impl->journal.append(encode(ClosedRecord{file_stamp(impl->path)}));
}

}  // namespace trm::storage
