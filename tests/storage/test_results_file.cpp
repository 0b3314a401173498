#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <type_traits>

#include "core/config_fields.h"
#include "storage/results_file.h"
#include "storage_test_util.h"

namespace trm::storage {
namespace {

using testing::sample_header;
using testing::sample_trial;
using testing::sample_trials;
using testing::TempDir;

// A row in mid-flight, with every field set.
TrialRow running_row(const ResultsWriter& w, int64_t index) {
  TrialRow row = w.trials()[static_cast<size_t>(index)];
  row.status = TrialStatus::running;
  row.attempts = 2;
  row.rank = 3;
  row.host = "gpu-node-7";
  row.device = "cuda:1";
  row.started = 1764494000.5;
  row.wall_s = 12.25;
  row.measured_peak_bytes = 123456789;
  row.step = 40;
  row.final_accuracy = 0.75;
  row.final_exact_accuracy = 0.5;
  row.best_exact_accuracy = 0.625;
  row.error = "CUDA out of memory\nTried to allocate 2.00 GiB";
  return row;
}

// Every field of a config changed from its default: numbers moved, booleans flipped, enums to
// their next value. A field the file misses keeps its default and breaks the equality.
core::TrialConfig every_field_changed() {
  core::TrialConfig c;
  core::TrialConfig::visit_fields(c, [](std::string_view, auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<F, bool>) {
      field = !field;
    } else if constexpr (std::is_same_v<F, int64_t>) {
      field += 3;
    } else if constexpr (std::is_same_v<F, double>) {
      field = field * 2 + 0.125;
    } else if constexpr (std::is_same_v<F, std::string>) {
      field += "-changed";
    } else {
      const auto& values = core::EnumNames<F>::values;
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i].first == field) {
          field = values[(i + 1) % values.size()].first;
          break;
        }
      }
    }
  });
  return c;
}

TEST(ResultsFile, WhatTheWriterAcknowledgedReadsBackFieldByField) {
  const TempDir dir;
  const std::string path = dir.file("sweep.h5");
  const std::vector<core::TrainRecord> train{testing::train_record(1, 0),
                                             testing::train_record(1, 1)};
  const std::vector<core::EvalRecord> eval{testing::eval_record(1, 1)};
  TrialRow row;
  {
    ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(3));
    row = running_row(w, 1);
    w.update_trial(row);
    w.append_train(1, train);
    w.append_eval(1, eval);
    w.log_event(Event{1764494001.0, 1, "start", "rank 3 took trial 1"});
    w.log_event(-1, "signal", "SIGTERM");
  }
  const ResultsReader r(path);
  EXPECT_EQ(r.header(), sample_header());
  EXPECT_EQ(r.schema_version(), 1);
  EXPECT_EQ(r.hdf5_version().substr(0, 3), "1.1");
  const auto rows = r.trials();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(same_fields(rows[1], row));
  EXPECT_EQ(rows[0].status, TrialStatus::pending);
  EXPECT_EQ(rows[2].id, "id-2");
  EXPECT_EQ(rows[2].predicted_peak_bytes, int64_t{3} << 30);
  EXPECT_TRUE(std::isnan(rows[2].final_exact_accuracy));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.config(i), sample_trial(i).config) << "trial " << i;
  const auto train_back = r.train(1);
  ASSERT_EQ(train_back.size(), 2u);
  EXPECT_TRUE(same_fields(train_back[1], train[1]));
  EXPECT_TRUE(same_fields(r.last_train(1).value(), train[1]));
  EXPECT_FALSE(r.last_train(0).has_value());
  EXPECT_TRUE(same_fields(r.eval(1).at(0), eval[0]));
  EXPECT_EQ(r.train_rows(2), 0);
  const auto events = r.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(same_fields(events[0], Event{1764494001.0, 1, "start", "rank 3 took trial 1"}));
  EXPECT_EQ(events[1].trial, -1);
  EXPECT_GT(events[1].time, 1.7e9);  // a NaN time became now
}

