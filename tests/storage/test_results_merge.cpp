// `merge_results`: the shards of one sweep (SLURM job array tasks) joined into one results file
// whose indexes, rows, tables and events are those a single run would have written.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/results_merge.h"
#include "storage/results_reader.h"
#include "storage/results_writer.h"
#include "storage/storage_error.h"
#include "storage_test_util.h"

namespace {

using trm::storage::Event;
using trm::storage::ResultsReader;
using trm::storage::ResultsWriter;
using trm::storage::TrialRow;
using trm::storage::TrialStatus;
namespace t = trm::storage::testing;

// Writes a shard holding sample trials `which` (in that order), each with `status` and `steps`
// training rows, one eval row per 50 steps, an event per trial and one for the sweep.
void write_shard(const std::string& path, const std::vector<int>& which, TrialStatus status,
                 int64_t steps, const std::string& spec_hash = t::sample_header().spec_hash) {
  auto header = t::sample_header();
  header.spec_hash = spec_hash;
  std::vector<trm::storage::TrialDefinition> defs;
  for (int i : which) defs.push_back(t::sample_trial(i));
  auto w = ResultsWriter::create(path, header, defs);
  w.log_event(Event{1000.0, -1, "start", path});
  for (size_t k = 0; k < which.size(); ++k) {
    const int trial = which[k];
    TrialRow row = w.trials()[k];
    row.status = status;
    row.attempts = 1;
    row.rank = trial;
    row.host = "node0" + std::to_string(trial);
    row.step = steps;
    row.final_exact_accuracy = 0.1 * trial;
    w.update_trial(row);
    std::vector<trm::core::TrainRecord> train;
    for (int64_t s = 1; s <= steps; ++s) train.push_back(t::train_record(trial, s));
    w.append_train(row.index, train);
    std::vector<trm::core::EvalRecord> eval;
    for (int64_t s = 50; s <= steps; s += 50) eval.push_back(t::eval_record(trial, s));
    w.append_eval(row.index, eval);
    w.log_event(Event{1000.0 + trial, row.index, "done", "trial " + std::to_string(trial)});
  }
  w.close();
}

bool mentions(const std::vector<std::string>& warnings, const std::string& text) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

TEST(ResultsMerge, TwoShardsJoinAtTheSweepsIndexesWithTheirTablesAndEvents) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0, 2}, TrialStatus::done, 100);
  write_shard(dir.file("b.h5"), {1, 3}, TrialStatus::done, 100);
  const auto report = trm::storage::merge_results(
      dir.file("m.h5"), {dir.file("a.h5"), dir.file("b.h5")}, t::sample_trials(4));
  EXPECT_TRUE(report.warnings.empty()) << report.warnings.front();
  EXPECT_EQ(report.trials, 4);
  EXPECT_EQ(report.copied, 4);

  ResultsReader r(dir.file("m.h5"));
  EXPECT_EQ(r.header(), t::sample_header());
  const auto rows = r.trials();
  ASSERT_EQ(rows.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const auto& row = rows[static_cast<size_t>(i)];
    const auto def = t::sample_trial(i);
    EXPECT_EQ(row.index, i);
    EXPECT_EQ(row.id, def.id);
    EXPECT_EQ(row.name, def.name);
    EXPECT_EQ(row.status, TrialStatus::done);
    EXPECT_EQ(row.rank, i);
    EXPECT_EQ(row.host, "node0" + std::to_string(i));
    EXPECT_DOUBLE_EQ(row.final_exact_accuracy, 0.1 * i);
    EXPECT_EQ(row.predicted_peak_bytes, def.predicted_peak_bytes);
    EXPECT_EQ(row.total_steps, def.total_steps);
    EXPECT_EQ(r.config(i), def.config);
    const auto train = r.train(i);
    ASSERT_EQ(train.size(), 100u);
    EXPECT_TRUE(trm::storage::same_fields(train[41], t::train_record(i, 42)));
    const auto eval = r.eval(i);
    ASSERT_EQ(eval.size(), 2u);
    EXPECT_TRUE(trm::storage::same_fields(eval[1], t::eval_record(i, 100)));
  }
  // Each trial's event points at its merged index; the shards' sweep events stay sweep-level.
  int sweep_starts = 0;
  for (const auto& e : r.events()) {
    if (e.kind == "done") {
      EXPECT_EQ(e.message, "trial " + std::to_string(e.trial));
    }
    if (e.kind == "start") {
      EXPECT_EQ(e.trial, -1);
      ++sweep_starts;
    }
  }
  EXPECT_EQ(sweep_starts, 2);
}

