#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/sudoku.h"
#include "core/trial_data.h"

namespace trm::core {
namespace {

// Grid from an 81-character string, '0' or '.' = empty.
SudokuGrid grid_from(const std::string& s) {
  SudokuGrid g;
  for (char ch : s) g.push_back(ch == '.' ? 0 : static_cast<uint8_t>(ch - '0'));
  return g;
}

// Example `e` of a token array back as digits, by the token map of TRM-SPEC §7.1.
SudokuGrid decode(const std::vector<uint8_t>& tokens, int64_t e, int64_t seq_len) {
  SudokuGrid g;
  for (int64_t i = 0; i < seq_len; ++i)
    g.push_back(static_cast<uint8_t>(tokens[e * seq_len + i] - 1));
  return g;
}

bool givens_agree(const SudokuGrid& puzzle, const SudokuGrid& solution) {
  for (size_t c = 0; c < puzzle.size(); ++c) {
    if (puzzle[c] != 0 && puzzle[c] != solution[c]) return false;
  }
  return true;
}

std::string config_error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

void expect_csr(const std::vector<int32_t>& offsets, int64_t count, int64_t total) {
  ASSERT_EQ(static_cast<int64_t>(offsets.size()), count + 1);
  EXPECT_EQ(offsets.front(), 0);
  EXPECT_EQ(offsets.back(), total);
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
}

void expect_consistent_layout(const PuzzleArrays& a) {
  EXPECT_EQ(a.inputs.size(), a.labels.size());
  EXPECT_EQ(static_cast<int64_t>(a.inputs.size()), a.num_examples() * a.seq_len);
  expect_csr(a.puzzle_indices, a.num_puzzles(), a.num_examples());
  expect_csr(a.group_indices, a.num_groups(), a.num_puzzles());
  EXPECT_TRUE(std::all_of(a.inputs.begin(), a.inputs.end(),
                          [&](uint8_t t) { return t >= 1 && t < a.vocab_size; }));
  // Labels are never 0 (ignore) or 1 (empty): every cell is supervised with its digit.
  EXPECT_TRUE(std::all_of(a.labels.begin(), a.labels.end(),
                          [&](uint8_t t) { return t >= 2 && t < a.vocab_size; }));
}

// A hard puzzle (Inkala 2012) that singles cannot finish.
const char* kHardPuzzle =
    "800000000003600000070090200050007000000045700000100030001000068008500010090000400";

TEST(SudokuSolver, CountsAll288FourByFourGridsAndNoneForClashingGivens) {
  EXPECT_EQ(count_sudoku_solutions(2, SudokuGrid(16, 0), 1000), 288);
  EXPECT_EQ(count_sudoku_solutions(3, SudokuGrid(81, 0), 2), 2);  // stops at the limit
  SudokuGrid clash(81, 0);
  clash[0] = clash[8] = 5;
  EXPECT_EQ(count_sudoku_solutions(3, clash, 2), 0);
}

TEST(SudokuSolver, SolvesAHardPuzzleThatSinglesCannot) {
  const SudokuGrid hard = grid_from(kHardPuzzle);
  SudokuGrid solution;
  EXPECT_EQ(count_sudoku_solutions(3, hard, 2, &solution), 1);
  EXPECT_TRUE(is_valid_sudoku_solution(3, solution));
  EXPECT_TRUE(givens_agree(hard, solution));
  EXPECT_FALSE(solvable_by_singles(3, hard));
  SudokuGrid easy = solution;
  easy[0] = easy[40] = easy[80] = 0;
  EXPECT_TRUE(solvable_by_singles(3, easy));
}

TEST(SudokuSolver, SinglesIncludeHiddenSingles) {
  // Naked singles alone stall on this puzzle; a digit with one place left in a unit finishes it.
  const SudokuGrid puzzle = grid_from(
      "200016900040500000350049080903150000080007250000000000530090768000070039000030500");
  EXPECT_EQ(count_sudoku_solutions(3, puzzle, 2), 1);
  EXPECT_TRUE(solvable_by_singles(3, puzzle));
}

TEST(SudokuSolver, RejectsMalformedGrids) {
  EXPECT_NE(
      config_error_text([] { count_sudoku_solutions(3, SudokuGrid(80, 0)); }).find("80 cells"),
      std::string::npos);
  EXPECT_NE(config_error_text([] { count_sudoku_solutions(2, SudokuGrid(16, 5)); }).find("[0, 4]"),
            std::string::npos);
}

TEST(SudokuGenerator, EveryPuzzleHasExactlyOneSolution) {
  std::mt19937_64 rng(7);
  for (int box : {2, 3}) {
    for (int i = 0; i < 40; ++i) {
      const SudokuPuzzle p = generate_sudoku(box, box == 2 ? 5 : 26, rng);
      SudokuGrid found;
      ASSERT_EQ(count_sudoku_solutions(box, p.puzzle, 2, &found), 1) << "box " << box;
      EXPECT_EQ(found, p.solution);
      EXPECT_TRUE(is_valid_sudoku_solution(box, p.solution));
      EXPECT_TRUE(givens_agree(p.puzzle, p.solution));
    }
  }
}

TEST(SudokuGenerator, GivesTheAskedNumberOfGivens) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(generate_sudoku(3, 30, rng).givens(), 30);
    EXPECT_EQ(generate_sudoku(2, 8, rng).givens(), 8);
    EXPECT_EQ(generate_sudoku(3, 81, rng).givens(), 81);
  }
}

