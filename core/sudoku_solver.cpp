// Sudoku solving and generation: a bitmask solution counter with most-constrained-cell search,
// a singles-only solver that tells easy puzzles from hard ones, and the puzzle generator.
#include <algorithm>
#include <bit>
#include <climits>
#include <numeric>
#include <string>

#include "core/errors.h"
#include "core/sudoku.h"

namespace trm::core {
namespace {

// Digit d is bit d of a mask (bit 0 unused), so a mask is indexed by digit directly.
using Mask = uint32_t;
Mask bit(int d) { return Mask{1} << d; }

// A grid plus the digits each row, column and box already holds, so that a cell's candidates
// cost three lookups instead of a scan.
class Board {
 public:
  Board(int box, const SudokuGrid& grid)
      : box_(box),
        n_(box * box),
        full_(((Mask{1} << n_) - 1) << 1),
        cells_(grid.size(), 0),
        rows_(n_),
        cols_(n_),
        boxes_(n_) {
    for (int c = 0; c < size(); ++c) {
      if (grid[c] == 0) continue;
      if (!(candidates(c) & bit(grid[c]))) consistent_ = false;  // clashing givens: no solution
      place(c, grid[c]);
    }
  }
  int size() const { return static_cast<int>(cells_.size()); }
  int digits() const { return n_; }
  bool consistent() const { return consistent_; }
  int at(int c) const { return cells_[c]; }
  const SudokuGrid& cells() const { return cells_; }
  Mask candidates(int c) const { return full_ & ~(rows_[row(c)] | cols_[col(c)] | boxes_[blk(c)]); }
  void place(int c, int d) {
    cells_[c] = static_cast<uint8_t>(d);
    rows_[row(c)] |= bit(d);
    cols_[col(c)] |= bit(d);
    boxes_[blk(c)] |= bit(d);
  }
  void clear(int c) {
    const Mask off = ~bit(cells_[c]);
    rows_[row(c)] &= off;
    cols_[col(c)] &= off;
    boxes_[blk(c)] &= off;
    cells_[c] = 0;
  }

 private:
  int row(int c) const { return c / n_; }
  int col(int c) const { return c % n_; }
  int blk(int c) const { return row(c) / box_ * box_ + col(c) / box_; }

  int box_, n_;
  Mask full_;
  SudokuGrid cells_;
  std::vector<Mask> rows_, cols_, boxes_;
  bool consistent_ = true;
};

// Depth-first search on the empty cell with the fewest candidates (a forced cell is filled
// before any branching). With an rng, digits are tried in random order, so the first completion
// of an empty grid is a random full grid.
class Search {
 public:
  Search(Board& board, int64_t limit, std::mt19937_64* rng)
      : board_(board), limit_(limit), rng_(rng) {}
  int64_t run() {
    if (board_.consistent() && limit_ > 0) step();
    return found_;
  }
  const SudokuGrid& first() const { return first_; }

 private:
  void step() {
    int cell = -1, best = INT_MAX;
    for (int c = 0; c < board_.size() && best > 1; ++c) {
      if (board_.at(c) != 0) continue;
      const int k = std::popcount(board_.candidates(c));
      if (k < best) cell = c, best = k;
    }
    if (cell < 0) {
      if (found_++ == 0) first_ = board_.cells();
      return;
    }
    std::vector<int> digits;
    for (Mask m = board_.candidates(cell); m != 0; m &= m - 1)
      digits.push_back(std::countr_zero(m));
    if (rng_ != nullptr) sudoku_detail::shuffle(digits, *rng_);
    for (int d : digits) {
      board_.place(cell, d);
      step();
      board_.clear(cell);
      if (found_ >= limit_) return;
    }
  }

  Board& board_;
  int64_t limit_;
  std::mt19937_64* rng_;
  int64_t found_ = 0;
  SudokuGrid first_;
};

// The 3n units (rows, columns, boxes), each as its n cell indices.
std::vector<std::vector<int>> sudoku_units(int box) {
  const int n = box * box;
  std::vector<std::vector<int>> units(3 * n);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) {
      units[r].push_back(r * n + c);
      units[n + c].push_back(r * n + c);
      units[2 * n + r / box * box + c / box].push_back(r * n + c);
    }
  }
  return units;
}

// Fills each digit that has one place left in a unit; false on a digit with no place left.
bool fill_hidden_singles(Board& board, const std::vector<std::vector<int>>& units, bool& progress) {
  for (const auto& unit : units) {
    for (int d = 1; d <= board.digits(); ++d) {
      int where = -1, places = 0;
      bool present = false;
      for (int c : unit) {
        if (board.at(c) == d) present = true;
        if (board.at(c) == 0 && (board.candidates(c) & bit(d))) where = c, ++places;
      }
      if (present) continue;
      if (places == 0) return false;
      if (places == 1) board.place(where, d), progress = true;
    }
  }
  return true;
}

}  // namespace

