#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/errors.h"
#include "core/fields.h"
#include "core/reference_data.h"
#include "sweep/expand.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

namespace trm::sweep {
namespace {

Expansion expand_text(const std::string& text) {
  return expand(parse_spec_text(text, "test.toml"));
}

std::string error_of(const std::string& text) {
  try {
    expand_text(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SweepExpand, GridZipVariantsExcludesAndSeedsMultiply) {
  const auto e = expand_text(R"(
[sweep]
seeds = 2
[grid]
model.h_cycles = [1, 2, 3]
train.ema = [true, false]
[[zip]]
model.layers = [4, 2]
model.l_cycles = [3, 6]
[[variant]]
name = "w/ ACT"
model.halting = "act"
[[exclude]]
model.h_cycles = 3
model.layers = 4
)");
  // (3 x 2 x 2 grid/zip cells - 2 excluded + 1 variant) x 2 seeds
  EXPECT_EQ(e.trials.size(), (12u - 2u + 1u) * 2u);
  EXPECT_TRUE(e.warnings.empty());
  EXPECT_TRUE(e.duplicates.empty());
  EXPECT_EQ(e.trials[0].name, "h_cycles=1 ema=true layers=4 l_cycles=3 seed=0");
  EXPECT_EQ(e.trials[1].name, "h_cycles=1 ema=true layers=4 l_cycles=3 seed=1");
  EXPECT_EQ(e.trials[1].config.train.seed, 1);
  EXPECT_EQ(e.trials[2].config.model.layers, 2);
  EXPECT_EQ(e.trials[2].config.model.l_cycles, 6);  // zipped together
  EXPECT_EQ(e.trials.back().name, "w/ ACT seed=1");
  EXPECT_EQ(e.trials.back().config.model.halting, core::Halting::act);
  EXPECT_EQ(e.trials.back().config.model.h_cycles, 3);  // the base's, not a grid value
  std::set<std::string> ids;
  for (size_t i = 0; i < e.trials.size(); ++i) {
    EXPECT_EQ(e.trials[i].index, static_cast<int64_t>(i));
    ids.insert(e.trials[i].id);
    EXPECT_FALSE(e.trials[i].config.model.h_cycles == 3 && e.trials[i].config.model.layers == 4);
  }
  EXPECT_EQ(ids.size(), e.trials.size());
}

TEST(SweepExpand, NoAxesMeansTheBaseCellPlusTheVariants) {
  const auto e = expand_text(R"(
[[variant]]
name = "no EMA"
train.ema = false
[[variant]]
name = "T2"
model.h_cycles = 2
)");
  ASSERT_EQ(e.trials.size(), 3u);
  EXPECT_EQ(e.trials[0].name, "base");
  EXPECT_EQ(e.trials[1].variant, "no EMA");
  EXPECT_FALSE(e.trials[1].config.train.ema);
}

// The trial cap counts what expand builds, (cells + variants) x seeds: 2000 cells and 500
// variants are 2500 trials (counting (variants + 1) x cells refused them as a million), while a
// grid past the cap is refused before anything is built.
TEST(SweepExpand, TheTrialCapCountsCellsPlusVariantsTimesSeeds) {
  std::string text = "[grid]\ntrain.lr = [";
  for (int i = 1; i <= 2000; ++i) text += (i > 1 ? ", " : "") + std::to_string(i) + "e-7";
  text += "]\n";
  for (int i = 1; i <= 500; ++i) {
    text += "[[variant]]\nname = \"v" + std::to_string(i) + "\"\ntrain.lr = " + std::to_string(i) +
            "e-3\n";
  }
  EXPECT_EQ(expand_text(text).trials.size(), 2500u);
  const auto msg = error_of(
      "[sweep]\nseeds = 2\n[grid]\nmodel.h_cycles = [" +
      [] {
        std::string v;
        for (int i = 1; i <= 1000; ++i) v += std::to_string(i) + ",";
        return v;
      }() +
      "]\nmodel.l_cycles = [" +
      [] {
        std::string v;
        for (int i = 1; i <= 501; ++i) v += std::to_string(i) + ",";
        return v;
      }() +
      "]\n");
  EXPECT_NE(msg.find("expands to about 1002000 trials"), std::string::npos) << msg;
}

TEST(SweepExpand, SameCellHasSameIdWhateverTheKeyOrderDefaultsOrFile) {
  const auto a = expand_text("[base]\nmodel.l_cycles = 4\ntrain.lr = 0.001\n");
  const auto b = expand_text(
      "[base.train]\nlr = 1e-3\nema = true\n[base.model]\nhidden_size = 512\nl_cycles = 4\n");
  const auto c = expand_text("[grid]\nmodel.l_cycles = [4]\n[base]\ntrain.lr = 0.0010\n");
  EXPECT_EQ(a.trials[0].id, b.trials[0].id);
  EXPECT_EQ(a.trials[0].id, c.trials[0].id);
  EXPECT_EQ(a.trials[0].id.size(), 16u);
  // Any field changed gives another id.
  for (const auto& key : core::keys_of<core::TrialConfig>()) {
    if (key == "data.source") continue;
    core::TrialConfig changed = a.trials[0].config;
    for (const char* v : {"2", "3", "0.5", "false", "true", "attention", "rope", "one_step",
                          "separate", "single_z", "act", "softmax", "bfloat16"}) {
      try {
        core::set_key(changed, key, v);
      } catch (const ConfigError&) {
        continue;
      }
      if (!(changed == a.trials[0].config)) break;
    }
    EXPECT_NE(trial_id(changed), a.trials[0].id) << key;
  }
}

TEST(SweepExpand, AVariantEqualToAGridCellRunsOnceAndIsReported) {
  const auto e = expand_text(R"(
[grid]
model.l_cycles = [2, 6]
[[variant]]
name = "n = 2"
model.l_cycles = 2
)");
  EXPECT_EQ(e.trials.size(), 2u);
  ASSERT_EQ(e.duplicates.size(), 1u);
  EXPECT_NE(e.duplicates[0].find("'n = 2' is the same trial as 'l_cycles=2'"), std::string::npos);
}

TEST(SweepExpand, ExcludeBoundsAndListsAndAWarningForARuleMatchingNothing) {
  const auto e = expand_text(R"(
[grid]
model.l_cycles = [2, 4, 6, 8]
model.latent = ["yz", "multiscale_z"]
[[exclude]]
model.latent = "multiscale_z"
model.l_cycles = { min = 7 }
[[exclude]]
model.halting = ["act"]
)");
  EXPECT_EQ(e.trials.size(), 7u);  // 8 cells, n = 8 with multi-scale z dropped
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_NE(e.warnings[0].find("test.toml:8:1: [[exclude]] rule matches no cell"),
            std::string::npos)
      << e.warnings[0];
}

TEST(SweepExpand, AVariantTheExcludeRulesRemoveIsSaidNotDroppedSilently) {
  const auto e = expand_text(R"(
[grid]
model.l_cycles = [2, 4]
[[variant]]
name = "big n"
model.l_cycles = 9
[[variant]]
name = "EMA off"
train.ema = false
[[exclude]]
model.l_cycles = { min = 7 }
)");
  EXPECT_EQ(e.trials.size(), 3u);  // the grid's two cells and "EMA off"
  ASSERT_EQ(e.warnings.size(), 1u);
  EXPECT_NE(e.warnings[0].find("test.toml:4:1: variant 'big n' is excluded by the [[exclude]] at "
                               "test.toml:10:1: it has no trial and no row in the ablation tables"),
            std::string::npos)
      << e.warnings[0];
}

TEST(SweepSpecErrors, EveryProblemIsReportedAtOnceWithFileLineAndColumn) {
  const auto msg = error_of(R"([sweep]
seeds = 0
[base]
model.l_cycle = 3
train.lr = "fast"
[grid]
model.h_cycles = []
[[zip]]
model.layers = [4, 2]
model.l_cycles = [3, 6, 9]
[[variant]]
model.halting = "act"
[extra]
x = 1
)");
  EXPECT_NE(msg.find("invalid sweep spec (7 problems)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:2:1: sweep.seeds = 0: must be >= 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:4:7: unknown key 'model.l_cycle'; did you mean 'model.l_cycles'?"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("test.toml:5:7: train.lr = \"fast\": expected a number (such as 0.5 or "
                     "1e-4), not a string"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("test.toml:7:7: [grid] axis model.h_cycles has no values"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("[[zip]] axes must have equal lengths: model.layers has 2 values, "
                     "model.l_cycles has 3"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("[[variant]] without a name"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:13:2: unknown section 'extra'"), std::string::npos) << msg;
}

// A rule on train.seed drops those seeds of the cells it matches, after the [sweep] seeds are
// applied: it was matched against the seed every cell had before (0), so `train.seed = 0` dropped
// every seed of the cell and `train.seed = 5` matched nothing.
TEST(SweepExpand, AnExcludeRuleOnTheSeedDropsThoseSeedsOfTheCell) {
  const auto excluding = [](const std::string& seed) {
    return expand_text(
        "[sweep]\nseeds = [5, 7]\n[grid]\nmodel.l_cycles = [1, 2]\n[[exclude]]\n"
        "model.l_cycles = 1\ntrain.seed = " +
        seed + "\n");
  };
  const auto e = excluding("5");
  std::vector<std::string> names;
  for (const auto& t : e.trials) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"l_cycles=1 seed=7", "l_cycles=2 seed=5",
                                             "l_cycles=2 seed=7"}));
  EXPECT_TRUE(e.warnings.empty()) << e.warnings[0];
  const auto none = excluding("0");
  EXPECT_EQ(none.trials.size(), 4u);
  ASSERT_EQ(none.warnings.size(), 1u);
  EXPECT_NE(none.warnings[0].find("[[exclude]] rule matches no cell"), std::string::npos);
}

// Slips a hostile pass met, each said where it is and as what it is: a seed past train.seed's
// range (was said without a place, as train.seed); a range in [[exclude]] with a misspelt bound
// or none (was "unknown key 'model.l_cycles.mn'; did you mean 'train.lr'?" and "has no
// conditions"); two [[zip]] groups sharing a key (was told of a [grid] the spec did not have).
TEST(SweepSpecErrors, SeedRangeExcludeRangeSlipsAndSharedZipKeysAreSaidAsWhatTheyAre) {
  const auto seed = error_of("[sweep]\nseeds = [9223372036854775807]\n");
  EXPECT_NE(seed.find("test.toml:2:1: sweep.seeds: seed 9223372036854775807 is out of range [0, "
                      "1099511627776]"),
            std::string::npos)
      << seed;
  const auto mn =
      error_of("[grid]\nmodel.l_cycles = [1, 2]\n[[exclude]]\nmodel.l_cycles = { mn = 2 }\n");
  EXPECT_NE(
      mn.find("test.toml:4:20: [[exclude]] model.l_cycles.mn: a range takes min and max only"),
      std::string::npos)
      << mn;
  EXPECT_EQ(mn.find("did you mean"), std::string::npos) << mn;
  const auto empty =
      error_of("[grid]\nmodel.l_cycles = [1, 2]\n[[exclude]]\nmodel.l_cycles = {}\n");
  EXPECT_NE(empty.find("test.toml:4:7: [[exclude]] model.l_cycles = {}: an empty range"),
            std::string::npos)
      << empty;
  const auto zips = error_of(
      "[[zip]]\nmodel.l_cycles = [1, 2]\nmodel.h_cycles = [1, 2]\n[[zip]]\nmodel.l_cycles = [3, "
      "4]\n"
      "train.lr = [1e-3, 1e-4]\n");
  EXPECT_NE(zips.find("model.l_cycles is an axis twice (a key is one [grid] axis or in one [[zip]] "
                      "group)"),
            std::string::npos)
      << zips;
  // A name far from every key gets no suggestion; a slip still gets one.
  const auto far = error_of("[base]\nmodel.foo = 1\n");
  EXPECT_NE(far.find("unknown key 'model.foo'; valid keys:"), std::string::npos) << far;
  EXPECT_NE(error_of("[base]\nmodel.hiden_size = 1\n").find("did you mean 'model.hidden_size'?"),
            std::string::npos);
}

// The values' problems (found per cell) come with the structural ones, all in the file's order:
// they were said only once the unknown key was fixed, and then model, train, data.
TEST(SweepSpecErrors, StructuralAndValueProblemsComeTogetherInFileOrder) {
  const auto msg = error_of(R"([sweep]
name = "m"
bogus = 1
[base]
model.h_cycles = 0
data.box = 7
train.batch_size = -5
)");
  const std::vector<std::string> want = {
      "invalid sweep spec (4 problems):\n  test.toml:3:1: unknown key 'sweep.bogus'",
      "\n  test.toml:5:7: trial 'base': model.h_cycles = 0: must be >= 1",
      "\n  test.toml:6:6: trial 'base': data.box = 7: valid values 2 (4x4) or 3 (9x9)",
      "\n  test.toml:7:7: trial 'base': train.batch_size = -5: must be >= 1"};
  size_t at = 0;
  for (const auto& part : want) {
    const size_t found = msg.find(part, at);
    ASSERT_NE(found, std::string::npos) << part << "\nin: " << msg;
    at = found + part.size();
  }
}

// Keys that take no part in a trial's training still make its id (ids hash the config as
// written, so results files keep theirs); trials that differ only in such keys train alike, and
// each runs: said by a warning, naming the keys and why. So is a data.path that generated data
// does not read (data.source left out).
TEST(SweepExpand, TrialsThatDifferOnlyInKeysWithNoEffectAreSaid) {
  const auto e = expand_text(R"([base]
train.steps = 6
[grid]
model.rope_theta = [100.0, 10000.0]
[[variant]]
name = "ep"
train.epochs = 7
)");
  EXPECT_EQ(e.trials.size(), 3u);  // all run
  ASSERT_EQ(e.warnings.size(), 2u) << e.warnings[0];
  EXPECT_EQ(
      e.warnings[0],
      "'rope_theta=10000' trains exactly as 'rope_theta=100' (both run: their ids differ): "
      "they differ only in keys with no effect: model.rope_theta (no RoPE (model.mixer = mlp, "
      "model.pos_encodings = none))");
  EXPECT_NE(e.warnings[1].find("'ep' trains exactly as 'rope_theta=100'"), std::string::npos)
      << e.warnings[1];
  EXPECT_NE(e.warnings[1].find("train.epochs (train.steps = 6 sets the length)"), std::string::npos)
      << e.warnings[1];
  const auto path = expand_text("[base]\ndata.path = \"sudoku-extreme\"\n");
  ASSERT_EQ(path.warnings.size(), 1u);
  EXPECT_EQ(
      path.warnings[0],
      "trial 'base': data.path = sudoku-extreme has no effect: data.source = sudoku generates "
      "its data (data.source = \"reference\" reads a folder)");
  // A grid over data.source reads data.path in its reference cells: no slip to warn of.
  {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "trm_source_grid_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    core::PuzzleArrays a;
    a.seq_len = 16;
    a.vocab_size = 6;
    a.inputs.assign(16, 2);
    a.labels.assign(16, 2);
    a.puzzle_identifiers = {0};
    a.puzzle_indices = {0, 1};
    a.group_indices = {0, 1};
    core::write_reference_data(a, a, pattern + "/set");
    const auto grid = expand_text(
        "[base]\nmodel.seq_len = 16\nmodel.vocab_size = 6\n"
        "data.box = 2\ndata.givens = 8\ndata.train_puzzles = 20\n"
        "data.num_aug = 3\ndata.test_puzzles = 10\ndata.path = \"" +
        pattern + "/set\"\n[grid]\ndata.source = [\"sudoku\", \"reference\"]\n");
    EXPECT_EQ(grid.trials.size(), 2u);
    for (const auto& w : grid.warnings) EXPECT_EQ(w.find("data.path ="), std::string::npos) << w;
    std::filesystem::remove_all(pattern);
  }
  // Keys that matter make no warning: an attention grid over rope_theta trains differently.
  EXPECT_TRUE(expand_text("[base]\nmodel.mixer = \"attention\"\nmodel.pos_encodings = \"rope\"\n"
                          "[grid]\nmodel.rope_theta = [100.0, 10000.0]\n")
                  .warnings.empty());
}

// -0.0 is 0: the same setting, one id, and a grid listing both lists one value twice.
TEST(SweepExpand, MinusZeroIsZero) {
  const auto a = expand_text("[base]\ntrain.weight_decay = 0.0\n");
  const auto b = expand_text("[base]\ntrain.weight_decay = -0.0\n");
  EXPECT_EQ(a.trials.at(0).id, b.trials.at(0).id);
  EXPECT_NE(error_of("[grid]\ntrain.weight_decay = [0.0, -0.0]\n")
                .find("[grid] axis train.weight_decay lists 0 twice"),
            std::string::npos)
      << error_of("[grid]\ntrain.weight_decay = [0.0, -0.0]\n");
}

// Slips that would run something else than written: a grid value listed twice, an [[exclude]]
// range with min > max (matching nothing). A zip's values may repeat (its columns pair up). The
// problems come in the file's order, each once (an unknown grid key used to be said twice).
TEST(SweepSpecErrors, RepeatedGridValuesAndEmptyExcludeRangesAreProblemsInFileOrder) {
  const auto msg = error_of(R"([base]
model.l_cycles = 2
[grid]
model.h_cycles = [1, 2, 1]
model.layer = [1, 2]
[[exclude]]
model.h_cycles = { min = 2, max = 1 }
)");
  EXPECT_NE(msg.find("invalid sweep spec (3 problems):\n  test.toml:4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:4:25: [grid] axis model.h_cycles lists 1 twice"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("\n  test.toml:5:7: unknown key 'model.layer'"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("unknown key"), msg.rfind("unknown key")) << msg;
  EXPECT_NE(msg.find("\n  test.toml:7:7: [[exclude]] model.h_cycles = { min = 2, max = 1 }: "
                     "min > max"),
            std::string::npos)
      << msg;
  const auto zipped = parse_spec_text(R"([[zip]]
model.h_cycles = [1, 3, 3]
model.l_cycles = [2, 2, 4]
)",
                                      "zip.toml");
  EXPECT_EQ(expand(zipped).trials.size(), 3u);
}

// A grid over the data's seed with several training seeds: the two seeds are told apart by name.
TEST(SweepSpec, ADataSeedAxisIsNamedApartFromTheTrainingSeed) {
  const auto e = expand(parse_spec_text(R"([sweep]
seeds = [0, 7]
[grid]
data.seed = [1, 2]
)",
                                        "test.toml"));
  ASSERT_EQ(e.trials.size(), 4u);
  EXPECT_EQ(e.trials[0].name, "data.seed=1 seed=0");
  EXPECT_EQ(e.trials[3].name, "data.seed=2 seed=7");
}

// A value of the wrong TOML type is an error, not converted: a quoted number or a float for an
// integer field, a quoted boolean, a number for an enum; a number field takes integers too.
TEST(SweepSpecErrors, AValueOfTheWrongTomlTypeIsAProblem) {
  const auto msg = error_of(R"([base]
model.h_cycles = "2"
model.l_cycles = 2.0
train.ema = "false"
model.halting = 1
train.weight_decay = 0
[grid]
model.layers = ["1", 2]
)");
  EXPECT_NE(msg.find("invalid sweep spec (5 problems)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:2:7: model.h_cycles = \"2\": expected an integer (such as 6), not "
                     "a string"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("test.toml:3:7: model.l_cycles = 2.0: expected an integer (such as 6), not "
                     "a float"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("test.toml:4:7: train.ema = \"false\": expected true or false (unquoted), "
                     "not a string"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("test.toml:5:7: model.halting = 1: expected a quoted name (valid: "),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("model.layers = \"1\": expected an integer"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("weight_decay"), std::string::npos) << msg;
}

TEST(SweepSpecErrors, SyntaxEmptyGridAndOutOfRangeValues) {
  EXPECT_NE(error_of("[grid\nx = 1\n").find("test.toml:1:"), std::string::npos);
  EXPECT_NE(error_of("[grid]\n").find("[grid] has no axes"), std::string::npos);
  const auto msg = error_of("[grid]\nmodel.l_cycles = [0, 2]\ntrain.batch_size = [-1]\n");
  // Each names the line of the value it is about.
  EXPECT_NE(msg.find("test.toml:2:7: trial 'l_cycles=0 batch_size=-1': model.l_cycles = 0: must "
                     "be >= 1"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("test.toml:3:7: trial 'l_cycles=2 batch_size=-1': train.batch_size = -1: "
                     "must be >= 1"),
            std::string::npos)
      << msg;
  // The same for a [[variant]]'s value, a [[zip]] axis, and [base] (where no cell sets the key).
  const auto where = error_of(
      "[base]\nmodel.num_heads = 8\nmodel.hidden_size = 100\n[[zip]]\nmodel.layers = [1, 0]\n"
      "model.l_cycles = [2, 3]\n[[variant]]\nname = \"v\"\nmodel.h_cycles = 0\n");
  EXPECT_NE(where.find("test.toml:3:7: trial 'layers=1 l_cycles=2': model.hidden_size = 100: must "
                       "be divisible by num_heads = 8"),
            std::string::npos)
      << where;
  EXPECT_NE(where.find("test.toml:5:7: trial 'layers=0 l_cycles=3': model.layers = 0"),
            std::string::npos)
      << where;
  EXPECT_NE(where.find("test.toml:9:7: trial 'v': model.h_cycles = 0"), std::string::npos) << where;
  EXPECT_NE(error_of("[grid]\nmodel.mixer = [\"transformer\"]\n")
                .find("model.mixer = \"transformer\": unknown value; valid: attention, mlp"),
            std::string::npos);
  EXPECT_NE(error_of("[grid]\nmodel.l_cycles = 3\n").find("expected an array of values"),
            std::string::npos);
  EXPECT_NE(error_of("[[table]]\nname = \"t\"\nkind = \"pie\"\n").find("valid kinds"),
            std::string::npos);
}

// A cell's problem is its config's, the same for every seed: named once per cell, not once per
// seed (seeds = 5 made one mistake read as five).
TEST(SweepSpecErrors, ACellsProblemIsListedOnceForAllItsSeeds) {
  const auto msg = error_of("[sweep]\nseeds = 5\n[grid]\nmodel.l_cycles = [0, 2]\n");
  EXPECT_NE(msg.find("(1 problem)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("trial 'l_cycles=0 (all 5 seeds)': model.l_cycles = 0: must be >= 1"),
            std::string::npos)
      << msg;
}

// 4x4 Sudoku holds few puzzles that differ up to augmentation: a test split new to the train
// split may not exist. plan and run say so before anything runs (a trial used to fail with it as
// it started); a stored spec's trials already ran with their data, so it still expands.
TEST(SweepSpecErrors, DataThatCannotBeDrawnIsSaidByPlanNamingTheTrialAndAxis) {
  const std::string text =
      "[base]\nmodel.seq_len = 16\nmodel.vocab_size = 6\ndata.box = 2\n"
      "data.train_puzzles = 200\ndata.test_puzzles = 200\n[sweep]\nseeds = 2\n"
      "[grid]\ndata.givens = [6, 16]\n";
  const auto msg = error_of(text);
  EXPECT_NE(msg.find("(1 problem)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.toml:10:6: trial 'givens=16 (all 2 seeds)': data.test_puzzles = 200: "
                     "only 0 of 5000 drawn puzzles (box = 2, givens = 16) are new"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("givens=6"), std::string::npos) << msg;
  const auto stored = parse_spec_text(text, "r.h5 (stored spec)", /*stored=*/true);
  EXPECT_EQ(expand(stored).trials.size(), 4u);
  // Fewer train puzzles leave room for a test split: the same cell passes.
  const auto fewer = expand_text(
      "[base]\nmodel.seq_len = 16\nmodel.vocab_size = 6\ndata.box = 2\ndata.givens = 6\n"
      "data.train_puzzles = 20\ndata.test_puzzles = 20\n");
  EXPECT_EQ(fewer.trials.size(), 1u);
}

// A data folder that is not there is named with the line that set it, in [base] or on an axis.
TEST(SweepSpecErrors, AMissingDataFolderIsNamedWhereTheSpecSetsIt) {
  const auto base =
      error_of("[base]\ndata.source = \"reference\"\ndata.path = \"/nonexistent/sudoku\"\n");
  EXPECT_NE(base.find("test.toml:3:6: trial 'base': data.path: /nonexistent/sudoku: no such "
                      "folder"),
            std::string::npos)
      << base;
  const auto axis = error_of(
      "[base]\ndata.source = \"reference\"\n[grid]\n"
      "data.path = [\"/nonexistent/a\", \"/nonexistent/b\"]\n");
  EXPECT_NE(axis.find("test.toml:4:6: trial 'path=/nonexistent/b': data.path: /nonexistent/b"),
            std::string::npos)
      << axis;
}

// An ARC folder whose evaluation files are broken, or whose examples are no 30x30 canvases, is said
// by plan, naming the file and where in it, not by each trial as it starts.
TEST(SweepSpecErrors, BrokenArcEvaluationFilesAreSaidByPlan) {
  std::string pattern = (std::filesystem::temp_directory_path() / "trm_arc_plan_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::string root = pattern;
  auto split = [](int64_t seq_len) {
    core::PuzzleArrays a;
    a.seq_len = seq_len;
    a.vocab_size = 12;
    a.inputs.assign(static_cast<size_t>(seq_len), 2);
    a.labels.assign(static_cast<size_t>(seq_len), 2);
    a.puzzle_identifiers = {1};
    a.puzzle_indices = {0, 1};
    a.group_indices = {0, 1};
    return a;
  };
  core::write_reference_data(split(900), split(900), root + "/arc");
  core::write_reference_data(split(16), split(16), root + "/small");
  for (const char* dir : {"/arc", "/small"}) {
    std::ofstream(root + dir + "/test_puzzles.json") << "{\"a\": {\"test\": [{\"input\": [[1]]}]}}";
    std::ofstream(root + dir + "/identifiers.json") << "[\"<blank>\", \"a\"]";
  }
  auto spec = [&](const char* dir, int64_t seq_len) {
    return "[base]\nmodel.seq_len = " + std::to_string(seq_len) +
           "\nmodel.vocab_size = 12\nmodel.num_puzzle_identifiers = 2\n"
           "data.source = \"reference\"\ndata.path = \"" +
           root + dir + "\"\n";
  };
  const auto broken = error_of(spec("/arc", 900));
  EXPECT_NE(broken.find("test.toml:6:6: trial 'base': data.path: " + root +
                        "/arc/test_puzzles.json:1:17: task 'a' test pair 0: needs both"),
            std::string::npos)
      << broken;
  const auto small = error_of(spec("/small", 16));
  EXPECT_NE(small.find("trial 'base': data.path: " + root +
                       "/small/test: seq_len = 16: the folder has test_puzzles.json"),
            std::string::npos)
      << small;
  std::ofstream(root + "/arc/test_puzzles.json")
      << "{\"a\": {\"test\": [{\"input\": [[1]], \"output\": [[2]]}]}}";
  EXPECT_EQ(expand_text(spec("/arc", 900)).trials.size(), 1u);
  std::filesystem::remove_all(root);
}

// A key written twice would have let the later one win without a word ("model.l_cycles" quoted
// is the same key as model.l_cycles dotted).
TEST(SweepSpecErrors, AKeySetTwiceNamesBothPlaces) {
  EXPECT_NE(error_of("[base]\nmodel.l_cycles = 1\n\"model.l_cycles\" = 3\n")
                .find("test.toml:3:1: model.l_cycles is set twice (first at test.toml:2:7)"),
            std::string::npos)
      << error_of("[base]\nmodel.l_cycles = 1\n\"model.l_cycles\" = 3\n");
  EXPECT_NE(error_of("[[variant]]\nname = \"v\"\n\"model.halting\" = \"act\"\n"
                     "model.halting = \"bce\"\n")
                .find("model.halting is set twice"),
            std::string::npos);
  const auto grid = error_of("[grid]\nmodel.l_cycles = [1, 2]\n\"model.l_cycles\" = [3]\n");
  EXPECT_NE(grid.find("model.l_cycles is set twice"), std::string::npos) << grid;
  EXPECT_EQ(grid.find("[grid] and [[zip]]"), std::string::npos) << grid;
}

TEST(SweepSpecErrors, NamesAreOneLineNotBlankAndNotBase) {
  const auto bad = error_of(
      "[sweep]\nname = \"a\\nb\"\n[[variant]]\nname = \"  \"\nmodel.l_cycles = 3\n"
      "[[variant]]\nname = \"base\"\nmodel.l_cycles = 4\n[[variant]]\nname = \"t\\tab\"\n"
      "model.l_cycles = 5\n[[table]]\nname = \"x\\u0007\"\nkind = \"raw\"\n");
  for (const char* want : {"test.toml:2:1: sweep.name contains a control character",
                           "test.toml:3:1: [[variant]] name is empty or blank",
                           "test.toml:6:1: [[variant]] name \"base\" is the [base] cell's",
                           "test.toml:9:1: [[variant]] name contains a control character",
                           "test.toml:13:1: table.name contains a control character"}) {
    EXPECT_NE(bad.find(want), std::string::npos) << want << "\n" << bad;
  }
  EXPECT_NE(error_of("[sweep]\nname = \"\"\n").find("sweep.name is empty or blank"),
            std::string::npos);
  // A results file written before these checks still reads back (resume, merge, export).
  const auto stored = parse_spec_text(
      "[sweep]\nname = \"a\\nb\"\n[[variant]]\nname = \"base\"\n"
      "model.l_cycles = 3\n",
      "r.h5 (stored spec)", /*stored=*/true);
  EXPECT_EQ(stored.sweep.name, "a\nb");
  EXPECT_EQ(expand(stored).trials.size(), 2u);
}

TEST(SweepSpecErrors, ExcludeRulesAndTablesAreCheckedBeforeAnythingRuns) {
  // An empty list matched every cell ("every cell is excluded").
  EXPECT_NE(error_of("[grid]\nmodel.l_cycles = [1, 2]\n[[exclude]]\nmodel.l_cycles = []\n")
                .find("test.toml:4:7: [[exclude]] model.l_cycles = []: an empty list matches no "
                      "cell"),
            std::string::npos);
  EXPECT_NE(error_of("[grid]\nmodel.l_cycles = [1, 2]\n[[exclude]]\nmodel.h_cycles = 3\n")
                .find("every cell is excluded (by the [[exclude]] at test.toml:3:1)"),
            std::string::npos);
  // A grid table over a key the sweep does not vary could not be exported after the run.
  const auto table = error_of(
      "[grid]\nmodel.l_cycles = [1, 2]\n[[table]]\nname = \"t\"\nkind = \"grid\"\n"
      "rows = \"model.l_cycles\"\ncols = \"model.halting\"\n");
  EXPECT_NE(table.find("test.toml:3:1: [[table]] \"t\": cols = \"model.halting\" does not vary in "
                       "this sweep (every trial has model.halting = bce); axes: model.l_cycles"),
            std::string::npos)
      << table;
  // An unknown table key is named as unknown, whatever its value's type.
  EXPECT_NE(error_of("[[table]]\nname = \"t\"\nkind = \"raw\"\nbogus = 3\n")
                .find("unknown key 'table.bogus'"),
            std::string::npos);
}

TEST(SweepSpecErrors, SpecFilesThatAreNotSpecsAreNamedForWhatTheyAre) {
  const auto error_of_file = [](const std::string& path) -> std::string {
    try {
      parse_spec_file(path);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(error_of_file("/nonexistent/s.toml").find("/nonexistent/s.toml: no such file"),
            std::string::npos);
  EXPECT_NE(error_of_file("/tmp").find("/tmp: is a folder"), std::string::npos);
  EXPECT_NE(error_of_file("/dev/null").find("/dev/null: is empty"), std::string::npos);
  // Only comments (after a byte-order mark): also empty, not the built-in default trial.
  {
    const std::string path = testing::TempDir() + "/comments_only.toml";
    std::ofstream(path) << "\xEF\xBB\xBF# a spec to write later\n\n   # nothing yet\r\n";
    EXPECT_NE(error_of_file(path).find("comments_only.toml: is empty (or only comments)"),
              std::string::npos)
        << error_of_file(path);
    std::filesystem::remove(path);
  }
  // The trial config of `trm-sweep train --config`, given to plan/run: named for what it is, in
  // one line (it used to read as three unknown sections).
  const std::string trial = error_of_file(TRM_SOURCE_DIR "/configs/quick_train.toml");
  EXPECT_NE(trial.find("quick_train.toml is a trial config (only [model], [train], [data] "
                       "sections): train it with `trm-sweep train --config"),
            std::string::npos)
      << trial;
  EXPECT_EQ(trial.find('\n'), std::string::npos) << trial;
  // A stray trial section in a spec is a problem with the way to write it.
  EXPECT_NE(error_of("[sweep]\nname = \"s\"\n[model]\nl_cycles = 2\n")
                .find("test.toml:3:2: unknown section 'model'; valid: [sweep], [base], [grid], "
                      "[[zip]], [[variant]], [[exclude]], [[table]]; a trial's keys go under "
                      "[base] ([base.model])"),
            std::string::npos)
      << error_of("[sweep]\nname = \"s\"\n[model]\nl_cycles = 2\n");
  // ... and written that way it is the same trial as the dotted keys.
  EXPECT_EQ(expand_text("[base.model]\nl_cycles = 2\n").trials.at(0).id,
            expand_text("[base]\nmodel.l_cycles = 2\n").trials.at(0).id);
}

TEST(SweepPlan, FlagsCellsAboveTheMemoryLimitAndSchedulesLongestFirst) {
  const auto spec = parse_spec_text(R"(
[base]
train.steps = 100
[grid]
model.l_cycles = [1, 2, 4, 8]
train.batch_size = [8, 64]
)",
                                    "test.toml");
  const auto e = expand(spec);
  PlanOptions o;
  o.memory_bytes = 3.0 * 1024 * 1024 * 1024;
  o.gflops = 100;
  o.ranks = 2;
  const auto plan = make_plan(spec, e, o);
  ASSERT_EQ(plan.trials.size(), 8u);
  double longest = 0, total = 0;
  for (const auto& p : plan.trials) {
    // More back-propagated evaluations and more examples never need less memory.
    EXPECT_EQ(p.oom, p.memory.total() > o.memory_bytes);
    if (!p.oom) {
      longest = std::max(longest, p.seconds);
      total += p.seconds;
    }
  }
  EXPECT_GT(plan.oom_count, 0);
  EXPECT_LT(plan.oom_count, 8);
  EXPECT_GE(plan.makespan_seconds, std::max(longest, total / 2) - 1e-9);
  EXPECT_LE(plan.makespan_seconds, total + 1e-9);
  EXPECT_NE(format_plan(plan, "text").find("OOM (skipped)"), std::string::npos);
  EXPECT_NE(format_plan(plan, "json").find("\"oom\":true"), std::string::npos);
  EXPECT_THROW(format_plan(plan, "yaml"), ConfigError);
}

}  // namespace
}  // namespace trm::sweep
