#include "storage/results_build.h"

#include <unistd.h>

#include <variant>
#include <vector>

#include "storage/file_ops.h"
#include "storage/h5_layout.h"
#include "storage/journal_records.h"
#include "storage/storage_error.h"

namespace trm::storage {

namespace {

// Rows collected per table are written in blocks of this many (bounded memory, few HDF5 calls).
constexpr size_t kBlock = 4096;

template <class Row>
struct Pending {
  h5::Id table;
  hsize_t written = 0;
  std::vector<Row> rows;
};

class Builder {
 public:
  Builder(const std::string& path, const std::string& journal)
      : path_(path), build_(rebuild_path(path)), journal_(journal), tables_(build_) {}

  void operator()(const HeaderRecord& r) {
    if (file_.valid()) malformed("a second header");
    if (r.journal_version != 1 || r.layout != layout_signature()) {
      throw StorageError(journal_ + ": written by a trm-sweep with other table columns (" +
                         r.layout +
                         "); finish this sweep with the trm-sweep that started it "
                         "(tool_version " +
                         r.header.tool_version + ")");
    }
    remove_file_if_present(build_);
    file_ = h5::own(H5Fcreate(build_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT,
                              h5::latest_format_access(build_).get()),
                    build_, "create the rebuilt results file");
    h5::create_layout(file_.get(), tables_, r.header, build_);
  }
  void operator()(const TrialsRecord& r) {
    need_header();
    if (r.first_index != static_cast<int64_t>(rows_.size())) malformed("trials out of order");
    for (const auto& trial : r.trials) {
      const auto index = static_cast<int64_t>(rows_.size());
      h5::create_trial(file_.get(), tables_, index, trial, build_);
      rows_.push_back(initial_row(index, trial));
      const std::string group = h5::trial_group(index);
      train_.push_back({h5::open_table(file_.get(), (group + "/train").c_str(), build_), 0, {}});
      eval_.push_back({h5::open_table(file_.get(), (group + "/eval").c_str(), build_), 0, {}});
    }
  }
  void operator()(const TrialRow& r) { rows_.at(checked(r.index)) = r; }
  void operator()(const TrainBatch& r) {
    add(train_.at(checked(r.trial)), tables_.train, r.records);
  }
  void operator()(const EvalBatch& r) { add(eval_.at(checked(r.trial)), tables_.eval, r.records); }
  void operator()(const Event& r) {
    need_header();
    if (!events_.table.valid()) events_.table = h5::open_table(file_.get(), h5::kEvents, build_);
    add(events_, tables_.events, std::vector<Event>{r});
  }
  void operator()(const ClosedRecord&) {}

  void finish() {
    if (!file_.valid()) {
      throw StorageError(journal_ +
                         ": holds no sweep header (the sweep's creation was "
                         "interrupted); delete " +
                         path_ + " and " + journal_ + " and start the sweep again");
    }
    for (auto& p : train_) flush(p, tables_.train);
    for (auto& p : eval_) flush(p, tables_.eval);
    if (events_.table.valid()) flush(events_, tables_.events);
    {
      h5::Id trials = h5::open_table(file_.get(), h5::kTrials, build_);
      h5::write_table(trials.get(), tables_.trials, std::span<const TrialRow>(rows_), 0, build_);
    }
    train_.clear();
    eval_.clear();
    events_.table.reset();
    h5::check(H5Fclose(file_.release()), build_, "close the rebuilt results file");
    sync_file(build_);
    replace_file(build_, path_);
  }

 private:
  template <class Row>
  void add(Pending<Row>& p, const h5::TableCodec<Row>& codec, const std::vector<Row>& rows) {
    p.rows.insert(p.rows.end(), rows.begin(), rows.end());
    if (p.rows.size() >= kBlock) flush(p, codec);
  }
  template <class Row>
  void flush(Pending<Row>& p, const h5::TableCodec<Row>& codec) {
    h5::write_table(p.table.get(), codec, std::span<const Row>(p.rows), p.written, build_);
    p.written += p.rows.size();
    p.rows.clear();
  }
  size_t checked(int64_t index) const {
    if (index < 0 || index >= static_cast<int64_t>(rows_.size())) malformed("unknown trial");
    return static_cast<size_t>(index);
  }
  void need_header() const {
    if (!file_.valid()) malformed("a record before the header");
  }
  [[noreturn]] void malformed(const std::string& what) const {
    throw StorageError(journal_ + ": " + what +
                       " in the journal; it is damaged or was not "
                       "written by trm-sweep");
  }

  std::string path_, build_, journal_;
  h5::Tables tables_;
  h5::Id file_;
  std::vector<TrialRow> rows_;
  std::vector<Pending<core::TrainRecord>> train_;
  std::vector<Pending<core::EvalRecord>> eval_;
  Pending<Event> events_;
};

}  // namespace

TrialRow initial_row(int64_t index, const TrialDefinition& trial) {
  TrialRow row;
  row.index = index;
  row.id = trial.id;
  row.name = trial.name;
  row.predicted_peak_bytes = trial.predicted_peak_bytes;
  row.predicted_flops = trial.predicted_flops;
  row.total_steps = trial.total_steps;
  return row;
}

std::string rebuild_path(const std::string& path) { return path + ".rebuild"; }

void build_results_file(const Journal& journal, const std::string& path) {
  h5::quiet_errors();
  Builder builder(path, journal.path());
  try {
    journal.replay(
        [&](std::string_view payload) { std::visit(builder, decode(payload, journal.path())); });
    builder.finish();
  } catch (...) {
    ::unlink(rebuild_path(path).c_str());
    throw;
  }
}

}  // namespace trm::storage
