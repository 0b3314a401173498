// Training throughput of the whole trainer (core::Trainer::train_step through train_loop, with
// the data sampler, batch assembly, metric read-out and a JSON-lines sink) against the bare step
// on a fixed batch (act_step, loss, backward, AdamATan2, sign-SGD, EMA): the loop's overhead.
// Both are timed in alternating rounds in one run, so machine noise hits them alike.
//
// Usage: bench_trainer [--threads N] [--seconds S] [--quick]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "core/act.h"
#include "core/ema.h"
#include "core/heap.h"
#include "core/loss.h"
#include "core/optimizers.h"
#include "core/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;
using trm::core::TrialConfig;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The bare step: what bench_model times, plus the EMA update the trainer also does.
class BareStep {
 public:
  explicit BareStep(const TrialConfig& c)
      : c_(c),
        model_(trm::core::make_model(c.model, c10::Device(c10::kCPU))),
        adam_(model_->trainable_parameters(), trm::core::AdamATan2Options(1e-4)),
        ema_(model_, 0.999) {
    const int64_t B = c.train.batch_size, S = c.model.seq_len;
    batch_ = {at::randint(1, c.model.vocab_size, {B, S}, at::kInt),
              at::randint(2, c.model.vocab_size, {B, S}, at::kInt), at::zeros({B}, at::kInt)};
    carry_ = trm::core::initial_carry(model_, batch_);
  }
  void step() {
    const auto out = trm::core::act_step(model_, carry_, batch_);
    const auto loss = trm::core::act_loss(c_.model, carry_, out);
    (loss.total / static_cast<double>(c_.train.batch_size)).backward();
    adam_.step();
    if (c_.model.puzzle_emb_ndim > 0) {
      trm::core::sparse_sign_sgd_step(*model_->puzzle_emb(), 1e-4, 1.0);
    }
    for (auto& p : model_->trainable_parameters()) p.mutable_grad() = at::Tensor();
    ema_.update(model_);
  }

 private:
  TrialConfig c_;
  trm::core::TrmModel model_;
  trm::core::AdamATan2 adam_;
  trm::core::Ema ema_;
  trm::core::Batch batch_;
  trm::core::Carry carry_;
};

// What the train verb's sink does per step, minus the disk: format one JSON line.
class JsonSink : public trm::core::MetricSink {
 public:
  void on_train(const trm::core::TrainRecord& r) override {
    std::ostringstream line;
    trm::core::TrainRecord::visit_fields(
        r, [&](std::string_view name, const auto& v) { line << '"' << name << "\":" << v << ','; });
    bytes_ += line.str().size();
  }
  void on_eval(const trm::core::EvalRecord&) override {}
  size_t bytes_ = 0;
};

struct Case {
  std::string name;
  TrialConfig c;
};

TrialConfig sudoku_case(int64_t hidden, int64_t t, int64_t n, int64_t batch) {
  TrialConfig c;
  c.model.hidden_size = hidden;
  c.model.h_cycles = t;
  c.model.l_cycles = n;
  c.model.puzzle_emb_ndim = hidden;
  c.model.forward_dtype = trm::core::ForwardDtype::float32;
  c.train.batch_size = batch;
  c.train.steps = 1000000;  // never reached: the benchmark stops by time
  c.data.train_puzzles = 40;
  c.data.num_aug = 10;
  c.data.test_puzzles = 4;
  c.data.givens = 30;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double budget = 40.0;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
      budget = std::stod(argv[++i]);
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bench_trainer [--threads N] [--seconds S] [--quick]\n");
      return 2;
    }
  }
  trm::core::keep_freed_memory_for_reuse();  // as the train verb does
  at::set_num_threads(threads);

  std::vector<Case> cases;
  TrialConfig quick4;  // configs/quick_train.toml's model and batch
  quick4.model.hidden_size = 64;
  quick4.model.num_heads = 4;
  quick4.model.vocab_size = 6;
  quick4.model.seq_len = 16;
  quick4.model.h_cycles = 2;
  quick4.model.l_cycles = 2;
  quick4.model.puzzle_emb_ndim = 64;
  quick4.model.puzzle_emb_len = 1;
  quick4.model.halt_max_steps = 8;
  quick4.train.batch_size = 64;
  quick4.train.steps = 1000000;
  quick4.data = {.source = trm::core::DataSource::sudoku,
                 .box = 2,
                 .train_puzzles = 200,
                 .givens = 6,
                 .num_aug = 100,
                 .test_puzzles = 20,
                 .seed = 0,
                 .path = {}};
  cases.push_back({"quick_train 4x4 D64 b64", quick4});
  if (!quick) {
    cases.push_back({"small 9x9 D128 T2 n2 b32", sudoku_case(128, 2, 2, 32)});
    cases.push_back({"sudoku-mlp 9x9 D512 T3 n6 b32", sudoku_case(512, 3, 6, 32)});
  }
  const int rounds = quick ? 2 : 4;
  std::printf("threads %d; %d alternating rounds of bare step and trainer step per config\n\n",
              threads, rounds);
  std::printf("| config | bare step ex/s | trainer ex/s | loop overhead | steps timed |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (auto& k : cases) {
    at::manual_seed(0);
    BareStep bare(k.c);
    const auto data = trm::core::make_trial_data(k.c.data);
    trm::core::Trainer trainer(k.c, data, c10::Device(c10::kCPU));
    JsonSink sink;
    bare.step();  // warm-up both
    sink.on_train(trainer.train_step());
    const double slice = (quick ? 1.0 : budget) / (2.0 * rounds);
    double bare_s = 0, trainer_s = 0;
    int64_t bare_n = 0, trainer_n = 0;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = Clock::now();
      do {
        bare.step();
        ++bare_n;
      } while (seconds_since(t0) < slice);
      bare_s += seconds_since(t0);
      t0 = Clock::now();
      do {
        sink.on_train(trainer.train_step());
        ++trainer_n;
      } while (seconds_since(t0) < slice);
      trainer_s += seconds_since(t0);
    }
    const double B = static_cast<double>(k.c.train.batch_size);
    const double bare_rate = B * bare_n / bare_s, trainer_rate = B * trainer_n / trainer_s;
    std::printf("| %s | %.2f | %.2f | %+.1f%% | %lld + %lld |\n", k.name.c_str(), bare_rate,
                trainer_rate, 100.0 * (bare_rate / trainer_rate - 1.0),
                static_cast<long long>(bare_n), static_cast<long long>(trainer_n));
    std::fflush(stdout);
  }
  return 0;
}
