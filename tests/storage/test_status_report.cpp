#include <gtest/gtest.h>

#include "storage/results_file.h"
#include "storage_test_util.h"

namespace trm::storage {
namespace {

using testing::TempDir;

// Four trials: done, running, oom, pending; a failed-then-retried error on the oom one.
std::string sample_file(const TempDir& dir) {
  const std::string path = dir.file("status.h5");
  ResultsWriter w =
      ResultsWriter::create(path, testing::sample_header(), testing::sample_trials(4));
  std::vector<TrialRow> rows = w.trials();
  rows[0].status = TrialStatus::done;
  rows[0].step = 100;
  rows[0].rank = 1;
  rows[0].device = "cuda:0";
  rows[0].wall_s = 3723;
  rows[1].status = TrialStatus::running;
  rows[1].step = 40;
  rows[1].rank = 2;
  rows[1].device = "cuda:1";
  rows[1].started = 1000;
  rows[2].status = TrialStatus::oom;
  rows[2].measured_peak_bytes = int64_t{5} << 29;  // 2.5 GiB
  rows[2].finished = 900;
  rows[2].error = "Traceback (most recent call last):\nRuntimeError: CUDA out of memory\n";
  for (const auto& row : rows) w.update_trial(row);
  std::vector<core::TrainRecord> train{testing::train_record(1, 0), testing::train_record(1, 1)};
  train[1].exact_accuracy = 0.4375;
  w.append_train(1, train);
  core::EvalRecord eval = testing::eval_record(0, 100);
  eval.exact_accuracy = 0.875;
  w.append_eval(0, std::span(&eval, 1));
  return path;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(StorageStatus, TextCountsStatusesAndShowsEachTrialOomCellsAndErrors) {
  const TempDir dir;
  const ResultsReader reader(sample_file(dir));
  const std::string text = format_status(reader, {.now = 1125});
  EXPECT_TRUE(contains(text,
                       "4 trials: pending 1, running 1, done 1, oom 1, oom_predicted 0, "
                       "failed 0, interrupted 0"))
      << text;
  EXPECT_TRUE(contains(text, "sweep sample (spec 0123456789ab), created 2025-11-30T09:00:00Z"))
      << text;
  EXPECT_TRUE(contains(text, "step/total")) << text;
  // done trial: eval exact 0.875, 1h02m of wall time, rank 1 on cuda:0
  EXPECT_TRUE(contains(text, "100/100")) << text;
  EXPECT_TRUE(contains(text, "0.875")) << text;
  EXPECT_TRUE(contains(text, "1h02m")) << text;
  // running trial: last train exact 0.438, started 125 s before `now`
  EXPECT_TRUE(contains(text, "40/100")) << text;
  EXPECT_TRUE(contains(text, "0.438")) << text;
  EXPECT_TRUE(contains(text, "2m05s")) << text;
  EXPECT_TRUE(contains(text, "Out of memory (peak memory predicted vs measured)")) << text;
  EXPECT_TRUE(contains(text, "3.0 GiB")) << text;  // trial 2 predicted (sample_trial: 3 GiB)
  EXPECT_TRUE(contains(text, "2.5 GiB")) << text;
  // The first line (what ended it) and the last (the end of its output), in one line.
  EXPECT_TRUE(contains(text,
                       "2 h_cycles=3 (oom): Traceback (most recent call last): ... RuntimeError: "
                       "CUDA out of memory\n"))
      << text;
}

// A run killed with kill -9 leaves trials recorded running: their time stopped with it.
TEST(StorageStatus, TrialsCutOffByAKilledRunShowNoGrowingTime) {
  const TempDir dir;
  const ResultsReader reader(sample_file(dir));
  const std::string live = format_status(reader, {.now = 1125});
  EXPECT_TRUE(contains(live, "2m05s")) << live;
  const std::string later = format_status(reader, {.now = 99999, .writer_gone = true});
  EXPECT_FALSE(contains(later, "27h")) << later;
  EXPECT_FALSE(contains(later, "2m05s")) << later;
  const std::string json =
      format_status(reader, {.format = StatusFormat::json, .now = 99999, .writer_gone = true});
  EXPECT_FALSE(contains(json, "\"elapsed_s\": 98999")) << json;
}

// A resumed trial: 40 steps done, 100 s into this attempt after 300 s of earlier ones. The pace
// is 400 s for 40 steps, 60 to go: 10 minutes, not the 2m30s that this attempt alone suggests.
TEST(StorageStatus, AResumedTrialsEtaCountsTheEarlierAttemptsTime) {
  const TempDir dir;
  const std::string path = sample_file(dir);
  {
    ResultsWriter w = ResultsWriter::open(path);
    TrialRow row = w.trials()[1];
    row.attempts = 2;
    row.wall_s = 300;
    w.update_trial(row);
    w.close();
  }
  const ResultsReader reader(path);
  const std::string json = format_status(reader, {.format = StatusFormat::json, .now = 1100});
  EXPECT_TRUE(contains(json, "\"elapsed_s\": 400, \"eta_s\": 600")) << json;
  EXPECT_TRUE(contains(format_status(reader, {.now = 1100}), "10m00s"));
}

// A trial stopped by a signal keeps its stderr tail (progress lines): not an error to list.
TEST(StorageStatus, AnInterruptedTrialIsNoRecentError) {
  const TempDir dir;
  const std::string path = sample_file(dir);
  {
    ResultsWriter w = ResultsWriter::open(path);
    TrialRow row = w.trials()[3];
    row.status = TrialStatus::interrupted;
    row.step = 7;
    row.error = "exit 5: train step 7/100  loss 2.0603\nstopped at step 7 (signal)\n";
    w.update_trial(row);
    w.close();
  }
  const ResultsReader reader(path);
  const std::string text = format_status(reader, {.now = 1125});
  EXPECT_TRUE(contains(text, "interrupted 1")) << text;
  EXPECT_FALSE(contains(text, "loss 2.0603")) << text;
  EXPECT_TRUE(contains(text, "RuntimeError: CUDA out of memory")) << text;  // the oom one stays
  const std::string json = format_status(reader, {.format = StatusFormat::json, .now = 1125});
  EXPECT_FALSE(contains(json.substr(json.find("\"recent_errors\"")), "loss 2.0603")) << json;
}

TEST(StorageStatus, JsonHasCountsTrialsAndNullForUnknownValues) {
  const TempDir dir;
  const ResultsReader reader(sample_file(dir));
  const std::string json = format_status(reader, {.format = StatusFormat::json, .now = 1125});
  EXPECT_EQ(json.front(), '{');
  EXPECT_TRUE(contains(json, "\"counts\": {\"pending\": 1, \"running\": 1, \"done\": 1")) << json;
  EXPECT_TRUE(contains(json, "\"status\": \"oom\"")) << json;
  EXPECT_TRUE(contains(json, "\"eval_exact_accuracy\": 0.875")) << json;
  EXPECT_TRUE(contains(json, "\"train_exact_accuracy\": null")) << json;  // trial 0: no train
  EXPECT_TRUE(contains(json, "\"elapsed_s\": 125")) << json;
  EXPECT_TRUE(contains(json, "\"measured_peak_bytes\": 2684354560")) << json;
  EXPECT_TRUE(contains(json, "RuntimeError: CUDA out of memory\\n\"")) << json;  // escaped
  EXPECT_FALSE(contains(json, "\"spec\"")) << json;
  EXPECT_FALSE(contains(json, "nan")) << json;
}

}  // namespace
}  // namespace trm::storage
