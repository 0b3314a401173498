// The numbers a trainer reports (TRM-SPEC §4.5), as plain records, and the sink it hands them to.
// Torch-free: the train verb writes them to a file and a progress line, the launcher streams
// them to the results file; core knows nothing of either.
#pragma once

#include <cstdint>
#include <limits>

namespace trm::core {

// One training step. Losses are the batch sums / batch size; the accuracies and `steps` are
// over the slots that halted this step (`count` of them; all 0 when none halted), as the reference.
struct TrainRecord {
  int64_t step = 0;            // optimizer steps done, counting this one
  double lr = 0;               // learning rate of this step (after warm-up: train.lr)
  double loss = 0;             // lm_loss + 0.5 (q_halt_loss + q_continue_loss)
  double lm_loss = 0;          // token cross-entropy, mean over labelled tokens per slot
  double q_halt_loss = 0;      // BCE of q_halt against whole-sequence correctness
  double q_continue_loss = 0;  // ACT continue loss (0 with halting = bce)
  double accuracy = 0;         // fraction of labelled tokens right, mean over halted slots
  double exact_accuracy = 0;   // fraction of halted slots entirely right
  double q_halt_accuracy = 0;  // fraction of halted slots whose q_halt sign was right
  double steps = 0;            // mean supervision steps the halted slots used
  int64_t count = 0;           // slots that halted this step
  double examples_per_s = 0;   // slots processed per second of this step (wall clock)

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("step", self.step);
    v("lr", self.lr);
    v("loss", self.loss);
    v("lm_loss", self.lm_loss);
    v("q_halt_loss", self.q_halt_loss);
    v("q_continue_loss", self.q_continue_loss);
    v("accuracy", self.accuracy);
    v("exact_accuracy", self.exact_accuracy);
    v("q_halt_accuracy", self.q_halt_accuracy);
    v("steps", self.steps);
    v("count", self.count);
    v("examples_per_s", self.examples_per_s);
  }
};

// One evaluation over the whole test split, every example run for all N_sup steps (§3.2).
// Everything is normalised by `count`, the test examples with at least one labelled token.
struct EvalRecord {
  int64_t step = 0;  // optimizer steps done when it ran
  double lm_loss = 0;
  double q_halt_loss = 0;
  double accuracy = 0;
  double exact_accuracy = 0;  // the paper's Sudoku/Maze "accuracy"
  double q_halt_accuracy = 0;
  double steps = 0;  // N_sup
  int64_t count = 0;
  double seconds = 0;  // wall time of the evaluation
  // ARC's pass@K (core/arc_eval.h), the paper's ARC metric being pass@2; NaN (null in JSON, "—"
  // in tables) where the test set is not ARC's and in files written before these columns.
  static constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();
  double pass_at_1 = kNotMeasured;
  double pass_at_2 = kNotMeasured;
  double pass_at_5 = kNotMeasured;
  double pass_at_10 = kNotMeasured;
  double pass_at_100 = kNotMeasured;
  double pass_at_1000 = kNotMeasured;

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("step", self.step);
    v("lm_loss", self.lm_loss);
    v("q_halt_loss", self.q_halt_loss);
    v("accuracy", self.accuracy);
    v("exact_accuracy", self.exact_accuracy);
    v("q_halt_accuracy", self.q_halt_accuracy);
    v("steps", self.steps);
    v("count", self.count);
    v("seconds", self.seconds);
    v("pass_at_1", self.pass_at_1);
    v("pass_at_2", self.pass_at_2);
    v("pass_at_5", self.pass_at_5);
    v("pass_at_10", self.pass_at_10);
    v("pass_at_100", self.pass_at_100);
    v("pass_at_1000", self.pass_at_1000);
  }
};

class MetricSink {
 public:
  virtual ~MetricSink() = default;
  virtual void on_train(const TrainRecord& r) = 0;
  virtual void on_eval(const EvalRecord& r) = 0;
};

}  // namespace trm::core