TEST(ResultsMerge, ADuplicateKeepsTheFinishedCopyElseTheOneWithMoreSteps) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0, 1}, TrialStatus::interrupted, 80);
  write_shard(dir.file("b.h5"), {0}, TrialStatus::done, 50);
  write_shard(dir.file("c.h5"), {1}, TrialStatus::interrupted, 30);
  const auto report = trm::storage::merge_results(
      dir.file("m.h5"), {dir.file("a.h5"), dir.file("b.h5"), dir.file("c.h5")},
      t::sample_trials(2));
  ResultsReader r(dir.file("m.h5"));
  const auto rows = r.trials();
  EXPECT_EQ(rows[0].status, TrialStatus::done);  // finished beats further along
  EXPECT_EQ(r.train_rows(0), 50);
  EXPECT_EQ(rows[1].status, TrialStatus::interrupted);  // 80 steps beat 30
  EXPECT_EQ(r.train_rows(1), 80);
  EXPECT_TRUE(
      mentions(report.warnings, "kept the copy from " + dir.file("b.h5") + " (done, 50 steps)"))
      << report.warnings.size();
  EXPECT_TRUE(mentions(report.warnings, "kept the copy from " + dir.file("a.h5") +
                                            " (interrupted, 80 steps) over interrupted, 30 steps"));
  EXPECT_TRUE(mentions(report.warnings, "merged unfinished"));  // trial 1 is unfinished
}

// Two final copies at the same step: the finished one is the result, whichever input is first.
TEST(ResultsMerge, ADoneCopyBeatsAFailedOneAtTheSameStep) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0}, TrialStatus::failed, 50);
  write_shard(dir.file("b.h5"), {0}, TrialStatus::done, 50);
  trm::storage::merge_results(dir.file("m.h5"), {dir.file("a.h5"), dir.file("b.h5")},
                              t::sample_trials(1));
  EXPECT_EQ(ResultsReader(dir.file("m.h5")).trials()[0].status, TrialStatus::done);
}

TEST(ResultsMerge, ATrialInNoInputStaysPendingWithAWarning) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0}, TrialStatus::done, 10);
  const auto report =
      trm::storage::merge_results(dir.file("m.h5"), {dir.file("a.h5")}, t::sample_trials(3));
  ResultsReader r(dir.file("m.h5"));
  const auto rows = r.trials();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].status, TrialStatus::done);
  EXPECT_EQ(rows[2].status, TrialStatus::pending);
  EXPECT_EQ(rows[2].id, t::sample_trial(2).id);
  EXPECT_EQ(r.config(2), t::sample_trial(2).config);
  EXPECT_EQ(r.train_rows(2), 0);
  EXPECT_EQ(report.copied, 1);
  EXPECT_TRUE(mentions(report.warnings, t::sample_trial(1).id + ") is in no input"));
  EXPECT_TRUE(mentions(report.warnings, t::sample_trial(2).id + ") is in no input"));
}

TEST(ResultsMerge, ShardsOfAnotherSpecAreRefusedNamingTheFileAndBothHashes) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0}, TrialStatus::done, 10);
  write_shard(dir.file("b.h5"), {1}, TrialStatus::done, 10, "fedcba9876543210");
  try {
    trm::storage::merge_results(dir.file("m.h5"), {dir.file("a.h5"), dir.file("b.h5")},
                                t::sample_trials(2));
    FAIL() << "merged two specs";
  } catch (const trm::storage::StorageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(dir.file("b.h5")), std::string::npos) << what;
    EXPECT_NE(what.find("fedcba9876543210"), std::string::npos) << what;
    EXPECT_NE(what.find(t::sample_header().spec_hash), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("m.h5")));
}

TEST(ResultsMerge, AnExistingOutputOrAMissingInputIsRefused) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0}, TrialStatus::done, 10);
  write_shard(dir.file("m.h5"), {1}, TrialStatus::done, 10);
  EXPECT_THROW(
      trm::storage::merge_results(dir.file("m.h5"), {dir.file("a.h5")}, t::sample_trials(2)),
      trm::storage::StorageError);
  EXPECT_EQ(ResultsReader(dir.file("m.h5")).trials()[0].id, t::sample_trial(1).id);  // untouched
  EXPECT_THROW(
      trm::storage::merge_results(dir.file("n.h5"), {dir.file("nope.h5")}, t::sample_trials(2)),
      trm::storage::StorageError);
  EXPECT_THROW(trm::storage::merge_results(dir.file("n.h5"), {}, t::sample_trials(2)),
               trm::storage::StorageError);
}

// A shard whose run still writes it is refused: merged half done, a resume of the merged file
// would start its running trials a second time. Once its writer has closed it, it merges.
TEST(ResultsMerge, AShardStillBeingWrittenIsRefused) {
  t::TempDir dir;
  write_shard(dir.file("a.h5"), {0}, TrialStatus::done, 10);
  {
    auto live = ResultsWriter::open(dir.file("a.h5"));  // holds the journal's lock
    try {
      trm::storage::merge_results(dir.file("m.h5"), {dir.file("a.h5")}, t::sample_trials(1));
      FAIL() << "a shard being written was merged";
    } catch (const trm::storage::StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("is being written by a running sweep"),
                std::string::npos)
          << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("m.h5")));
    live.close();
  }
  trm::storage::merge_results(dir.file("m.h5"), {dir.file("a.h5")}, t::sample_trials(1));
  EXPECT_EQ(ResultsReader(dir.file("m.h5")).trials()[0].status, TrialStatus::done);
}

}  // namespace