TEST(ResultsFile, EveryConfigFieldRoundTripsAsATypedAttribute) {
  const TempDir dir;
  TrialDefinition t = sample_trial(0);
  t.config = every_field_changed();
  ASSERT_FALSE(t.config == core::TrialConfig{});
  ResultsWriter::create(dir.file("c.h5"), sample_header(), {t}).close();
  EXPECT_EQ(ResultsReader(dir.file("c.h5")).config(0), t.config);
}

TEST(ResultsFile, EveryStatusNameRoundTrips) {
  const TempDir dir;
  ResultsWriter w = ResultsWriter::create(dir.file("s.h5"), sample_header(), sample_trials(7));
  for (int i = 0; i < 7; ++i) {
    TrialRow row = w.trials()[static_cast<size_t>(i)];
    row.status = static_cast<TrialStatus>(i);
    w.update_trial(row);
  }
  w.close();
  const auto rows = ResultsReader(dir.file("s.h5")).trials();
  const std::vector<std::string> names{"pending",       "running", "done",       "oom",
                                       "oom_predicted", "failed",  "interrupted"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(to_string(rows[static_cast<size_t>(i)].status), names[static_cast<size_t>(i)]);
    EXPECT_EQ(parse_trial_status(names[static_cast<size_t>(i)]), static_cast<TrialStatus>(i));
  }
  EXPECT_FALSE(parse_trial_status("finished").has_value());
}

TEST(ResultsFile, ACleanlyClosedFileIsContinuedInPlace) {
  const TempDir dir;
  const std::string path = dir.file("r.h5");
  ResultsWriter::create(path, sample_header(), sample_trials(2)).close();
  {
    ResultsWriter w = ResultsWriter::open(path);
    EXPECT_FALSE(w.rebuilt());
    const auto record = testing::train_record(0, 0);
    w.append_train(0, std::span(&record, 1));
  }
  ResultsWriter w = ResultsWriter::open(path);
  EXPECT_FALSE(w.rebuilt());
  EXPECT_EQ(w.train_rows(0), 1);
  EXPECT_EQ(w.header(), sample_header());
}

