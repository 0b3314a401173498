// Test helper for the h5py check: writes a small, fixed results file, or prints its status.
//   storage_example_writer write FILE | status FILE
#include <cstdio>
#include <string>

#include "storage/results_file.h"
#include "storage_test_util.h"

using namespace trm::storage;

namespace {

void write(const std::string& path) {
  ResultsWriter w =
      ResultsWriter::create(path, testing::sample_header(), testing::sample_trials(3));
  TrialRow done = w.trials()[0];
  done.status = TrialStatus::done;
  done.step = 10;
  done.device = "cpu";
  done.final_exact_accuracy = 0.5;
  w.update_trial(done);
  TrialRow oom = w.trials()[1];
  oom.status = TrialStatus::oom;
  oom.measured_peak_bytes = int64_t{3} << 30;
  oom.error = "CUDA out of memory";
  w.update_trial(oom);
  for (int64_t t = 0; t < 2; ++t) {
    std::vector<trm::core::TrainRecord> train;
    for (int64_t s = 0; s < 10; ++s) train.push_back(testing::train_record(t, s));
    w.append_train(t, train);
    const std::vector<trm::core::EvalRecord> eval{testing::eval_record(t, 5),
                                                  testing::eval_record(t, 10)};
    w.append_eval(t, eval);
  }
  w.log_event(Event{1764494000.0, -1, "start", "sweep started"});
  w.log_event(Event{1764494100.0, 1, "oom", "trial 1 ran out of memory"});
  w.close();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: storage_example_writer write|status FILE\n");
    return 2;
  }
  try {
    const std::string verb = argv[1];
    if (verb == "write") write(argv[2]);
    if (verb == "status") {
      std::fputs(format_status(ResultsReader(argv[2]), {.format = StatusFormat::json}).c_str(),
                 stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "storage_example_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
