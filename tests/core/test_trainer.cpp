#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/reference_data.h"
#include "core/trainer.h"

namespace trm::core {
namespace {

// A file streamed piece by piece (how checkpoints are written) is the pieces in order; a producer
// that fails half-way leaves the old file as it was and no temporary file behind.
TEST(AtomicFile, AStreamedWriteIsAllOrNothing) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("trm_atomic_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "file").string();
  write_file_atomically(path, [](const ByteSink& sink) {
    sink("abc", 3);
    sink("", 0);
    sink("defg", 4);
  });
  EXPECT_EQ(read_file(path), "abcdefg");
  EXPECT_THROW(write_file_atomically(path,
                                     [](const ByteSink& sink) {
                                       sink("partial", 7);
                                       throw std::runtime_error("producer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(read_file(path), "abcdefg");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

// A 4x4 Sudoku trial small enough to train a few steps in milliseconds.
TrialConfig tiny_trial() {
  TrialConfig c;
  auto& m = c.model;
  m.hidden_size = 32;
  m.num_heads = 4;
  m.h_cycles = 2;
  m.l_cycles = 2;
  m.vocab_size = 6;
  m.seq_len = 16;
  m.puzzle_emb_ndim = 32;
  m.puzzle_emb_len = 1;
  m.halt_max_steps = 4;
  m.halt_exploration_prob = 0.5;  // the exploration draws must be restored by a resume
  c.train.batch_size = 8;
  c.train.steps = 20;
  c.train.lr = 1e-3;
  c.train.lr_warmup_steps = 3;
  c.train.ema_rate = 0.9;
  c.data = {.source = DataSource::sudoku,
            .box = 2,
            .train_puzzles = 6,
            .givens = 8,
            .num_aug = 2,
            .test_puzzles = 5,
            .seed = 1,
            .path = {}};
  return c;
}

const TrialData& tiny_data() {
  static const TrialData data = make_trial_data(tiny_trial().data);
  return data;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("trm_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::vector<at::Tensor> all_tensors(const Trainer& t) {
  std::vector<at::Tensor> out;
  for (const auto& p : t.model()->named_parameters()) out.push_back(p.value().detach().clone());
  for (const auto& b : t.model()->named_buffers()) out.push_back(b.value().clone());
  return out;
}

at::Tensor named_parameter(const Trainer& t, const std::string& name) {
  for (const auto& p : t.model()->named_parameters()) {
    if (p.key() == name) return p.value();
  }
  throw std::runtime_error("no parameter " + name);
}

void set_q_halt_bias(const Trainer& t, double value) {
  at::NoGradGuard no_grad;
  named_parameter(t, "q_head.bias").fill_(value);
  named_parameter(t, "q_head.weight").zero_();
}

void expect_same_record(const TrainRecord& a, const TrainRecord& b) {
  // Everything but the wall-clock rate must be identical, bit for bit.
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.lr, b.lr);
  EXPECT_EQ(a.loss, b.loss) << "step " << a.step;
  EXPECT_EQ(a.q_halt_loss, b.q_halt_loss);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.steps, b.steps);
}

TEST(TrainerResume, ContinuingFromACheckpointInAFreshTrainerIsBitExact) {
  const auto& data = tiny_data();
  const int64_t K = 7;
  Trainer straight(tiny_trial(), data, c10::Device(c10::kCPU));
  set_q_halt_bias(straight, 2.0);  // slots halt, so the exploration draws decide how long they run
  std::vector<TrainRecord> expected;
  for (int64_t i = 0; i < 2 * K; ++i) expected.push_back(straight.train_step());
  const auto expected_eval = straight.evaluate();

  const auto path = temp_path("resume.pt");
  {
    Trainer first(tiny_trial(), data, c10::Device(c10::kCPU));
    set_q_halt_bias(first, 2.0);
    for (int64_t i = 0; i < K; ++i) expect_same_record(first.train_step(), expected[i]);
    first.save_checkpoint(path, {{"metrics_bytes", 1234}});
  }
  Trainer second(tiny_trial(), data, c10::Device(c10::kCPU));
  const auto extras = second.load_checkpoint(path);
  EXPECT_EQ(extras.at("metrics_bytes"), 1234);
  EXPECT_EQ(second.step(), K);
  for (int64_t i = K; i < 2 * K; ++i) expect_same_record(second.train_step(), expected[i]);

  const auto a = all_tensors(straight), b = all_tensors(second);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << "tensor " << i;
  const auto eval = second.evaluate();
  EXPECT_EQ(eval.exact_accuracy, expected_eval.exact_accuracy);
  EXPECT_EQ(eval.lm_loss, expected_eval.lm_loss) << "the EMA shadow must resume too";
  std::remove(path.c_str());
}

TEST(TrainerCheckpoint, ACorruptOrTruncatedFileIsADataErrorAndIsLeftInPlace) {
  const auto& data = tiny_data();
  Trainer t(tiny_trial(), data, c10::Device(c10::kCPU));
  t.train_step();
  const auto path = temp_path("corrupt.pt");
  t.save_checkpoint(path, {});
  const std::string good = read_file(path);
  for (const std::string& bad :
       {std::string("not a checkpoint"), good.substr(0, good.size() / 2)}) {
    write_file_atomically(path, bad);
    Trainer fresh(tiny_trial(), data, c10::Device(c10::kCPU));
    EXPECT_THROW(fresh.load_checkpoint(path), DataError);
    EXPECT_EQ(read_file(path), bad) << "the file must not be touched";
    EXPECT_EQ(fresh.step(), 0);
  }
  std::remove(path.c_str());
}

TEST(TrainerCheckpoint, ACheckpointOfAnotherConfigIsRefusedNamingTheField) {
  const auto& data = tiny_data();
  Trainer t(tiny_trial(), data, c10::Device(c10::kCPU));
  const auto path = temp_path("other.pt");
  t.save_checkpoint(path, {});
  auto other = tiny_trial();
  other.train.lr = 2e-3;
  Trainer u(other, data, c10::Device(c10::kCPU));
  try {
    u.load_checkpoint(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.lr = 0.001"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

// The same config over other data (a relative data.path read from another folder, a data set
// rewritten in place): the checkpoint is refused, saying both splits' summaries, and the trainer
// is left as it was; the same data resumes.
TEST(TrainerCheckpoint, ACheckpointOfOtherDataIsRefused) {
  const auto& data = tiny_data();
  Trainer t(tiny_trial(), data, c10::Device(c10::kCPU));
  t.train_step();
  const auto path = temp_path("other_data.pt");
  t.save_checkpoint(path, {});
  TrialData changed = data;
  changed.train.inputs[changed.train.inputs.size() / 2] ^= 1;  // one token of one example
  Trainer u(tiny_trial(), changed, c10::Device(c10::kCPU));
  try {
    u.load_checkpoint(path);
    FAIL() << "no error";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("was trained on other data"), std::string::npos) << what;
    EXPECT_NE(what.find("train: "), std::string::npos) << what;
  }
  EXPECT_EQ(u.step(), 0);
  Trainer same(tiny_trial(), data, c10::Device(c10::kCPU));
  same.load_checkpoint(path);
  EXPECT_EQ(same.step(), 1);
  EXPECT_NE(data_fingerprint(data), data_fingerprint(changed));
  TrialData moved = data;  // the same examples, one group boundary moved
  if (moved.train.group_indices.size() > 2) {
    moved.train.group_indices[1] += 1;
    EXPECT_NE(data_fingerprint(data), data_fingerprint(moved));
  }
  std::remove(path.c_str());
}

TEST(TrainerHalting, BceHaltsAfterOneStepOnceConfidentAndRunsToNSupOtherwise) {
  auto c = tiny_trial();
  c.model.halt_exploration_prob = 0.0;
  Trainer confident(c, tiny_data(), c10::Device(c10::kCPU));
  set_q_halt_bias(confident, 10.0);
  auto r = confident.train_step();
  EXPECT_EQ(r.count, 8) << "every slot halts after its first supervision step";
  EXPECT_EQ(r.steps, 1.0);

  Trainer unsure(c, tiny_data(), c10::Device(c10::kCPU));
  for (int64_t s = 1; s < c.model.halt_max_steps; ++s) {
    set_q_halt_bias(unsure, -10.0);
    EXPECT_EQ(unsure.train_step().count, 0) << "step " << s;
  }
  set_q_halt_bias(unsure, -10.0);
  r = unsure.train_step();
  EXPECT_EQ(r.count, 8);
  EXPECT_EQ(r.steps, static_cast<double>(c.model.halt_max_steps));
}

TEST(TrainerHalting, ExplorationDelaysTrainingHaltsButNotEvaluation) {
  auto c = tiny_trial();
  c.model.halt_exploration_prob = 1.0;  // every slot draws a minimum of 2..N_sup steps
  c.train.ema = false;
  Trainer t(c, tiny_data(), c10::Device(c10::kCPU));
  set_q_halt_bias(t, 10.0);
  EXPECT_EQ(t.train_step().count, 0) << "no slot may halt after one step";
  set_q_halt_bias(t, 10.0);
  const auto eval = t.evaluate();
  EXPECT_EQ(eval.steps, static_cast<double>(c.model.halt_max_steps));
  EXPECT_EQ(eval.count, tiny_data().test.num_examples());
}

// Evaluation runs batches of train.batch_size with the last one padded, also when the test split
// is smaller than one batch (TRM-SPEC §3.2). A padding row has no labels, so the reference counts
// it as solved and adds its BCE(q_halt, 1) to q_halt_loss (then divides by the count of labelled
// examples). With the Q head at weight 0 and bias 0 every row's BCE is ln 2, whatever its target:
// q_halt_loss * count = (rows run, padding included) * ln 2.
TEST(TrainerEval, PaddingRowsAddTheirHaltLossAsInTheReference) {
  const int64_t n = tiny_data().test.num_examples();
  for (const int64_t batch : {n + 3, int64_t{3}}) {
    auto c = tiny_trial();
    c.train.ema = false;
    c.train.batch_size = batch;
    Trainer t(c, tiny_data(), c10::Device(c10::kCPU));
    set_q_halt_bias(t, 0.0);
    const auto eval = t.evaluate();
    ASSERT_EQ(eval.count, n);
    const int64_t rows = (n + batch - 1) / batch * batch;
    EXPECT_NEAR(eval.q_halt_loss * static_cast<double>(n),
                static_cast<double>(rows) * std::log(2.0), 1e-5)
        << "batch " << batch << ", " << n << " test examples";
  }
}

// ARC's evaluator sees each real row's puzzle id, input and argmax prediction. With the output
// head at zero every logit ties, so every prediction is the empty grid (argmax 0, pad): a label
// of the empty grid is then first for each test input the evaluator matched, after undoing the
// augmentations of the inputs. Other data sets leave pass@K unmeasured.
TEST(TrainerEval, ArcDataSetsAreScoredByVotingOverTheAugmentations) {
  {
    Trainer sudoku(tiny_trial(), tiny_data(), c10::Device(c10::kCPU));
    EXPECT_TRUE(std::isnan(sudoku.evaluate().pass_at_2));
    EXPECT_EQ(sudoku.arc_submission(), "");
  }

  auto grid = [](int64_t rows, int64_t cols, uint8_t first) {
    ArcGrid g{rows, cols, {}};
    for (int64_t k = 0; k < rows * cols; ++k)
      g.cells.push_back(static_cast<uint8_t>((first + k) % 10));
    return g;
  };
  auto canvas = [](const ArcGrid& g) {
    std::vector<uint8_t> t(900, 0);
    for (int64_t i = 0; i < g.rows; ++i) {
      for (int64_t j = 0; j < g.cols; ++j) t[i * 30 + j] = g.cells[i * g.cols + j] + 2;
    }
    return t;
  };
  const ArcGrid a = grid(2, 3, 1), b1 = grid(2, 1, 7), b2 = grid(3, 3, 0);
  auto set = std::make_shared<ArcTestSet>();
  set->identifiers = {"<blank>", "a", "a|||t3|||0912345678", "b|||t1|||0123456798"};
  set->tasks = {{"a", {a}, {ArcGrid{}}}, {"b", {b1, b2}, {ArcGrid{}, ArcGrid{}}}};
  // Inputs as the builder augments them (colour k becomes perm[k], then the dihedral transform):
  // task a's rotated one way, b's first the other; and an input of a that is no test input.
  auto augment = [](ArcGrid g, const char* perm, int64_t dihedral) {
    for (auto& v : g.cells) v = static_cast<uint8_t>(perm[v] - '0');
    return dihedral_transform(g, dihedral);
  };
  const std::vector<std::pair<int32_t, ArcGrid>> rows = {
      {2, augment(a, "0912345678", 3)}, {3, augment(b1, "0123456798", 1)}, {1, grid(1, 2, 5)}};
  TrialData data;
  for (PuzzleArrays* split : {&data.train, &data.test}) {
    split->seq_len = 900;
    split->vocab_size = 12;
    for (const auto& [id, g] : rows) {
      const auto t = canvas(g);
      split->inputs.insert(split->inputs.end(), t.begin(), t.end());
      split->labels.insert(split->labels.end(), t.begin(), t.end());
      split->puzzle_indices.push_back(static_cast<int32_t>(split->puzzle_identifiers.size()));
      split->puzzle_identifiers.push_back(id);
    }
    split->puzzle_indices.push_back(3);
    split->group_indices = {0, 3};
  }
  data.arc = set;
  auto c = tiny_trial();
  c.model.seq_len = 900;
  c.model.vocab_size = 12;
  c.model.num_puzzle_identifiers = 4;
  c.model.halt_max_steps = 2;
  c.train.batch_size = 2;  // the second batch is padded with a blank row
  c.train.ema = false;     // the evaluation runs the weights set here
  // The config is checked against the folder; the evaluation set is the one above.
  const std::string folder = temp_path("arc");
  std::filesystem::remove_all(folder);
  write_reference_data(data.train, data.test, folder);
  c.data.source = DataSource::reference;
  c.data.path = folder;
  Trainer plain(c, data, c10::Device(c10::kCPU));
  {
    at::NoGradGuard no_grad;
    named_parameter(plain, "lm_head.weight").zero_();
  }
  const auto r = plain.evaluate();
  // a: its one input solved; b: the first of two inputs -> (1 + 1/2) / 2 for every K.
  EXPECT_DOUBLE_EQ(r.pass_at_1, 0.75);
  EXPECT_DOUBLE_EQ(r.pass_at_2, 0.75);
  EXPECT_DOUBLE_EQ(r.pass_at_1000, 0.75);
  // Its submission: the empty grid twice for a's input and b's first; b's second has no entry.
  EXPECT_EQ(plain.arc_submission(),
            "{\"a\": [{\"attempt_1\": [], \"attempt_2\": []}],\n"
            " \"b\": [{\"attempt_1\": [], \"attempt_2\": []}]}\n");

  // Votes pooled over the run's evaluations (train.arc_aggregated_voting, the default) against an
  // evaluation's own. The output head becomes w, whose argmax grids are not all the empty one;
  // the Q head does not read the output head, so each prediction keeps its sigmoid(q_halt).
  const at::Tensor w = at::randn(named_parameter(plain, "lm_head.weight").sizes(),
                                 at::TensorOptions().dtype(at::kFloat));
  auto set_head = [&](Trainer& t) {
    at::NoGradGuard no_grad;
    named_parameter(t, "lm_head.weight").copy_(w);
  };
  auto own_config = c;
  own_config.train.arc_aggregated_voting = false;
  Trainer own(own_config, data, c10::Device(c10::kCPU));
  set_head(own);
  ASSERT_LT(own.evaluate().pass_at_1000, 0.75) << "w predicts the empty grid everywhere";
  set_head(plain);
  // One vote each, the same mean q: the empty grid, seen first, stays first.
  const auto second = plain.evaluate();
  EXPECT_DOUBLE_EQ(second.pass_at_1, 0.75);
  const std::string checkpoint = temp_path("arc_votes.pt");
  plain.save_checkpoint(checkpoint, {});
  // w's grids now have two votes against one.
  const auto third = plain.evaluate();
  EXPECT_LT(third.pass_at_1, 0.75);
  EXPECT_DOUBLE_EQ(third.pass_at_2, 0.75);
  // The checkpoint keeps the pooled votes: a resumed run's next evaluation is the same.
  Trainer resumed(c, data, c10::Device(c10::kCPU));
  resumed.load_checkpoint(checkpoint);
  const auto again = resumed.evaluate();
  EXPECT_EQ(again.pass_at_1, third.pass_at_1);
  EXPECT_EQ(again.pass_at_2, third.pass_at_2);
  std::filesystem::remove(checkpoint);

  // A label the predictions never give (they are all the empty grid): nothing solved.
  set->tasks[0].outputs[0] = grid(1, 1, 0);
  set->tasks[1].outputs = {grid(1, 1, 0), grid(1, 1, 0)};
  Trainer fresh(c, data, c10::Device(c10::kCPU));
  {
    at::NoGradGuard no_grad;
    named_parameter(fresh, "lm_head.weight").zero_();
  }
  EXPECT_DOUBLE_EQ(fresh.evaluate().pass_at_1000, 0.0);
  std::filesystem::remove_all(folder);
}

TEST(TrainerHalting, ActAddsTheContinueLossFromItsExtraPassAndBceDoesNot) {
  auto c = tiny_trial();
  Trainer bce(c, tiny_data(), c10::Device(c10::kCPU));
  EXPECT_EQ(bce.train_step().q_continue_loss, 0.0);
  c.model.halting = Halting::act;
  Trainer act(c, tiny_data(), c10::Device(c10::kCPU));
  const auto r = act.train_step();
  EXPECT_GT(r.q_continue_loss, 0.0);
  EXPECT_DOUBLE_EQ(r.loss, r.lm_loss + 0.5 * (r.q_halt_loss + r.q_continue_loss));
}

TEST(TrainerEma, EvaluationUsesTheShadowAndLeavesTheTrainingWeightsAlone) {
  auto c = tiny_trial();
  c.train.ema = false;
  Trainer plain(c, tiny_data(), c10::Device(c10::kCPU));
  c.train.ema = true;
  c.train.ema_rate = 0.0;  // shadow == the current weights
  Trainer same(c, tiny_data(), c10::Device(c10::kCPU));
  c.train.ema_rate = 0.9;
  Trainer averaged(c, tiny_data(), c10::Device(c10::kCPU));
  for (int i = 0; i < 5; ++i) {
    plain.train_step();
    same.train_step();
    averaged.train_step();
  }
  const auto before = all_tensors(averaged);
  const auto p = plain.evaluate(), s = same.evaluate(), a = averaged.evaluate();
  EXPECT_EQ(p.lm_loss, s.lm_loss);
  EXPECT_NE(p.lm_loss, a.lm_loss) << "the averaged shadow must give another evaluation";
  const auto after = all_tensors(averaged);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(before[i], after[i]));
}

class RecordingSink : public MetricSink {
 public:
  void on_train(const TrainRecord& r) override { train.push_back(r.step); }
  void on_eval(const EvalRecord& r) override { eval.push_back(r.step); }
  std::vector<int64_t> train, eval;
};

TEST(TrainLoop, EvaluatesEveryIntervalAndAtTheEndAndStopsWithACheckpoint) {
  auto c = tiny_trial();
  c.train.steps = 10;
  c.train.eval_interval = 4;
  Trainer t(c, tiny_data(), c10::Device(c10::kCPU));
  RecordingSink sink;
  std::vector<int64_t> checkpoints;
  LoopControl control;
  control.stop_at_step = 6;
  control.checkpoint = [&] { checkpoints.push_back(t.step()); };
  EXPECT_EQ(train_loop(t, sink, control), LoopEnd::stopped);
  EXPECT_EQ(sink.train.size(), 6u);
  EXPECT_EQ(sink.eval, (std::vector<int64_t>{4}));
  EXPECT_EQ(checkpoints, (std::vector<int64_t>{4, 6}));
  control.stop_at_step = 0;
  EXPECT_EQ(train_loop(t, sink, control), LoopEnd::finished);
  EXPECT_EQ(sink.train.size(), 10u);
  EXPECT_EQ(sink.eval, (std::vector<int64_t>{4, 8, 10}));
  EXPECT_EQ(checkpoints, (std::vector<int64_t>{4, 6, 8, 10}));
}

}  // namespace
}  // namespace trm::core
