#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/fields.h"
#include "core/trial_config.h"
#include "core/trial_data.h"

namespace trm::core {
namespace {

TEST(TrialConfigFields, EveryKeyIsDottedAndRoundTripsThroughItsText) {
  // A non-default value in every train/data field: a field the visitor misses keeps its default
  // and breaks the equality at the end.
  TrialConfig changed;
  changed.model.l_cycles = 4;
  changed.train = {.batch_size = 32,
                   .epochs = 7,
                   .steps = 11,
                   .eval_interval = 5,
                   .lr = 3e-4,
                   .lr_warmup_steps = 9,
                   .lr_min_ratio = 0.5,
                   .weight_decay = 0.2,
                   .beta1 = 0.8,
                   .beta2 = 0.9,
                   .puzzle_emb_lr = 1e-2,
                   .puzzle_emb_weight_decay = 0.3,
                   .ema = false,
                   .ema_rate = 0.99,
                   .seed = 5,
                   .arc_aggregated_voting = false};
  changed.data = {.source = DataSource::reference,
                  .box = 2,
                  .train_puzzles = 12,
                  .givens = 6,
                  .num_aug = 3,
                  .test_puzzles = 4,
                  .seed = 8,
                  .path = "data/elsewhere",
                  .maze_size = 9};
  TrialConfig copy;
  int varied = 0;
  for (const auto& key : keys_of<TrialConfig>()) {
    ASSERT_TRUE(key.starts_with("model.") || key.starts_with("train.") || key.starts_with("data."))
        << key;
    if (key.starts_with("model.") && key != "model.l_cycles") continue;  // ModelConfig's own test
    EXPECT_NE(get_key(copy, key), get_key(changed, key)) << key << " is not varied here";
    set_key(copy, key, get_key(changed, key));
    ++varied;
  }
  EXPECT_EQ(copy, changed);
  EXPECT_EQ(varied, 1 + 16 + 9);
}

TEST(TrialConfigFields, CanonicalTextIsSortedAndChangesWithAnyField) {
  const TrialConfig base;
  const auto text = canonical_text(base);
  EXPECT_NE(text.find("data.box = 3\n"), std::string::npos);
  EXPECT_LT(text.find("data.box"), text.find("model.hidden_size"));
  EXPECT_LT(text.find("model.hidden_size"), text.find("train.lr"));
  // Any other valid value of any field gives another text (hence another trial id).
  const std::vector<std::string> candidates = {
      "2",        "3",        "0.5",      "false", "true",    "attention", "rope",
      "one_step", "separate", "single_z", "act",   "softmax", "bfloat16",  "reference"};
  for (const auto& key : keys_of<TrialConfig>()) {
    TrialConfig other = base;
    for (const auto& value : candidates) {
      try {
        set_key(other, key, value);
      } catch (const ConfigError&) {
        continue;
      }
      if (!(other == base)) break;
    }
    ASSERT_FALSE(other == base) << key << ": no candidate value differs from the default";
    EXPECT_NE(canonical_text(other), text) << key;
  }
}

TEST(TrialConfigFields, AnUnknownKeyNamesTheNearestDottedKeyAndListsTheValidOnes) {
  TrialConfig c;
  try {
    set_key(c, "l_cycle", "3");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown key 'l_cycle'; did you mean 'model.l_cycles'?"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("train.ema_rate"), std::string::npos) << msg;
  }
  // A key in the wrong section is pointed to its own.
  for (const auto& [wrong, right] :
       std::vector<std::pair<std::string, std::string>>{{"train.hidden_size", "model.hidden_size"},
                                                        {"model.ema_rate", "train.ema_rate"},
                                                        {"data.l_cycle", "model.l_cycles"}}) {
    try {
      set_key(c, wrong, "3");
      FAIL() << wrong << ": no error";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("did you mean '" + right + "'?"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(apply_sets(c, {"train.lr"}), ConfigError);
  EXPECT_THROW(apply_sets(c, {"=3"}), ConfigError);
  EXPECT_EQ(c, TrialConfig{});
}

TEST(TrialConfigValidation, ModelAndDataMustAgreeAndEveryProblemIsListed) {
  TrialConfig c;
  c.data.box = 2;  // 16 cells, 6 tokens, but the model still reads 81-token sequences
  c.train.batch_size = 0;
  const auto problems = trial_problems(c);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0], "train.batch_size = 0: must be >= 1");
  EXPECT_EQ(problems[1], "data.givens = 25: valid range [0, 16] for data.box = 2");
  EXPECT_EQ(problems[2],
            "model.seq_len = 81: data.box = 2 gives 16-token examples; set model.seq_len = 16");
  c.data.givens = 6;
  c.model.seq_len = 16;
  c.model.vocab_size = 6;
  c.train.batch_size = 1;
  EXPECT_TRUE(trial_problems(c).empty());
  c.model.l_cycles = 0;
  EXPECT_EQ(trial_problems(c).at(0), "model.l_cycles = 0: must be >= 1");
  // beta = 1 passed the check and then failed in AdamATan2 as an internal error (its bias
  // corrections divide by 1 - beta^t).
  c.model.l_cycles = 2;
  c.train.beta1 = 1.0;
  c.train.beta2 = 1.0;
  const auto betas = trial_problems(c);
  ASSERT_EQ(betas.size(), 2u);
  EXPECT_EQ(betas[0], "train.beta1 = 1: valid range [0, 1)");
  EXPECT_EQ(betas[1], "train.beta2 = 1: valid range [0, 1)");
}

TEST(TrialConfigSteps, EpochsBecomeStepsAsTheReference) {
  TrainConfig t;  // 50 000 epochs x 1000 groups x 1 example / 768 = 65 104 steps (TRM-SPEC §5.3)
  EXPECT_EQ(total_steps(t, 1000, 1.0), 65104);
  t.steps = 10;
  EXPECT_EQ(total_steps(t, 1000, 1.0), 10);
  t.steps = 0;
  t.epochs = 1;
  EXPECT_THROW(total_steps(t, 100, 1.0), ConfigError);  // less than one batch
}

PuzzleArrays groups_of(std::vector<int> puzzles_per_group) {
  PuzzleArrays a;
  a.seq_len = 1;
  a.vocab_size = 2;
  a.group_indices = {0};
  a.puzzle_indices = {0};
  for (const int n : puzzles_per_group) {
    for (int p = 0; p < n; ++p) {
      a.puzzle_identifiers.push_back(static_cast<int32_t>(a.puzzle_identifiers.size()));
      a.puzzle_indices.push_back(a.puzzle_indices.back() + 1);
      a.inputs.push_back(1);
      a.labels.push_back(1);
    }
    a.group_indices.push_back(static_cast<int32_t>(a.puzzle_identifiers.size()));
  }
  return a;
}

TEST(ExampleSampler, EachEpochVisitsEveryGroupOnceWithOnePuzzleOfIt) {
  const auto data = groups_of({3, 1, 2, 5});
  ExampleSampler sampler(data, 7);
  for (int epoch = 0; epoch < 5; ++epoch) {
    std::set<int32_t> groups;
    for (const auto e : sampler.next(4)) {
      const auto it = std::upper_bound(data.group_indices.begin(), data.group_indices.end(), e);
      groups.insert(static_cast<int32_t>(it - data.group_indices.begin() - 1));
    }
    EXPECT_EQ(groups.size(), 4u) << "epoch " << epoch;
  }
}

// One puzzle per group, `examples[g]` examples each.
PuzzleArrays puzzles_with_examples(const std::vector<int>& examples) {
  PuzzleArrays a;
  a.seq_len = 1;
  a.vocab_size = 2;
  a.group_indices = {0};
  a.puzzle_indices = {0};
  for (const int n : examples) {
    a.puzzle_identifiers.push_back(static_cast<int32_t>(a.puzzle_identifiers.size()));
    a.puzzle_indices.push_back(a.puzzle_indices.back() + n);
    a.group_indices.push_back(static_cast<int32_t>(a.puzzle_identifiers.size()));
    for (int e = 0; e < n; ++e) {
      a.inputs.push_back(1);
      a.labels.push_back(1);
    }
  }
  return a;
}

// As the reference's loader fills a batch: puzzles whole while they fit, then a random subset of
// the next puzzle's examples up to the batch's room, and the rest of that puzzle is not used; the
// next batch starts with the next puzzle. Every example of a puzzle is seen over the epochs.
TEST(ExampleSampler, APuzzleThatDoesNotFitGivesASubsetAndTheRestIsDropped) {
  const auto data = puzzles_with_examples({3, 3, 3, 3, 3});
  ExampleSampler sampler(data, 11);
  auto puzzle_of = [&](int64_t e) {
    const auto it = std::upper_bound(data.puzzle_indices.begin(), data.puzzle_indices.end(), e);
    return static_cast<int>(it - data.puzzle_indices.begin() - 1);
  };
  std::set<int64_t> seen;
  for (int step = 0; step < 60; ++step) {
    const auto batch = sampler.next(4);
    ASSERT_EQ(batch.size(), 4u);
    // Each batch starts with a whole puzzle (its 3 examples), never with a carried remainder;
    // the fourth example is one of the next puzzle (the same puzzle only when an epoch ends
    // with it and the next begins with it).
    const int first = puzzle_of(batch[0]);
    EXPECT_EQ(puzzle_of(batch[1]), first) << "step " << step;
    EXPECT_EQ(puzzle_of(batch[2]), first) << "step " << step;
    EXPECT_EQ(std::set<int64_t>(batch.begin(), batch.begin() + 3).size(), 3u) << "step " << step;
    seen.insert(batch.begin(), batch.end());
    // The position after a batch is at a puzzle's start, so a checkpoint resumes the same stream.
    ExampleSampler resumed(data, 11);
    resumed.seek(sampler.position());
    ExampleSampler copy = sampler;
    EXPECT_EQ(resumed.next(7), copy.next(7)) << "step " << step;
  }
  EXPECT_EQ(seen.size(), 15u);  // the dropped examples are random, not always the same ones
  // Puzzles of one example (Sudoku, mazes): the stream is every group once per epoch, as before.
  const auto single = puzzles_with_examples({1, 1, 1, 1, 1, 1, 1});
  ExampleSampler one(single, 5);
  std::set<int64_t> epoch;
  for (int k = 0; k < 7; ++k) epoch.insert(one.next(1)[0]);
  EXPECT_EQ(epoch.size(), 7u);
}

TEST(ExampleSampler, TheStreamDependsOnlyOnTheSeedAndSeekRestoresIt) {
  const auto data = groups_of({2, 2, 2, 2, 2, 2, 2});
  ExampleSampler a(data, 3), b(data, 3), other(data, 4);
  a.next(10);
  const auto pos = a.position();
  const auto rest = a.next(30);
  b.seek(pos);
  EXPECT_EQ(b.next(30), rest);
  other.next(10);
  EXPECT_NE(other.next(30), rest);
  EXPECT_THROW(b.seek({0, 99}), DataError);
}

}  // namespace
}  // namespace trm::core