TEST(SudokuGenerator, AnUnreachableTargetLeavesAMinimalPuzzle) {
  std::mt19937_64 rng(13);
  const SudokuPuzzle p = generate_sudoku(3, 0, rng);
  EXPECT_GT(p.givens(), 16);  // no 9x9 puzzle with <= 16 givens is unique
  for (size_t c = 0; c < p.puzzle.size(); ++c) {
    if (p.puzzle[c] == 0) continue;
    SudokuGrid fewer = p.puzzle;
    fewer[c] = 0;
    EXPECT_EQ(count_sudoku_solutions(3, fewer, 2), 2) << "given " << c << " was removable";
  }
}

TEST(SudokuGenerator, LowTargetsReachPuzzlesThatNeedSearch) {
  std::mt19937_64 rng(17);
  int need_search = 0;
  for (int i = 0; i < 30; ++i) {
    const SudokuPuzzle p = generate_sudoku(3, 22, rng);
    EXPECT_LE(p.givens(), 30);
    need_search += solvable_by_singles(3, p.puzzle) ? 0 : 1;
  }
  EXPECT_GE(need_search, 5);
}

TEST(SudokuAugmentation, FollowsTheReferenceOrderTransposeRowsColumnsDigits) {
  const SudokuGrid g = grid_from("0234341221434321");
  const SudokuShuffle s{{0, 2, 1, 4, 3}, true, {2, 3, 0, 1}, {1, 0, 2, 3}};
  EXPECT_EQ(apply_sudoku_shuffle(2, s, g), grid_from("2431134240133124"));
}

TEST(SudokuAugmentation, RejectsAShuffleThatBreaksBandsOrMovesTheBlank) {
  const SudokuGrid g(16, 0);
  const SudokuShuffle bands{{0, 1, 2, 3, 4}, false, {1, 2, 0, 3}, {0, 1, 2, 3}};
  EXPECT_NE(config_error_text([&] { apply_sudoku_shuffle(2, bands, g); }).find("row_perm"),
            std::string::npos);
  const SudokuShuffle blank{{1, 0, 2, 3, 4}, false, {0, 1, 2, 3}, {0, 1, 2, 3}};
  EXPECT_NE(config_error_text([&] { apply_sudoku_shuffle(2, blank, g); }).find("digit_map"),
            std::string::npos);
}

