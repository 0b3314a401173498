// The examples of one trial and the order training visits them (TRM-SPEC §7.1 loader), torch-free.
// The sampler's whole state is its position, so a checkpoint restores the data order exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/arc_eval.h"
#include "core/sudoku.h"
#include "core/trial_config.h"

namespace trm::core {

struct TrialData {
  PuzzleArrays train;
  PuzzleArrays test;
  // An ARC data set's evaluation files (data.source = reference, a folder with
  // test_puzzles.json): evaluations then also vote, as the reference's ARC evaluator. Else null.
  std::shared_ptr<const ArcTestSet> arc;
};

// What the splits hold, in one line: for each split its groups, puzzles, examples and a 64-bit
// hash of every array. Checkpoints keep it, so a run resumed on other data (a relative
// data.path read from another folder, a data set rewritten in place, another generator) is
// refused instead of training on.
std::string data_fingerprint(const TrialData& d);

// Builds the splits a DataConfig describes (deterministic from data.seed). `stop`, when given,
// is asked now and then while the puzzles are drawn: true throws Stopped.
TrialData make_trial_data(const DataConfig& d, const std::function<bool()>& stop = {});

// What make_trial_data(d) would refuse at drawing time, found by drawing where that is cheap: a
// 4x4 Sudoku space holds few puzzles that differ up to augmentation, so a test split new to the
// train split may not exist. For an on-disk set with ARC's evaluation files, those files (read
// whole and checked; not the arrays, whose headers plan reads elsewhere). "" when all is well,
// and where it is not tried (9x9 spaces, which do not run out; mazes; more than `max_puzzles`
// puzzles to draw).
std::string data_draw_problem(const DataConfig& d, int64_t max_puzzles = 1'000'000);

// An endless stream of training examples: epoch e visits every group once in an order shuffled by
// (seed, e), taking one random puzzle of the group and its examples in random order. A batch
// (one `next`) takes puzzles whole while they fit; the puzzle that does not gives a random subset
// of its examples, as many as the batch has room for, and the rest of that puzzle is dropped, as
// the reference's loader fills a batch (TRM-SPEC §7.1; it matters only where puzzles have several
// examples, as ARC's). A batch may span two epochs (the reference drops the last partial batch of
// each iteration instead; with 1000 groups and B = 768 that shifts which examples fall together,
// not how often each group is seen).
class ExampleSampler {
 public:
  struct Position {
    int64_t epoch = 0;   // epochs started
    int64_t cursor = 0;  // examples of that epoch already handed out
  };

  ExampleSampler(const PuzzleArrays& data, uint64_t seed);
  // The next `count` example indices of the stream.
  std::vector<int64_t> next(int64_t count);
  // Puzzle identifier of an example (from the CSR puzzle index).
  int32_t puzzle_id_of(int64_t example) const;

  Position position() const { return pos_; }
  void seek(Position p);

 private:
  void build_epoch();

  const PuzzleArrays& data_;
  uint64_t seed_;
  Position pos_;
  std::vector<int64_t> order_;       // examples of epoch pos_.epoch, in visiting order
  std::vector<int64_t> puzzle_end_;  // for each place in order_, where its puzzle's run ends
  std::vector<int32_t> puzzle_of_example_;
};

}  // namespace trm::core