TEST(ResultsFile, ALostOrReplacedFileIsRebuiltFromItsJournal) {
  const TempDir dir;
  const std::string path = dir.file("r.h5");
  {
    ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(2));
    const auto record = testing::train_record(1, 0);
    w.append_train(1, std::span(&record, 1));
    w.update_trial(running_row(w, 1));
  }
  std::filesystem::remove(path);
  {
    ResultsWriter w = ResultsWriter::open(path);
    EXPECT_TRUE(w.rebuilt());
  }
  std::filesystem::resize_file(path, 1000);  // damaged after a clean close
  {
    ResultsWriter w = ResultsWriter::open(path);
    EXPECT_TRUE(w.rebuilt());
  }
  const ResultsReader r(path);
  EXPECT_EQ(r.train_rows(1), 1);
  EXPECT_EQ(r.trials()[1].host, "gpu-node-7");
  EXPECT_EQ(r.config(1), sample_trial(1).config);
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A readable file that is older than its journal (a backup put back) is brought up to date from
// the journal; one that holds more than the journal, or another sweep's, is never replaced by it.
TEST(ResultsFile, AnOlderCopyOfTheFileIsRebuiltButAJournalHoldingLessIsRefused) {
  const TempDir dir;
  const std::string path = dir.file("r.h5");
  const std::string jpath = journal_path(path);
  ResultsWriter::create(path, sample_header(), sample_trials(2)).close();
  std::filesystem::copy_file(path, dir.file("older.h5"));
  std::filesystem::copy_file(jpath, dir.file("shorter.journal"));
  {
    ResultsWriter w = ResultsWriter::open(path);
    const auto record = testing::train_record(0, 0);
    w.append_train(0, std::span(&record, 1));
    TrialRow done = w.trials()[0];
    done.status = TrialStatus::done;
    done.attempts = 1;
    w.update_trial(done);
  }
  std::filesystem::copy_file(path, dir.file("newer.h5"));
  std::filesystem::copy_file(dir.file("older.h5"), path,
                             std::filesystem::copy_options::overwrite_existing);
  {
    ResultsWriter w = ResultsWriter::open(path);
    EXPECT_TRUE(w.rebuilt());
    EXPECT_EQ(w.train_rows(0), 1);
    EXPECT_EQ(w.trials()[0].status, TrialStatus::done);
  }

  // The journal cut back to its state before the trial ran: the file leads it.
  std::filesystem::copy_file(dir.file("newer.h5"), path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(dir.file("shorter.journal"), jpath,
                             std::filesystem::copy_options::overwrite_existing);
  const std::string file_before = bytes_of(path), journal_before = bytes_of(jpath);
  try {
    ResultsWriter::open(path);
    FAIL() << "a journal holding less than the file was used";
  } catch (const StorageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(jpath + " holds less than " + path), std::string::npos) << msg;
    EXPECT_NE(msg.find("trial #0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mv " + jpath), std::string::npos) << msg;
  }
  EXPECT_EQ(bytes_of(path), file_before);
  EXPECT_EQ(bytes_of(jpath), journal_before);

  // Another sweep's journal beside the file.
  SweepHeader other = sample_header();
  other.spec_hash = "fedcba9876543210fedc";
  ResultsWriter::create(dir.file("other.h5"), other, sample_trials(2)).close();
  std::filesystem::copy_file(journal_path(dir.file("other.h5")), jpath,
                             std::filesystem::copy_options::overwrite_existing);
  try {
    ResultsWriter::open(path);
    FAIL() << "another sweep's journal was used";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("another sweep (spec fedcba9876543210fedc"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(bytes_of(path), file_before);

  // Moved aside as the message says, the file continues with a journal written from it.
  std::filesystem::remove(jpath);
  ResultsWriter w = ResultsWriter::open(path);
  EXPECT_EQ(w.train_rows(0), 1);
  EXPECT_EQ(w.trials()[0].status, TrialStatus::done);
}

// The launcher commits each scheduling round as one group: every change of the group reaches
// the file and the journal (what a rebuild after a crash reads), nested groups included.
TEST(ResultsFile, AGroupOfChangesIsDurableAndVisibleAtEndGroup) {
  const TempDir dir;
  const std::string path = dir.file("r.h5");
  ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(3));
  w.begin_group();
  w.begin_group();  // nested: only the outermost end syncs
  for (int64_t i = 0; i < 3; ++i) {
    w.update_trial(running_row(w, i));
    w.log_event(i, "start", "attempt 2");
    const auto record = testing::train_record(i, 0);
    w.append_train(i, std::span(&record, 1));
  }
  w.end_group();
  w.end_group();
  EXPECT_THROW(w.end_group(), InternalError);
  w.close();
  {
    const ResultsReader r(path);
    ASSERT_EQ(r.trials().size(), 3u);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(r.trials()[static_cast<size_t>(i)].status, TrialStatus::running);
      EXPECT_EQ(r.train_rows(i), 1);
    }
    EXPECT_EQ(r.events().size(), 3u);
  }
  std::filesystem::remove(path);  // as after a crash: only the journal is left
  ResultsWriter again = ResultsWriter::open(path);
  EXPECT_TRUE(again.rebuilt());
  EXPECT_EQ(again.trials()[2].host, "gpu-node-7");
  EXPECT_EQ(again.train_rows(2), 1);
}

