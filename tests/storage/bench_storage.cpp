// Benchmark of the results file (not a test): the cost of one durable train record appended per
// step, and the time `trm-sweep status` needs on a big sweep (100 trials x 10,000 steps).
// Prints a Markdown table.   bench_storage [FOLDER]   (default: $TMPDIR or /tmp)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/results_file.h"
#include "storage_test_util.h"

using namespace trm::storage;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void row(const std::string& what, const std::string& value) {
  std::printf("| %s | %s |\n", what.c_str(), value.c_str());
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void per_step(const std::string& folder, int64_t steps, int64_t batch) {
  const std::string path = folder + "/per-step-" + std::to_string(batch) + ".h5";
  ResultsWriter w =
      ResultsWriter::create(path, testing::sample_header(), testing::sample_trials(1));
  std::vector<double> micros;
  std::vector<trm::core::TrainRecord> records;
  const auto all = Clock::now();
  for (int64_t s = 0; s < steps; s += batch) {
    records.clear();
    for (int64_t k = 0; k < batch; ++k) records.push_back(testing::train_record(0, s + k));
    const auto start = Clock::now();
    w.append_train(0, records);
    micros.push_back(seconds_since(start) * 1e6);
  }
  const double total = seconds_since(all);
  std::sort(micros.begin(), micros.end());
  const auto pct = [&](double p) { return micros[static_cast<size_t>(p * (micros.size() - 1))]; };
  const std::string label =
      std::to_string(steps) + " train records, " + std::to_string(batch) + " per durable append";
  row(label + ": per record (mean)", fmt("%.1f us", total / static_cast<double>(steps) * 1e6));
  row(label + ": per call p50 / p99", fmt("%.0f us", pct(0.5)) + " / " + fmt("%.0f us", pct(0.99)));
}

void big_sweep(const std::string& folder, int64_t trials, int64_t steps) {
  const std::string path = folder + "/big.h5";
  const auto write_start = Clock::now();
  {
    ResultsWriter w = ResultsWriter::create(path, testing::sample_header(),
                                            testing::sample_trials(static_cast<int>(trials)));
    for (int64_t t = 0; t < trials; ++t) {
      std::vector<trm::core::TrainRecord> train;
      for (int64_t s = 0; s < steps; ++s) train.push_back(testing::train_record(t, s));
      w.append_train(t, train);
      std::vector<trm::core::EvalRecord> eval;
      for (int64_t s = 500; s <= steps; s += 500) eval.push_back(testing::eval_record(t, s));
      w.append_eval(t, eval);
      TrialRow r = w.trials()[static_cast<size_t>(t)];
      r.status = t % 3 == 0 ? TrialStatus::done : TrialStatus::running;
      r.step = steps;
      r.started = 1.7e9;
      w.update_trial(r);
    }
  }
  const std::string label =
      std::to_string(trials) + " trials x " + std::to_string(steps) + " steps";
  row(label + ": write (one call per trial)", fmt("%.2f s", seconds_since(write_start)));
  row(label + ": file / journal size",
      fmt("%.0f MiB", static_cast<double>(std::filesystem::file_size(path)) / (1 << 20)) + " / " +
          fmt("%.0f MiB",
              static_cast<double>(std::filesystem::file_size(journal_path(path))) / (1 << 20)));
  for (const auto format : {StatusFormat::text, StatusFormat::json}) {
    const auto start = Clock::now();
    const ResultsReader reader(path);
    const std::string status = format_status(reader, {.format = format});
    const double t = seconds_since(start);
    row(label + ": open + format_status (" + (format == StatusFormat::text ? "text" : "json") + ")",
        fmt("%.3f s", t) + fmt(" (%.0f bytes)", static_cast<double>(status.size())));
  }
  {
    const auto start = Clock::now();
    const ResultsReader reader(path);
    size_t n = 0;
    for (int64_t t = 0; t < trials; ++t) n += reader.train(t).size();
    row(label + ": read every train record",
        fmt("%.3f s", seconds_since(start)) + fmt(" (%.0f rows)", static_cast<double>(n)));
  }
  {
    const auto start = Clock::now();
    ResultsWriter w = ResultsWriter::open(path);
    row(label + ": writer open after a clean close", fmt("%.3f s", seconds_since(start)));
  }
  std::filesystem::remove(path);
  {
    const auto start = Clock::now();
    ResultsWriter w = ResultsWriter::open(path);
    row(label + ": writer open rebuilding from the journal (after a crash)",
        fmt("%.2f s", seconds_since(start)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = argc > 1 ? argv[1] : (tmp != nullptr ? tmp : "/tmp");
  const std::string folder = base + "/bench-storage-" + std::to_string(::getpid());
  std::filesystem::create_directories(folder);
  try {
    std::printf("| measurement | result |\n|---|---|\n");
    per_step(folder, 10000, 1);
    per_step(folder, 10000, 100);
    big_sweep(folder, 100, 10000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_storage: %s\n", e.what());
    std::filesystem::remove_all(folder);
    return 1;
  }
  std::filesystem::remove_all(folder);
  return 0;
}
