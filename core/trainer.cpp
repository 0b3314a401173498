#include "core/trainer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>

#include "core/loss.h"

namespace trm::core {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// torch's default generators: CPU (initial weights) and the device's (exploration draws).
void seed_torch(uint64_t seed, const c10::Device& device) {
  auto cpu = at::globalContext().defaultGenerator(c10::Device(c10::kCPU));
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_current_seed(seed);
  }
  if (!device.is_cpu()) {
    auto gen = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
}

double ratio(double sum, int64_t count) {
  return sum / static_cast<double>(std::max<int64_t>(1, count));
}

}  // namespace

Trainer::Trainer(const TrialConfig& config, const TrialData& data, c10::Device device)
    : config_(config),
      data_(data),
      device_(device),
      sampler_(data.train, static_cast<uint64_t>(config.train.seed)) {
  validate(config_);
  const auto& t = config_.train;
  const double mean_examples = static_cast<double>(data.train.num_examples()) /
                               static_cast<double>(data.train.num_puzzles());
  total_steps_ = core::total_steps(t, data.train.num_groups(), mean_examples);
  seed_torch(static_cast<uint64_t>(t.seed), device_);
  model_ = make_model(config_.model, device_);
  model_->train();
  adam_ = std::make_unique<AdamATan2>(
      model_->trainable_parameters(),
      AdamATan2Options(t.lr).beta1(t.beta1).beta2(t.beta2).weight_decay(t.weight_decay));
  if (t.ema) ema_.emplace(model_, t.ema_rate);
  if (data_.arc && t.arc_aggregated_voting) arc_votes_.emplace(*data_.arc);
}

std::vector<at::Tensor> Trainer::optimized_parameters() const {
  return model_->trainable_parameters();
}

Batch Trainer::make_batch(const PuzzleArrays& split, const std::vector<int64_t>& examples,
                          int64_t rows) const {
  // Rows past the examples are padding: pad inputs, no labels, the blank puzzle id (§3.2).
  const int64_t S = split.seq_len;
  auto inputs = at::zeros({rows, S}, at::kInt);
  auto labels = at::full({rows, S}, kIgnoreLabel, at::kInt);
  auto ids = at::zeros({rows}, at::kInt);
  auto* in = inputs.data_ptr<int32_t>();
  auto* lab = labels.data_ptr<int32_t>();
  auto* id = ids.data_ptr<int32_t>();
  for (size_t r = 0; r < examples.size(); ++r) {
    const auto e = static_cast<size_t>(examples[r]);
    for (int64_t s = 0; s < S; ++s) {
      in[r * S + s] = split.inputs[e * S + s];
      const uint8_t label = split.labels[e * S + s];  // 0 = ignore (the loader's -100)
      lab[r * S + s] = label == 0 ? static_cast<int32_t>(kIgnoreLabel) : label;
    }
  }
  if (&split == &data_.train) {
    for (size_t r = 0; r < examples.size(); ++r) id[r] = sampler_.puzzle_id_of(examples[r]);
  } else {
    // Test puzzles: the id of the puzzle owning each example (CSR lookup).
    for (size_t r = 0; r < examples.size(); ++r) {
      const auto& pi = split.puzzle_indices;
      const auto it = std::upper_bound(pi.begin(), pi.end(), static_cast<int32_t>(examples[r]));
      id[r] = split.puzzle_identifiers[static_cast<size_t>(it - pi.begin() - 1)];
    }
  }
  return {inputs.to(device_), labels.to(device_), ids.to(device_)};
}

