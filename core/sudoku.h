// Sudoku data in the reference's array layout (TRM-SPEC §7.1, §7.2), torch-free: a solution
// counter, a generator of unique-solution puzzles with a chosen number of givens, the reference
// augmentation, and train/test splits as the same arrays the .npy reader produces.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <utility>
#include <vector>

namespace trm::core {

// One split of a puzzle data set, array by array as the reference writes it (TRM-SPEC §7.1).
struct PuzzleArrays {
  int64_t seq_len = 0;          // tokens per example (81 for 9x9 Sudoku)
  int64_t vocab_size = 0;       // every token is < vocab_size (11 for 9x9 Sudoku)
  std::vector<uint8_t> inputs;  // [num_examples * seq_len] input tokens, 0 = pad
  std::vector<uint8_t> labels;  // [num_examples * seq_len]; 0 = ignore (loader maps it to -100)
  std::vector<int32_t> puzzle_identifiers;  // [num_puzzles] puzzle-embedding id of each puzzle
  std::vector<int32_t> puzzle_indices;  // [num_puzzles + 1] CSR: p owns examples [pi[p], pi[p+1])
  std::vector<int32_t> group_indices;   // [num_groups + 1] CSR: g owns puzzles [gi[g], gi[g+1])

  int64_t num_examples() const;
  int64_t num_puzzles() const;
  int64_t num_groups() const;
};

// Givens per example of a Sudoku split (input tokens >= 2, a digit). The generator removes
// cells only while the solution stays unique, so a split can have more givens than asked.
struct GivensSummary {
  int64_t min = 0, max = 0;
  double mean = 0;
};
GivensSummary givens_summary(const PuzzleArrays& a);

// A grid of n*n cells (n = box*box), row-major: 0 = empty, 1..n = digit. Digits, not tokens:
// the arrays store digit d as token d+1 and an empty cell as token 1 (TRM-SPEC §7.1).
using SudokuGrid = std::vector<uint8_t>;

struct SudokuPuzzle {
  int box = 3;             // box side: 2 for 4x4, 3 for 9x9
  SudokuGrid puzzle;       // the givens, 0 elsewhere
  SudokuGrid solution;     // the unique completion
  int64_t givens() const;  // non-empty cells of `puzzle`
};

// n = box*box, the digits per row; ConfigError unless box is 2 or 3.
int sudoku_digits(int box);
// ConfigError unless `grid` has n*n cells, each 0..n.
void check_sudoku_grid(int box, const SudokuGrid& grid);

// Solutions of `grid`, counted up to `limit` (2 decides uniqueness); the first one found goes to
// *first_solution when given. A grid whose givens already clash has 0.
int64_t count_sudoku_solutions(int box, const SudokuGrid& grid, int64_t limit = 2,
                               SudokuGrid* first_solution = nullptr);
// True when naked and hidden singles alone fill the grid: an easy puzzle that needs no search.
bool solvable_by_singles(int box, const SudokuGrid& puzzle);
// True when the grid is full and every row, column and box holds each digit once.
bool is_valid_sudoku_solution(int box, const SudokuGrid& grid);
// A random full grid, by backtracking that tries each cell's digits in random order.
SudokuGrid random_sudoku_solution(int box, std::mt19937_64& rng);
// Empties the cells of a random full grid in random order, keeping each removal that leaves the
// solution unique, until `givens` remain; when no removal keeps it unique first, the puzzle keeps
// more (see SudokuPuzzle::givens). Low targets (<= 25 for 9x9) give puzzles that need search.
SudokuPuzzle generate_sudoku(int box, int64_t givens, std::mt19937_64& rng);

// One reference shuffle (TRM-SPEC §7.2): transpose first, then new cell (i, j) = old cell
// (row_perm[i], col_perm[j]), then the digit map.
struct SudokuShuffle {
  std::vector<uint8_t> digit_map;  // [n + 1], digit_map[0] = 0 so a blank stays blank
  bool transpose = false;          // drawn with probability 0.5
  std::vector<int> row_perm;       // random band order, random row order inside each band
  std::vector<int> col_perm;       // random stack order, random column order inside each stack
};
SudokuShuffle random_sudoku_shuffle(int box, std::mt19937_64& rng);
SudokuGrid apply_sudoku_shuffle(int box, const SudokuShuffle& shuffle, const SudokuGrid& grid);
// The same random shuffle applied to puzzle and solution, so the pair stays consistent.
SudokuPuzzle augment_sudoku(const SudokuPuzzle& puzzle, std::mt19937_64& rng);
// True when some shuffle maps grid `a` onto grid `b`: the same puzzle up to augmentation.
bool sudoku_equivalent(int box, const SudokuGrid& a, const SudokuGrid& b);

struct SudokuSplitSpec {
  int box = 3;              // 2 (4x4, vocab 6, seq_len 16) or 3 (9x9, vocab 11, seq_len 81)
  int64_t num_puzzles = 1;  // original puzzles = groups
  int64_t givens = 25;      // target givens per puzzle, in [0, n*n]
  int64_t num_aug = 0;      // augmented copies per original (reference train: 1000, test: 0)
  uint64_t seed = 0;        // same seed, same arrays, byte for byte
};

// Each original is one group: the original then `num_aug` augmentations, each its own
// single-example puzzle with identifier 0, as the reference Sudoku set (TRM-SPEC §7.2).
PuzzleArrays make_sudoku_split(const SudokuSplitSpec& spec);
// The train split of make_sudoku_split(train) and a test split of `test_puzzles` originals (same
// box and givens, no augmentation) drawn from `test_seed`; a test puzzle equivalent to a train
// original (hence to any of its augmentations) or equal to an earlier test puzzle is redrawn.
// ConfigError when too few such puzzles exist (small 4x4 spaces). `stop`, when given, is asked
// every 16 puzzles drawn: true throws Stopped (a large split takes minutes to draw).
std::pair<PuzzleArrays, PuzzleArrays> make_sudoku_train_test(
    const SudokuSplitSpec& train, int64_t test_puzzles, uint64_t test_seed,
    const std::function<bool()>& stop = {});
// Draws what make_sudoku_train_test(train, test_puzzles, test_seed) draws, without building the
// arrays, and throws the same ConfigError when the test split cannot be drawn.
void check_sudoku_train_test(const SudokuSplitSpec& train, int64_t test_puzzles,
                             uint64_t test_seed);

// Portable draws from the generator, shared by sudoku.cpp and sudoku_solver.cpp: the standard
// distributions differ between libraries, and a data set must not depend on the compiler.
namespace sudoku_detail {
uint64_t draw_below(std::mt19937_64& rng, uint64_t bound);  // uniform in [0, bound)
template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {  // Fisher-Yates
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[draw_below(rng, i)]);
}
}  // namespace sudoku_detail

}  // namespace trm::core