namespace sudoku_detail {

uint64_t draw_below(std::mt19937_64& rng, uint64_t bound) {
  if (bound == 0) throw InternalError("sudoku draw_below: bound must be >= 1");
  // Rejecting the top partial block makes the modulo unbiased.
  const uint64_t accept = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x = rng();
  while (x >= accept) x = rng();
  return x % bound;
}

}  // namespace sudoku_detail

int sudoku_digits(int box) {
  if (box != 2 && box != 3) {
    throw ConfigError("box = " + std::to_string(box) + ": must be 2 (4x4 Sudoku) or 3 (9x9)");
  }
  return box * box;
}

void check_sudoku_grid(int box, const SudokuGrid& grid) {
  const int n = sudoku_digits(box);
  if (grid.size() != static_cast<size_t>(n * n)) {
    throw ConfigError("sudoku grid has " + std::to_string(grid.size()) +
                      " cells: box = " + std::to_string(box) + " needs " + std::to_string(n * n));
  }
  for (size_t c = 0; c < grid.size(); ++c) {
    if (grid[c] > n) {
      throw ConfigError("sudoku grid cell " + std::to_string(c) + " = " + std::to_string(grid[c]) +
                        ": must be in [0, " + std::to_string(n) + "] (0 = empty)");
    }
  }
}

int64_t SudokuPuzzle::givens() const {
  return static_cast<int64_t>(
      std::count_if(puzzle.begin(), puzzle.end(), [](uint8_t d) { return d != 0; }));
}

int64_t count_sudoku_solutions(int box, const SudokuGrid& grid, int64_t limit,
                               SudokuGrid* first_solution) {
  check_sudoku_grid(box, grid);
  Board board(box, grid);
  Search search(board, limit, nullptr);
  const int64_t found = search.run();
  if (found > 0 && first_solution != nullptr) *first_solution = search.first();
  return found;
}

bool solvable_by_singles(int box, const SudokuGrid& puzzle) {
  check_sudoku_grid(box, puzzle);
  Board board(box, puzzle);
  if (!board.consistent()) return false;
  const auto units = sudoku_units(box);
  for (bool progress = true; progress;) {
    progress = false;
    for (int c = 0; c < board.size(); ++c) {
      if (board.at(c) != 0) continue;
      const Mask m = board.candidates(c);
      if (m == 0) return false;
      if (std::has_single_bit(m)) board.place(c, std::countr_zero(m)), progress = true;
    }
    if (!fill_hidden_singles(board, units, progress)) return false;
  }
  return std::find(board.cells().begin(), board.cells().end(), 0) == board.cells().end();
}

bool is_valid_sudoku_solution(int box, const SudokuGrid& grid) {
  check_sudoku_grid(box, grid);
  const int n = box * box;
  const Mask all = ((Mask{1} << n) - 1) << 1;
  for (const auto& unit : sudoku_units(box)) {
    Mask seen = 0;
    for (int c : unit) seen |= bit(grid[c]);
    if (seen != all) return false;  // n cells cover n digits only if each appears once
  }
  return true;
}

SudokuGrid random_sudoku_solution(int box, std::mt19937_64& rng) {
  const int n = sudoku_digits(box);
  Board board(box, SudokuGrid(n * n, 0));
  Search search(board, 1, &rng);
  if (search.run() != 1)
    throw InternalError("random_sudoku_solution: empty grid has no completion");
  return search.first();
}

SudokuPuzzle generate_sudoku(int box, int64_t givens, std::mt19937_64& rng) {
  const int n = sudoku_digits(box);
  if (givens < 0 || givens > n * n) {
    throw ConfigError("givens = " + std::to_string(givens) + ": must be in [0, " +
                      std::to_string(n * n) + "] for box = " + std::to_string(box));
  }
  SudokuPuzzle p{box, {}, random_sudoku_solution(box, rng)};
  p.puzzle = p.solution;
  std::vector<int> order(n * n);
  std::iota(order.begin(), order.end(), 0);
  sudoku_detail::shuffle(order, rng);
  // One pass suffices: a removal that breaks uniqueness still breaks it once more cells are gone.
  int64_t left = n * n;
  for (int c : order) {
    if (left <= givens) break;
    const uint8_t d = p.puzzle[c];
    p.puzzle[c] = 0;
    if (count_sudoku_solutions(box, p.puzzle, 2) == 1) {
      --left;
    } else {
      p.puzzle[c] = d;
    }
  }
  return p;
}

}  // namespace trm::core