TrainRecord Trainer::train_step() {
  const auto t0 = Clock::now();
  const auto& t = config_.train;
  const int64_t B = t.batch_size;
  const Batch batch = make_batch(data_.train, sampler_.next(B), B);
  if (!carry_ready_) {
    carry_ = initial_carry(model_, batch);
    carry_ready_ = true;
  }
  // The reference counts the step before computing its learning rate (§5.2).
  ++step_;
  const double lr = scheduled_lr(step_, t.lr, t.lr_warmup_steps, total_steps_, t.lr_min_ratio);
  const double emb_lr =
      scheduled_lr(step_, t.puzzle_emb_lr, t.lr_warmup_steps, total_steps_, t.lr_min_ratio);

  const ActStep out = act_step(model_, carry_, batch);
  const LossTerms loss = act_loss(config_.model, carry_, out);
  (loss.total / static_cast<double>(B)).backward();

  static_cast<AdamATan2Options&>(adam_->param_groups()[0].options()).lr(lr);
  adam_->step();
  if (config_.model.puzzle_emb_ndim > 0) {
    sparse_sign_sgd_step(*model_->puzzle_emb(), emb_lr, t.puzzle_emb_weight_decay);
  }
  // Gradients are dropped, not zeroed, as torch's set_to_none: a parameter that gets no
  // gradient next step is then skipped, the same after a resume as without one.
  for (auto& p : optimized_parameters()) p.mutable_grad() = at::Tensor();
  if (ema_) ema_->update(model_);

  TrainRecord r;
  r.step = step_;
  r.lr = lr;
  const double b = static_cast<double>(B);
  r.lm_loss = loss.lm_loss.item<double>() / b;
  r.q_halt_loss = loss.q_halt_loss.item<double>() / b;
  r.q_continue_loss = loss.q_continue_loss.item<double>() / b;
  r.loss = r.lm_loss + 0.5 * (r.q_halt_loss + r.q_continue_loss);
  const auto& m = loss.metrics;
  r.count = m.count.item<int64_t>();
  r.accuracy = ratio(m.accuracy.item<double>(), r.count);
  r.exact_accuracy = ratio(static_cast<double>(m.exact_accuracy.item<int64_t>()), r.count);
  r.q_halt_accuracy = ratio(static_cast<double>(m.q_halt_accuracy.item<int64_t>()), r.count);
  r.steps = ratio(static_cast<double>(m.steps.item<int64_t>()), r.count);
  r.examples_per_s = b / std::max(1e-9, seconds_since(t0));
  return r;
}