TEST(SudokuAugmentation, KeepsPuzzleAndSolutionValidAndConsistent) {
  std::mt19937_64 rng(19);
  for (int box : {2, 3}) {
    const SudokuPuzzle p = generate_sudoku(box, box == 2 ? 6 : 27, rng);
    for (int k = 0; k < 30; ++k) {
      const SudokuPuzzle a = augment_sudoku(p, rng);
      EXPECT_TRUE(is_valid_sudoku_solution(box, a.solution));
      EXPECT_TRUE(givens_agree(a.puzzle, a.solution));
      EXPECT_EQ(a.givens(), p.givens());
      SudokuGrid found;
      EXPECT_EQ(count_sudoku_solutions(box, a.puzzle, 2, &found), 1);
      EXPECT_EQ(found, a.solution);
    }
  }
}

TEST(SudokuAugmentation, IsNotTheIdentityAndTransposesAboutHalfTheTime) {
  std::mt19937_64 rng(23);
  const SudokuPuzzle p = generate_sudoku(3, 28, rng);
  int changed = 0, transposed = 0;
  for (int k = 0; k < 200; ++k) {
    changed += augment_sudoku(p, rng).puzzle != p.puzzle ? 1 : 0;
    transposed += random_sudoku_shuffle(3, rng).transpose ? 1 : 0;
  }
  EXPECT_EQ(changed, 200);
  EXPECT_GT(transposed, 70);
  EXPECT_LT(transposed, 130);
}

TEST(SudokuEquivalence, HoldsForAugmentationsOnly) {
  std::mt19937_64 rng(29);
  for (int box : {2, 3}) {
    const SudokuPuzzle p = generate_sudoku(box, box == 2 ? 6 : 26, rng);
    const SudokuPuzzle q = generate_sudoku(box, box == 2 ? 6 : 26, rng);
    EXPECT_TRUE(sudoku_equivalent(box, p.puzzle, augment_sudoku(p, rng).puzzle));
    EXPECT_TRUE(sudoku_equivalent(box, p.solution, augment_sudoku(p, rng).solution));
    EXPECT_FALSE(sudoku_equivalent(box, p.puzzle, q.puzzle));
    // Swapping rows across bands gives an invalid grid, which no shuffle of a valid one is.
    SudokuGrid swapped = p.solution;
    const int n = box * box;
    std::swap_ranges(swapped.begin(), swapped.begin() + n, swapped.begin() + box * n);
    EXPECT_FALSE(sudoku_equivalent(box, p.solution, swapped));
  }
}

