#include "storage/results_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "storage/file_ops.h"
#include "storage/h5_layout.h"
#include "storage/results_writer.h"
#include "storage/storage_error.h"

namespace trm::storage {

namespace {

StorageError damaged_file(const std::string& path, const std::string& reason) {
  const std::string journal = journal_path(path);
  return StorageError(path + ": damaged or truncated HDF5 file (" + reason + "). " +
                      (file_exists(journal)
                           ? "Its journal " + journal + " is beside it: `trm-sweep resume " + path +
                                 "` rebuilds the file from it."
                           : "There is no journal beside it to rebuild it from; restore it from "
                             "a copy."));
}

// The open file and whether it follows a writer (SWMR read).
std::pair<h5::Id, bool> open_for_reading(const std::string& path) {
  require_regular_or_missing(path, "a results file");
  if (struct stat st{}; ::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      throw StorageError(path + ": cannot read it: " + std::strerror(errno));
    throw StorageError(path +
                       ": no such file. Check the path; a results file is what "
                       "`trm-sweep run SPEC.toml -o FILE` writes.");
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) {
    throw StorageError(path +
                       ": not an HDF5 file (it lacks the HDF5 signature). Give the .h5 "
                       "file that `trm-sweep run -o FILE` wrote.");
  }
  if (is_hdf5 < 0) h5::fail(path, "read it");
  // SWMR read follows a live writer and opens a file whose writer was killed; files in older
  // HDF5 formats (not ours, but they deserve a clear answer) open without it.
  const h5::Id access = h5::reader_access(path);
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, access.get());
  if (file >= 0) return {h5::Id(file), true};
  const std::string reason = h5::innermost_error();
  file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.get());
  if (file >= 0) return {h5::Id(file), false};
  h5::innermost_error();
  throw damaged_file(path, reason);
}

}  // namespace

struct ResultsReader::Impl {
  explicit Impl(const std::string& p) : path(p), tables(p) {
    std::tie(file, swmr) = open_for_reading(p);
    // A SWMR open skips HDF5's end-of-file check: a file cut short (a killed run's) opens, and
    // its first metadata read fails.
    if (H5Aexists(file.get(), "format") < 0) throw damaged_file(path, h5::innermost_error());
    h5::check_format(file.get(), path);
  }

  h5::Id table(int64_t index, const char* name) const {
    const std::string group = h5::trial_group(index);
    const bool exists =
        index >= 0 && h5::check_bool(H5Lexists(file.get(), group.c_str(), H5P_DEFAULT), path,
                                     "look for " + group);
    if (!exists) {
      throw StorageError(path + ": no trial " + std::to_string(index) + " (the file holds " +
                         std::to_string(trial_count()) + " trials, indexes from 0)");
    }
    return refreshed(h5::open_table(file.get(), (group + "/" + name).c_str(), path));
  }

  h5::Id refreshed(h5::Id table) const {
    if (swmr) h5::check(H5Drefresh(table.get()), path, "refresh a table");
    return table;
  }

  int64_t trial_count() const {
    const h5::Id trials = refreshed(h5::open_table(file.get(), h5::kTrials, path));
    return static_cast<int64_t>(h5::table_rows(trials.get(), path));
  }

  template <class Row>
  std::vector<Row> read_all(const h5::Id& t, const h5::TableCodec<Row>& codec) const {
    return codec.read(t.get(), 0, h5::table_rows(t.get(), path));
  }

  template <class Row>
  std::optional<Row> read_last(const h5::Id& t, const h5::TableCodec<Row>& codec) const {
    const hsize_t rows = h5::table_rows(t.get(), path);
    if (rows == 0) return std::nullopt;
    return codec.read(t.get(), rows - 1, 1).front();
  }

  std::string path;
  h5::Tables tables;
  h5::Id file;
  bool swmr = false;
};

ResultsReader::ResultsReader(const std::string& path) {
  h5::quiet_errors();
  impl_ = std::make_unique<Impl>(path);
}

ResultsReader::ResultsReader(ResultsReader&&) noexcept = default;
ResultsReader& ResultsReader::operator=(ResultsReader&&) noexcept = default;
ResultsReader::~ResultsReader() = default;

const std::string& ResultsReader::path() const { return impl_->path; }

SweepHeader ResultsReader::header() const {
  return h5::read_header(impl_->file.get(), impl_->path);
}

int64_t ResultsReader::schema_version() const {
  return h5::read_int_attribute(impl_->file.get(), "schema_version", impl_->path);
}

std::string ResultsReader::hdf5_version() const {
  return h5::read_text_attribute(impl_->file.get(), "hdf5_version", impl_->path);
}

int64_t ResultsReader::trial_count() const { return impl_->trial_count(); }

std::vector<TrialRow> ResultsReader::trials() const {
  const h5::Id t = impl_->refreshed(h5::open_table(impl_->file.get(), h5::kTrials, impl_->path));
  return impl_->tables.trials.read(t.get(), 0, h5::table_rows(t.get(), impl_->path), true);
}

core::TrialConfig ResultsReader::config(int64_t trial_index) const {
  impl_->table(trial_index, h5::kTrain);  // a clear error for an unknown trial
  return h5::read_config(impl_->file.get(), trial_index, impl_->path);
}

std::vector<core::TrainRecord> ResultsReader::train(int64_t trial_index) const {
  return impl_->read_all(impl_->table(trial_index, h5::kTrain), impl_->tables.train);
}

std::vector<core::EvalRecord> ResultsReader::eval(int64_t trial_index) const {
  return impl_->read_all(impl_->table(trial_index, h5::kEval), impl_->tables.eval);
}

int64_t ResultsReader::train_rows(int64_t trial_index) const {
  const h5::Id t = impl_->table(trial_index, h5::kTrain);
  return static_cast<int64_t>(h5::table_rows(t.get(), impl_->path));
}

int64_t ResultsReader::eval_rows(int64_t trial_index) const {
  const h5::Id t = impl_->table(trial_index, h5::kEval);
  return static_cast<int64_t>(h5::table_rows(t.get(), impl_->path));
}

std::optional<core::TrainRecord> ResultsReader::last_train(int64_t trial_index) const {
  return impl_->read_last(impl_->table(trial_index, h5::kTrain), impl_->tables.train);
}

std::optional<core::EvalRecord> ResultsReader::last_eval(int64_t trial_index) const {
  return impl_->read_last(impl_->table(trial_index, h5::kEval), impl_->tables.eval);
}

std::vector<Event> ResultsReader::events() const {
  const h5::Id t = impl_->refreshed(h5::open_table(impl_->file.get(), h5::kEvents, impl_->path));
  return impl_->read_all(t, impl_->tables.events);
}

}  // namespace trm::storage
