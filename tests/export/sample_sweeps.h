// Deterministic results files for the export tests, written through ResultsWriter from a real
// spec (expanded as `run` does), with fixed statuses, metrics and curves: no training needed.
//   "ablation": 3 seeds; base done, a variant with a failed seed, one all OOM, one partly
//               pending, one pending.
//   "grid":     T x n grid with done, OOM, predicted-OOM and failed cells, and two attention
//               variants that form a second grid.
//   "empty":    no trial finished.
//   "ended":    the grid's spec, every trial ended without a result (OOM, predicted OOM, failed).
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/results_writer.h"
#include "sweep/expand.h"
#include "sweep/spec.h"

namespace trm::exporttest {

inline const char* kBase = R"(
[base]
model.hidden_size = 64
model.num_heads = 4
model.layers = 2
model.h_cycles = 2
model.l_cycles = 2
model.vocab_size = 6
model.seq_len = 16
model.puzzle_emb_ndim = 64
model.puzzle_emb_len = 1
model.halt_max_steps = 8
train.batch_size = 64
train.steps = 100
train.eval_interval = 50
data.box = 2
data.givens = 6
data.train_puzzles = 20
data.num_aug = 10
data.test_puzzles = 20
)";

inline std::string sample_spec(const std::string& which) {
  if (which == "ablation") {
    return std::string("[sweep]\nname = \"sample_ablation\"\nseeds = 3\n") + kBase + R"(
[[variant]]
name = "w/ ACT"
model.halting = "act"

[[variant]]
name = "no EMA"
train.ema = false

[[variant]]
name = "w/ T = 4"
model.h_cycles = 4

[[variant]]
name = "w/ 1 layer"
model.layers = 1

[[table]]
name = "ablation"
kind = "ablation"
metric = "exact_accuracy"

[[table]]
name = "all"
kind = "raw"
)";
  }
  if (which == "grid" || which == "empty" || which == "ended") {
    return "[sweep]\nname = \"sample_" + which + "\"\nseeds = 1\n" + kBase + R"(
[grid]
model.h_cycles = [1, 2, 3]
model.l_cycles = [1, 2]

[[variant]]
name = "attention T=1 n=1"
model.mixer = "attention"
model.pos_encodings = "rope"
model.h_cycles = 1
model.l_cycles = 1

[[variant]]
name = "attention T=2 n=2"
model.mixer = "attention"
model.pos_encodings = "rope"
model.h_cycles = 2
model.l_cycles = 2

[[table]]
name = "recursion"
kind = "grid"
rows = "model.h_cycles"
cols = "model.l_cycles"

[[table]]
name = "ablation"
kind = "ablation"

[[table]]
name = "all"
kind = "raw"
)";
  }
  throw std::invalid_argument("no sample sweep " + which);
}

// The fate of a trial of a sample: status and final exact accuracy (NaN = none).
struct Fate {
  storage::TrialStatus status;
  double exact;
};

inline Fate fate_of(const std::string& which, const sweep::Trial& t) {
  using S = storage::TrialStatus;
  const double seed = static_cast<double>(t.seed);
  if (which == "empty") return {t.index % 2 ? S::running : S::pending, NAN};
  if (which == "ended") {
    const S fates[] = {S::oom, S::oom_predicted, S::failed};
    return {fates[t.index % 3], NAN};
  }
  if (which == "ablation") {
    if (t.variant.empty()) return {S::done, 0.80 + 0.02 * seed};  // 0.80 0.82 0.84
    if (t.variant == "w/ ACT")
      return t.seed == 2 ? Fate{S::failed, NAN} : Fate{S::done, 0.7 + 0.04 * seed};
    if (t.variant == "no EMA") return {S::oom, NAN};
    if (t.variant == "w/ T = 4") return t.seed == 0 ? Fate{S::done, 0.9} : Fate{S::pending, NAN};
    return {S::pending, NAN};
  }
  const std::string& n = t.name;
  if (n == "h_cycles=2 l_cycles=2") return {S::oom, NAN};
  if (n == "h_cycles=3 l_cycles=1") return {S::failed, NAN};
  if (n == "h_cycles=3 l_cycles=2") return {S::oom_predicted, NAN};
  if (n == "attention T=2 n=2") return {S::pending, NAN};
  return {S::done, 0.5 + 0.05 * static_cast<double>(t.index)};
}

