// ARC's evaluator (TRM-SPEC §7.5, the reference's evaluators/arc.py), torch-free: every test
// example's predicted grid is cropped, its augmentation undone (the dihedral transform and the
// colour permutation its puzzle's name encodes), and the de-augmented predictions of one test
// input of one original task vote; candidates rank by votes, then by their mean sigmoid(q_halt).
// pass@K is whether the label is among the first K; a task scores the fraction of its test inputs
// solved, and the result is the mean over the tasks of test_puzzles.json. The paper's ARC figures
// are pass@2.
//
// With train.arc_aggregated_voting (the reference's default `aggregated_voting`), the votes of
// every evaluation of a run so far are pooled: a trainer keeps one ArcVoter for the whole run.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace trm::core {

// The K of pass@K the reference reports (EvalRecord's pass_at_K columns).
inline constexpr std::array<int64_t, 6> kArcPassK = {1, 2, 5, 10, 100, 1000};

// A grid of colours 0..9: its shape and its cells row by row, as one string, so that two grids are
// the same exactly when their keys are (the reference hashes the shape and the bytes).
struct ArcGrid {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> cells;  // rows * cols, row-major
  std::string key() const;
  bool operator==(const ArcGrid&) const = default;
};

// What the evaluator reads from an ARC data set's folder, as the reference's build_arc_dataset.py
// writes it: identifiers.json (puzzle id -> name; an augmented puzzle is named
// "<task>|||t<dihedral id>|||<colour permutation>") and test_puzzles.json (the original test
// tasks with their solutions).
struct ArcTestSet {
  std::string dir;
  std::vector<std::string> identifiers;
  struct Task {
    std::string name;
    std::vector<ArcGrid> inputs, outputs;  // the task's test pairs
  };
  std::vector<Task> tasks;  // in the file's order
};

// Whether `dir` holds an ARC evaluation set (its test_puzzles.json).
bool has_arc_test_set(const std::string& dir);

// Reads and checks both files; a DataError names the file, where in it, and what is wrong.
ArcTestSet load_arc_test_set(const std::string& dir);

// The reference's dihedral transforms (dataset/common.py): 0 identity, 1 rot90 (NumPy's,
// counter-clockwise), 2 rot180, 3 rot270, 4 left-right flip, 5 up-down flip, 6 transpose,
// 7 anti-transpose; and the inverse of each.
ArcGrid dihedral_transform(const ArcGrid& g, int64_t id);
ArcGrid inverse_dihedral_transform(const ArcGrid& g, int64_t id);

// The grid a 30x30 canvas of tokens holds (0 pad, 1 end of grid, 2..11 colours 0..9): the largest
// top-left rectangle of colour tokens, as the reference's _crop finds it, minus 2.
ArcGrid crop_arc_canvas(const uint8_t* tokens, int64_t side = 30);

class ArcVoter {
 public:
  explicit ArcVoter(const ArcTestSet& set);

  // One test example: its puzzle id, its input and predicted tokens (side*side each) and
  // sigmoid(q_halt). Puzzle id 0 (the blank id) is padding and ignored.
  void add(int64_t identifier, const uint8_t* input, const uint8_t* prediction, double q);

  // pass@K for each K of kArcPassK, in [0, 1].
  std::array<double, kArcPassK.size()> pass_at() const;

  // ARC's submission.json (the reference's evaluator writes it): for each task of
  // test_puzzles.json, for each of its test inputs that has predictions, the first `attempts`
  // candidates as {"attempt_1": grid, "attempt_2": grid, ...}, the first repeated when fewer.
  std::string submission(int64_t attempts = 2) const;

  // The votes as bytes, and back (a checkpoint keeps them when evaluations pool their votes):
  // restoring gives the same pass@K and the same ranks after further add()s. `what` names the
  // bytes' source in the DataError that malformed bytes raise.
  std::string save() const;
  void restore(const std::string& bytes, const std::string& what);
  int64_t predictions() const { return predictions_; }

 private:
  struct Candidate {
    int64_t votes = 0;
    double q_sum = 0;
  };
  struct Votes {
    std::vector<std::string> order;  // prediction keys, first seen first
    std::unordered_map<std::string, Candidate> candidates;
  };
  const Votes* votes_of(const std::string& task, const ArcGrid& input) const;
  static std::vector<const std::string*> ranked(const Votes& v);  // best first

  const ArcTestSet* set_;
  // task name -> input key -> the votes of its predictions
  std::unordered_map<std::string, std::unordered_map<std::string, Votes>> votes_;
  std::vector<std::string> task_order_;  // first seen first: save() writes a stable byte order
  std::unordered_map<std::string, std::vector<std::string>> input_order_;
  int64_t predictions_ = 0;
};

}  // namespace trm::core