TEST(ResultsFile, AFileWithoutItsJournalGetsOneAndContinues) {
  const TempDir dir;
  const std::string path = dir.file("moved.h5");
  {
    ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(2));
    const auto record = testing::eval_record(0, 5);
    w.append_eval(0, std::span(&record, 1));
    w.log_event(0, "start", "first");
  }
  std::filesystem::remove(journal_path(path));
  {
    ResultsWriter w = ResultsWriter::open(path);
    EXPECT_EQ(w.eval_rows(0), 1);
    w.log_event(0, "resume", "second");
  }
  EXPECT_TRUE(std::filesystem::exists(journal_path(path)));
  std::filesystem::remove(path);  // now the regenerated journal alone rebuilds everything
  ResultsWriter::open(path).close();
  const ResultsReader r(path);
  EXPECT_EQ(r.events().size(), 2u);
  EXPECT_TRUE(same_fields(r.eval(0).at(0), testing::eval_record(0, 5)));
  EXPECT_EQ(r.config(1), sample_trial(1).config);
}

TEST(ResultsFile, AddedTrialsGetTheNextIndexesAndKeepEarlierResults) {
  const TempDir dir;
  const std::string path = dir.file("grow.h5");
  ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(2));
  const auto record = testing::train_record(0, 0);
  w.append_train(0, std::span(&record, 1));
  EXPECT_EQ(w.add_trials({sample_trial(2), sample_trial(3)}), (std::vector<int64_t>{2, 3}));
  const auto later = testing::train_record(3, 0);
  w.append_train(3, std::span(&later, 1));
  EXPECT_THROW(w.add_trials({sample_trial(1)}), InternalError);  // id already present
  w.close();
  const ResultsReader r(path);
  ASSERT_EQ(r.trial_count(), 4);
  EXPECT_EQ(r.trials()[3].id, "id-3");
  EXPECT_EQ(r.config(3), sample_trial(3).config);
  EXPECT_EQ(r.train_rows(0), 1);
  EXPECT_EQ(r.train_rows(3), 1);
}

TEST(ResultsFile, LongTextIsClippedAtACharacterBoundary) {
  const TempDir dir;
  ResultsWriter w = ResultsWriter::create(dir.file("t.h5"), sample_header(), sample_trials(1));
  TrialRow row = w.trials()[0];
  std::string long_error;
  for (int i = 0; i < 3000; ++i) long_error += "\xc3\xa9";  // U+00E9, two bytes
  row.error = "x" + long_error;                             // odd offset: a cut could split one
  w.update_trial(row);
  w.close();
  const std::string back = ResultsReader(dir.file("t.h5")).trials()[0].error;
  EXPECT_EQ(back.size(), text_capacity("error") - 1);
  EXPECT_EQ(back, clip_text(row.error, text_capacity("error")));
  EXPECT_EQ(static_cast<unsigned char>(back.back()), 0xa9);  // ends on a whole character
}

TEST(ResultsFile, ASecondWriterIsRefusedWhileTheFirstHasTheFile) {
  const TempDir dir;
  const std::string path = dir.file("busy.h5");
  ResultsWriter first = ResultsWriter::create(path, sample_header(), sample_trials(1));
  try {
    ResultsWriter::open(path);
    FAIL() << "a second writer opened the file";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("another trm-sweep process is writing"), std::string::npos)
        << e.what();
  }
}

TEST(ResultsFile, CallerMistakesAreBugsNotUserErrors) {
  const TempDir dir;
  ResultsWriter w = ResultsWriter::create(dir.file("m.h5"), sample_header(), sample_trials(2));
  TrialRow row = w.trials()[0];
  row.index = 5;
  EXPECT_THROW(w.update_trial(row), InternalError);
  row.index = 0;
  row.id = "someone-else";
  EXPECT_THROW(w.update_trial(row), InternalError);
  EXPECT_THROW(w.append_train(-1, {}), InternalError);
  EXPECT_THROW(w.log_event(9, "x", "y"), InternalError);
  w.close();
  EXPECT_THROW(w.close(), InternalError);
  EXPECT_THROW(w.log_event(0, "x", "y"), InternalError);
}

}  // namespace
}  // namespace trm::storage