inline std::vector<core::TrainRecord> sample_train(double exact) {
  std::vector<core::TrainRecord> out;
  for (int64_t step = 10; step <= 100; step += 10) {
    const double f = static_cast<double>(step) / 100.0;
    core::TrainRecord r;
    r.step = step;
    r.lr = 1e-3;
    r.loss = 2.0 - f;
    r.lm_loss = 1.5 - f;
    r.accuracy = 0.5 + 0.45 * f;
    r.exact_accuracy = exact * f;
    r.q_halt_accuracy = 0.9;
    r.steps = 4;
    r.count = 64;
    r.examples_per_s = 1000;
    out.push_back(r);
  }
  return out;
}

// With `arc`, as if ARC's evaluator had run: pass@1 half the exact accuracy, pass@2 equal to it.
inline std::vector<core::EvalRecord> sample_eval(double exact, bool arc) {
  std::vector<core::EvalRecord> out;
  for (const int64_t step : {50, 100}) {
    core::EvalRecord r;
    r.step = step;
    r.lm_loss = step == 50 ? 0.9 : 0.6;
    r.accuracy = step == 50 ? 0.8 : 0.9;
    r.exact_accuracy = step == 50 ? exact - 0.1 : exact;
    r.q_halt_accuracy = 0.85;
    r.steps = 8;
    r.count = 20;
    r.seconds = 1.5;
    if (arc) {
      r.pass_at_1 = r.exact_accuracy / 2;
      r.pass_at_2 = r.exact_accuracy;
    }
    out.push_back(r);
  }
  return out;
}

// Writes sample `which` ("ablation", "grid", "empty", "ended") to `path` (which must not exist);
// with `spec_text`, that spec's trials, all pending ("empty").
inline void write_sample(const std::string& path, const std::string& which,
                         const std::string& spec_text = "") {
  const auto spec =
      // As stored: a test's spec may hold what a file written before a check was added holds
      // (a name with a line break), which export must still handle.
      sweep::parse_spec_text(spec_text.empty() ? sample_spec(which) : spec_text, which + ".toml",
                             /*stored=*/true);
  const auto expansion = sweep::expand(spec);
  storage::SweepHeader header;
  header.spec_toml = spec.text;
  header.spec_hash = spec.hash;
  header.created = "2025-11-30T09:00:00Z";
  header.tool_version = "0.1.0";
  header.git_revision = "abc1234";
  header.host = "node01";
  header.torch_version = "1.13.1";
  header.sweep_name = spec.sweep.name;  // as `run` records it
  std::vector<storage::TrialDefinition> defs;
  for (const auto& t : expansion.trials) {
    storage::TrialDefinition d;
    d.id = t.id;
    d.name = t.name;
    d.config = t.config;
    d.predicted_peak_bytes = int64_t{1} << 28;
    d.total_steps = 100;
    defs.push_back(d);
  }
  auto w = storage::ResultsWriter::create(path, header, defs);
  for (const auto& t : expansion.trials) {
    const Fate f = fate_of(which, t);
    storage::TrialRow row = w.trials()[static_cast<size_t>(t.index)];
    row.status = f.status;
    if (f.status == storage::TrialStatus::pending) {
      w.update_trial(row);
      continue;
    }
    row.attempts = 1;
    row.rank = 0;
    row.host = "node01";
    row.device = "cpu";
    row.started = 1764494000.0 + static_cast<double>(t.index) * 100;
    if (f.status == storage::TrialStatus::done) {
      row.finished = row.started + 60 + static_cast<double>(t.index);
      row.wall_s = 60 + static_cast<double>(t.index);
      row.step = 100;
      row.measured_peak_bytes = (int64_t{100} + t.index) << 20;
      row.final_accuracy = 0.9;
      row.final_exact_accuracy = f.exact;
      row.best_exact_accuracy = f.exact + 0.01;
      w.append_train(t.index, sample_train(f.exact));
      w.append_eval(t.index, sample_eval(f.exact, /*arc=*/which == "grid"));
    } else if (f.status == storage::TrialStatus::failed) {
      row.error = "trial exited with code 1: loss is NaN";
    } else if (f.status == storage::TrialStatus::oom) {
      row.measured_peak_bytes = int64_t{3} << 30;
      row.error = "out of memory";
    }
    w.update_trial(row);
  }
  w.close();
}

}  // namespace trm::exporttest