EvalRecord Trainer::evaluate() {
  const auto t0 = Clock::now();
  at::NoGradGuard no_grad;
  model_->eval();
  std::optional<Ema::Applied> shadow;
  if (ema_) shadow.emplace(*ema_, model_);

  const auto& test = data_.test;
  // Batches of train.batch_size, the last one padded, even when the whole split is smaller (§3.2):
  // a padding row (no labels) counts as solved, so it adds BCE(q_halt, 1) to q_halt_loss, as in
  // the reference; the other sums and the count leave it out.
  const int64_t rows = config_.train.batch_size;
  double lm = 0, q_halt = 0, accuracy = 0, exact = 0, q_acc = 0, steps = 0;
  int64_t count = 0;
  // ARC: this evaluation's votes, or the run's pooled ones (train.arc_aggregated_voting).
  std::optional<ArcVoter> own_votes;
  ArcVoter* arc = arc_votes_ ? &*arc_votes_ : nullptr;
  if (data_.arc && arc == nullptr) arc = &own_votes.emplace(*data_.arc);
  for (int64_t first = 0; first < test.num_examples(); first += rows) {
    std::vector<int64_t> examples;
    for (int64_t e = first; e < std::min(first + rows, test.num_examples()); ++e) {
      examples.push_back(e);
    }
    const Batch batch = make_batch(test, examples, rows);
    Carry carry = initial_carry(model_, batch);
    ActStep last;
    for (int64_t s = 0; s < config_.model.halt_max_steps; ++s)
      last = act_step(model_, carry, batch);
    const LossTerms loss = act_loss(config_.model, carry, last);
    lm += loss.lm_loss.item<double>();
    q_halt += loss.q_halt_loss.item<double>();
    const auto& m = loss.metrics;
    count += m.count.item<int64_t>();
    accuracy += m.accuracy.item<double>();
    exact += static_cast<double>(m.exact_accuracy.item<int64_t>());
    q_acc += static_cast<double>(m.q_halt_accuracy.item<int64_t>());
    steps += static_cast<double>(m.steps.item<int64_t>());
    if (arc) {
      // ARC's evaluator takes each real row's argmax tokens after the last step and
      // sigmoid(q_halt) computed in float64 (evaluators/arc.py).
      const auto n = static_cast<int64_t>(examples.size());
      const at::Tensor ids =
          batch.puzzle_identifiers.slice(0, 0, n).to(at::kCPU, at::kLong).contiguous();
      const at::Tensor inputs = batch.inputs.slice(0, 0, n).to(at::kCPU, at::kByte).contiguous();
      const at::Tensor predictions =
          last.out.logits.slice(0, 0, n).argmax(-1).to(at::kCPU, at::kByte).contiguous();
      const at::Tensor q =
          last.out.q_halt.slice(0, 0, n).to(at::kCPU, at::kDouble).sigmoid().contiguous();
      const int64_t len = inputs.size(1);
      for (int64_t i = 0; i < n; ++i) {
        arc->add(ids.data_ptr<int64_t>()[i], inputs.data_ptr<uint8_t>() + i * len,
                 predictions.data_ptr<uint8_t>() + i * len, q.data_ptr<double>()[i]);
      }
    }
  }
  shadow.reset();
  model_->train();

  EvalRecord r;
  r.step = step_;
  r.count = count;
  r.lm_loss = ratio(lm, count);
  r.q_halt_loss = ratio(q_halt, count);
  r.accuracy = ratio(accuracy, count);
  r.exact_accuracy = ratio(exact, count);
  r.q_halt_accuracy = ratio(q_acc, count);
  r.steps = ratio(steps, count);
  if (arc) {
    static_assert(kArcPassK == std::array<int64_t, 6>{1, 2, 5, 10, 100, 1000},
                  "EvalRecord's pass_at_K columns");
    const auto pass = arc->pass_at();
    r.pass_at_1 = pass[0];
    r.pass_at_2 = pass[1];
    r.pass_at_5 = pass[2];
    r.pass_at_10 = pass[3];
    r.pass_at_100 = pass[4];
    r.pass_at_1000 = pass[5];
  }
  if (own_votes) last_arc_votes_ = std::move(own_votes);
  r.seconds = seconds_since(t0);
  return r;
}

std::string Trainer::arc_submission() const {
  if (arc_votes_ && arc_votes_->predictions() > 0) return arc_votes_->submission();
  if (last_arc_votes_) return last_arc_votes_->submission();
  return "";
}

LoopEnd train_loop(Trainer& trainer, MetricSink& sink, const LoopControl& control) {
  const int64_t total = trainer.total_steps();
  const int64_t eval_interval = trainer.config().train.eval_interval;
  auto checkpoint = [&] {
    if (control.checkpoint) control.checkpoint();
  };
  // Resumed at or past --stop-at: stop where it is (it trained one more step before).
  if (control.stop_at_step > 0 && trainer.step() >= control.stop_at_step && trainer.step() < total)
    return LoopEnd::stopped;
  while (trainer.step() < total) {
    sink.on_train(trainer.train_step());
    const int64_t step = trainer.step();
    bool saved = false;
    if (eval_interval > 0 && step % eval_interval == 0 && step < total) {
      sink.on_eval(trainer.evaluate());
      checkpoint();
      saved = true;
    }
    if (!saved && control.checkpoint_every > 0 && step % control.checkpoint_every == 0 &&
        step < total) {
      checkpoint();
      saved = true;
    }
    const bool stop = (control.stop_at_step > 0 && step >= control.stop_at_step) ||
                      (control.stop_requested && control.stop_requested());
    if (stop && step < total) {
      if (!saved) checkpoint();
      return LoopEnd::stopped;
    }
  }
  // The checkpoint first: it records the metrics up to here, so running a finished trial again
  // evaluates once more and writes the same last line in place of the old one, not a second.
  checkpoint();
  sink.on_eval(trainer.evaluate());
  return LoopEnd::finished;
}

}  // namespace trm::core
