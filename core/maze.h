// Maze puzzles in the reference's Maze-Hard token layout (TRM-SPEC §7.1, §7.4), torch-free:
// 0 pad, 1 wall '#', 2 open ' ', 3 start 'S', 4 goal 'G', 5 path 'o'. The input is the maze with
// its start and goal; the label is the same grid with the shortest path's cells marked 'o'.
// Generated mazes are perfect (one path between any two open cells), so the label is the only
// answer; they are grown depth first and the goal is the open cell farthest from the start, so
// the paths are long (Maze-Hard keeps mazes whose shortest path exceeds 110 cells). Augmentation:
// the 8 dihedral transforms.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <utility>
#include <vector>

#include "core/sudoku.h"

namespace trm::core {

enum MazeToken : uint8_t { kMazePad = 0, kMazeWall, kMazeOpen, kMazeStart, kMazeGoal, kMazePath };
constexpr int64_t kMazeVocab = 6;

struct MazePuzzle {
  int size = 0;                // side of the square grid
  std::vector<uint8_t> input;  // size*size tokens, row-major: walls, open cells, S and G
  std::vector<uint8_t> label;  // the input with the path's open cells marked kMazePath
};

// A perfect maze on a size x size grid (size >= 5), its start at a random open cell and its goal
// at the open cell farthest from it.
MazePuzzle generate_maze(int size, std::mt19937_64& rng);

// Dihedral transform t in [0, 8): t & 3 quarter turns clockwise, then a left-right mirror when
// t >= 4. Transform 0 is the identity.
std::vector<uint8_t> maze_dihedral(const std::vector<uint8_t>& grid, int size, int t);

// Cells of the shortest path from S to G in `input`, S and G included; 0 when G cannot be reached.
// Used by the tests to check labels; the generator's mazes have exactly one such path.
int64_t maze_shortest_path_cells(const std::vector<uint8_t>& input, int size);

// Train and test splits: `train_mazes` groups of the maze and its first `num_aug` dihedral
// variants (num_aug in [0, 7]), each variant a puzzle of one example; `test_mazes` further mazes,
// none equal to a train maze under any dihedral transform. `stop` is asked every 16 mazes.
std::pair<PuzzleArrays, PuzzleArrays> make_maze_train_test(int size, int64_t train_mazes,
                                                           int64_t num_aug, int64_t test_mazes,
                                                           uint64_t seed,
                                                           const std::function<bool()>& stop = {});

}  // namespace trm::core
