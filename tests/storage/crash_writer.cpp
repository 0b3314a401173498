// Test helper: writes a results file in a loop of random acknowledged changes and reports each
// one on stdout ("acked train 3 57" once trial 3 holds 57 train records durably) until it is
// killed. With "hold N" it stops after N changes, prints "held" and waits for stdin to close.
//   storage_crash_writer FILE SEED [hold N]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "storage/results_file.h"
#include "storage_test_util.h"

using namespace trm::storage;
using trm::storage::testing::eval_record;
using trm::storage::testing::sample_header;
using trm::storage::testing::sample_trial;
using trm::storage::testing::sample_trials;
using trm::storage::testing::train_record;

namespace {

constexpr int kFirstTrials = 6;
constexpr int kMostTrials = 12;

void ack(const std::string& line) {
  std::printf("acked %s\n", line.c_str());
  std::fflush(stdout);
}

// One random change; returns what was acknowledged.
std::string change(ResultsWriter& w, std::mt19937_64& rng) {
  const auto trials = static_cast<int64_t>(w.trials().size());
  const int64_t t = static_cast<int64_t>(rng() % static_cast<uint64_t>(trials));
  const int op = static_cast<int>(rng() % 100);
  if (op < 50) {
    std::vector<trm::core::TrainRecord> batch;
    const int64_t first = w.train_rows(t);
    for (int64_t k = 0; k < 1 + static_cast<int64_t>(rng() % 5); ++k) {
      batch.push_back(train_record(t, first + k));
    }
    w.append_train(t, batch);
    return "train " + std::to_string(t) + " " + std::to_string(w.train_rows(t));
  }
  if (op < 65) {
    const trm::core::EvalRecord record = eval_record(t, w.eval_rows(t));
    w.append_eval(t, std::span(&record, 1));
    return "eval " + std::to_string(t) + " " + std::to_string(w.eval_rows(t));
  }
  if (op < 90) {
    TrialRow row = w.trials()[static_cast<size_t>(t)];
    row.attempts += 1;
    row.status = static_cast<TrialStatus>(row.attempts % 7);
    row.rank = row.attempts % 3;
    row.host = "host-" + std::to_string(row.attempts);
    row.step = w.train_rows(t);
    row.error = "error text " + std::to_string(row.attempts);
    row.started = 1000.0 + static_cast<double>(row.attempts);
    w.update_trial(row);
    return "row " + std::to_string(t) + " " + std::to_string(row.attempts);
  }
  if (op < 95 || trials >= kMostTrials) {
    w.log_event(t, "note", "event of trial " + std::to_string(t));
    return "event";
  }
  w.add_trials({sample_trial(static_cast<int>(trials))});
  return "trials " + std::to_string(w.trials().size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: storage_crash_writer FILE SEED [hold N]\n");
    return 2;
  }
  const std::string path = argv[1];
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  const long hold = argc == 5 ? std::strtol(argv[4], nullptr, 10) : -1;
  try {
    const bool fresh = !std::ifstream(path).good() && !std::ifstream(journal_path(path)).good();
    ResultsWriter w =
        fresh ? ResultsWriter::create(path, sample_header(), sample_trials(kFirstTrials))
              : ResultsWriter::open(path);
    ack(fresh ? "trials " + std::to_string(kFirstTrials) : std::string("open"));
    for (long n = 0; hold < 0 || n < hold; ++n) ack(change(w, rng));
    std::printf("held\n");
    std::fflush(stdout);
    std::string ignored;
    while (std::getline(std::cin, ignored)) {
    }
    w.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "storage_crash_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