TEST(SudokuSplit, ArraysFollowTheReferenceLayout) {
  const PuzzleArrays a =
      make_sudoku_split({.box = 3, .num_puzzles = 5, .givens = 28, .num_aug = 3, .seed = 1});
  EXPECT_EQ(a.seq_len, 81);
  EXPECT_EQ(a.vocab_size, 11);
  EXPECT_EQ(a.num_examples(), 20);
  EXPECT_EQ(a.num_groups(), 5);
  expect_consistent_layout(a);
  EXPECT_EQ(a.puzzle_indices, std::vector<int32_t>({0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10,
                                                    11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
  EXPECT_EQ(a.group_indices, std::vector<int32_t>({0, 4, 8, 12, 16, 20}));
  EXPECT_EQ(a.puzzle_identifiers, std::vector<int32_t>(20, 0));
  for (int64_t e = 0; e < a.num_examples(); ++e) {
    const SudokuGrid puzzle = decode(a.inputs, e, 81), solution = decode(a.labels, e, 81);
    EXPECT_EQ(std::count(puzzle.begin(), puzzle.end(), 0), 81 - 28);
    EXPECT_TRUE(is_valid_sudoku_solution(3, solution));
    EXPECT_TRUE(givens_agree(puzzle, solution));
    EXPECT_EQ(count_sudoku_solutions(3, puzzle, 2), 1);
    // Every example of a group is a shuffle of the group's first (its original).
    EXPECT_TRUE(sudoku_equivalent(3, decode(a.inputs, e / 4 * 4, 81), puzzle));
  }
}

TEST(SudokuSplit, FourByFourUsesVocabSixAndSixteenTokens) {
  const PuzzleArrays a =
      make_sudoku_split({.box = 2, .num_puzzles = 7, .givens = 6, .num_aug = 2, .seed = 3});
  EXPECT_EQ(a.seq_len, 16);
  EXPECT_EQ(a.vocab_size, 6);
  EXPECT_EQ(a.num_examples(), 21);
  expect_consistent_layout(a);
}

TEST(SudokuSplit, GivensSummaryCountsDigitTokensPerExample) {
  // 6 givens on 4x4 are reachable: every example (augmentations too) has exactly 6.
  const PuzzleArrays six =
      make_sudoku_split({.box = 2, .num_puzzles = 7, .givens = 6, .num_aug = 2, .seed = 3});
  const GivensSummary g6 = givens_summary(six);
  EXPECT_EQ(g6.min, 6);
  EXPECT_EQ(g6.max, 6);
  EXPECT_DOUBLE_EQ(g6.mean, 6.0);
  // 0 givens is not (a unique 4x4 needs 4+): the summary shows what the puzzles really have,
  // which `train` reports.
  const PuzzleArrays none =
      make_sudoku_split({.box = 2, .num_puzzles = 9, .givens = 0, .num_aug = 1, .seed = 5});
  const GivensSummary g0 = givens_summary(none);
  EXPECT_GE(g0.min, 4);
  EXPECT_GE(g0.max, g0.min);
  EXPECT_GE(g0.mean, static_cast<double>(g0.min));
  EXPECT_LE(g0.mean, static_cast<double>(g0.max));
}

TEST(SudokuSplit, SameSeedGivesIdenticalArraysAndAnotherSeedDiffers) {
  const SudokuSplitSpec spec{.box = 3, .num_puzzles = 4, .givens = 26, .num_aug = 2, .seed = 5};
  const PuzzleArrays a = make_sudoku_split(spec), b = make_sudoku_split(spec);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.puzzle_indices, b.puzzle_indices);
  EXPECT_EQ(a.group_indices, b.group_indices);
  SudokuSplitSpec other = spec;
  other.seed = 6;
  const PuzzleArrays c = make_sudoku_split(other);
  EXPECT_NE(a.inputs, c.inputs);
  EXPECT_NE(a.labels, c.labels);
}

// Train and test share no puzzle: no exact example, and no test puzzle is a shuffle of a train
// original. The 4x4 case with 4-5 givens has only a few dozen puzzle classes, so without the
// redraw a collision is all but certain.
void expect_disjoint(int box, const PuzzleArrays& train, const PuzzleArrays& test, int64_t aug) {
  const int64_t len = train.seq_len;
  for (int64_t t = 0; t < test.num_examples(); ++t) {
    const SudokuGrid puzzle = decode(test.inputs, t, len);
    for (int64_t e = 0; e < train.num_examples(); ++e) {
      ASSERT_NE(decode(train.inputs, e, len), puzzle) << "test " << t << " = train example " << e;
      if (e % (aug + 1) == 0) {
        ASSERT_FALSE(sudoku_equivalent(box, decode(train.inputs, e, len), puzzle))
            << "test " << t << " is a shuffle of train original " << e;
      }
    }
  }
}

TEST(SudokuTrainTest, TestPuzzlesNeverOverlapTheTrainSplit) {
  for (int box : {2, 3}) {
    const SudokuSplitSpec spec{.box = box,
                               .num_puzzles = box == 2 ? 12 : 20,
                               .givens = box == 2 ? 4 : 25,
                               .num_aug = 2,
                               .seed = 9};
    const auto [train, test] = make_sudoku_train_test(spec, 10, 9);
    EXPECT_EQ(train.inputs, make_sudoku_split(spec).inputs);
    EXPECT_EQ(test.num_examples(), 10);
    EXPECT_EQ(test.num_groups(), 10);
    expect_consistent_layout(test);
    expect_disjoint(box, train, test, spec.num_aug);
  }
}

TEST(SudokuTrainTest, TooFewDistinctPuzzlesIsAConfigError) {
  const SudokuSplitSpec spec{.box = 2, .num_puzzles = 200, .givens = 4, .num_aug = 0, .seed = 1};
  EXPECT_NE(
      config_error_text([&] { make_sudoku_train_test(spec, 200, 2); }).find("test_puzzles = 200"),
      std::string::npos);
}

// The check plan runs draws exactly what the data build draws: it refuses where the build would,
// with the same words, and passes where the build succeeds.
TEST(SudokuTrainTest, CheckingTheDrawsAgreesWithBuildingTheSplits) {
  int refused = 0, drawn = 0;
  for (const int64_t givens : {4, 6, 12, 16}) {
    for (const int64_t puzzles : {10, 200}) {
      const SudokuSplitSpec spec{
          .box = 2, .num_puzzles = puzzles, .givens = givens, .num_aug = 1, .seed = 3};
      const std::string built =
          config_error_text([&] { make_sudoku_train_test(spec, puzzles, 5); });
      const std::string checked =
          config_error_text([&] { check_sudoku_train_test(spec, puzzles, 5); });
      EXPECT_EQ(checked, built) << "givens " << givens << ", puzzles " << puzzles;
      ++(built == "(no ConfigError)" ? drawn : refused);
    }
  }
  EXPECT_GT(refused, 0);  // the loop covers both outcomes
  EXPECT_GT(drawn, 0);
}

// data_draw_problem draws only where a draw is cheap and can fail: 4x4 Sudoku, up to its bound.
TEST(SudokuTrainTest, DataDrawProblemNamesTheDataKeyAndSkipsWhatItCannotCheckCheaply) {
  DataConfig d;
  d.box = 2;
  d.givens = 16;
  d.train_puzzles = 200;
  d.test_puzzles = 200;
  const std::string problem = data_draw_problem(d);
  EXPECT_EQ(problem.rfind("data.test_puzzles = 200: only 0 of", 0), 0u) << problem;
  EXPECT_EQ(data_draw_problem(d, /*max_puzzles=*/399), "");  // 400 to draw: not tried
  EXPECT_EQ(config_error_text([&] { (void)make_trial_data(d); }), problem.substr(5));
  d.givens = 6;
  d.train_puzzles = d.test_puzzles = 20;
  EXPECT_EQ(data_draw_problem(d), "");
  d.box = 3;  // 9x9: not tried (its space does not run out)
  d.givens = 81;
  EXPECT_EQ(data_draw_problem(d), "");
}

TEST(SudokuSpec, BadSpecsNameTheFieldValueAndRange) {
  auto text = [](SudokuSplitSpec s) { return config_error_text([&] { make_sudoku_split(s); }); };
  auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  EXPECT_TRUE(has(text({.box = 4}), "box = 4: must be 2 (4x4 Sudoku) or 3 (9x9)"));
  EXPECT_TRUE(has(text({.givens = 82}), "givens = 82: must be in [0, 81]"));
  EXPECT_TRUE(has(text({.box = 2, .givens = 17}), "givens = 17: must be in [0, 16]"));
  EXPECT_TRUE(has(text({.givens = -1}), "givens = -1"));
  EXPECT_TRUE(has(text({.num_puzzles = 0}), "num_puzzles = 0: must be >= 1"));
  EXPECT_TRUE(has(text({.num_aug = -1}), "num_aug = -1: must be >= 0"));
  EXPECT_TRUE(has(config_error_text([] { make_sudoku_train_test({}, 0, 1); }), "test_puzzles = 0"));
  std::mt19937_64 rng(1);
  EXPECT_TRUE(has(config_error_text([&] { generate_sudoku(3, 90, rng); }), "givens = 90"));
}

}  // namespace
}  // namespace trm::core
