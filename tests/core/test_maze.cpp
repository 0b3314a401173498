// The maze generator (core/maze.h): perfect mazes whose label is their one shortest path, the 8
// dihedral transforms, and the splits built from them.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/maze.h"
#include "core/trial_config.h"
#include "core/trial_data.h"

namespace trm::core {
namespace {

int64_t count(const std::vector<uint8_t>& g, uint8_t token) {
  return std::count(g.begin(), g.end(), token);
}

// Open cells and the 4-neighbour links between them; connected open cells with links = cells - 1
// form a tree: one path between any two.
struct Graph {
  int64_t cells = 0, links = 0, reached = 0;
};
Graph graph_of(const std::vector<uint8_t>& g, int size) {
  Graph out;
  int first = -1;
  for (int cell = 0; cell < size * size; ++cell) {
    if (g[cell] == kMazeWall) continue;
    ++out.cells;
    if (first < 0) first = cell;
    if (cell % size + 1 < size && g[cell + 1] != kMazeWall) ++out.links;
    if (cell + size < size * size && g[cell + size] != kMazeWall) ++out.links;
  }
  std::vector<bool> seen(g.size(), false);
  std::deque<int> queue{first};
  seen[first] = true;
  while (!queue.empty()) {
    const int cell = queue.front();
    queue.pop_front();
    ++out.reached;
    const int r = cell / size, c = cell % size;
    for (const int n : {r > 0 ? cell - size : -1, r + 1 < size ? cell + size : -1,
                        c > 0 ? cell - 1 : -1, c + 1 < size ? cell + 1 : -1}) {
      if (n >= 0 && g[n] != kMazeWall && !seen[n]) {
        seen[n] = true;
        queue.push_back(n);
      }
    }
  }
  return out;
}

TEST(MazeGenerator, EveryMazeIsPerfectAndItsLabelIsTheOneShortestPath) {
  std::mt19937_64 rng(3);
  for (const int size : {5, 9, 30}) {
    for (int k = 0; k < 20; ++k) {
      const MazePuzzle m = generate_maze(size, rng);
      ASSERT_EQ(m.input.size(), static_cast<size_t>(size * size));
      EXPECT_EQ(count(m.input, kMazeStart), 1);
      EXPECT_EQ(count(m.input, kMazeGoal), 1);
      EXPECT_EQ(count(m.input, kMazePath), 0);
      const Graph g = graph_of(m.input, size);
      EXPECT_EQ(g.reached, g.cells) << "the open cells are not connected";
      EXPECT_EQ(g.links, g.cells - 1) << "the open cells close a loop: two paths somewhere";
      // The label marks exactly the cells between S and G on the shortest path, and nothing else
      // changes; the path alone (S, o..., G) joins S to G.
      const int64_t path = maze_shortest_path_cells(m.input, size);
      ASSERT_GT(path, 1);
      EXPECT_EQ(count(m.label, kMazePath), path - 2);
      for (size_t c = 0; c < m.input.size(); ++c) {
        if (m.label[c] != kMazePath)
          EXPECT_EQ(m.label[c], m.input[c]);
        else
          EXPECT_EQ(m.input[c], kMazeOpen);
      }
      std::vector<uint8_t> only_path = m.label;
      for (auto& t : only_path)
        if (t == kMazeOpen) t = kMazeWall;
      EXPECT_EQ(maze_shortest_path_cells(only_path, size), path);
    }
  }
}

TEST(MazeGenerator, TheGoalIsTheFarthestOpenCellSoPathsAreAsLongAsMazeHards) {
  std::mt19937_64 rng(11);
  int64_t total = 0;
  for (int k = 0; k < 20; ++k) total += maze_shortest_path_cells(generate_maze(30, rng).input, 30);
  // Maze-Hard keeps mazes whose shortest path exceeds 110 cells; grown depth first, a 30x30
  // maze's farthest cell lies ~200 cells from its start (a breadth-like growth gave ~65).
  EXPECT_GT(total / 20, 110);
}

TEST(MazeDihedral, TheEightTransformsAreDistinctAndComposeAsTheGroup) {
  const int n = 5;
  std::vector<uint8_t> g(n * n);
  for (int k = 0; k < n * n; ++k) g[k] = static_cast<uint8_t>(k);  // no symmetry
  // Sets of strings: std::set<std::vector<uint8_t>> trips a GCC 12 -Wstringop-overread false
  // positive in C++20 (as in core/sudoku.cpp).
  auto text = [](const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); };
  std::set<std::string> images;
  for (int t = 0; t < 8; ++t) images.insert(text(maze_dihedral(g, n, t)));
  EXPECT_EQ(images.size(), 8u);
  EXPECT_EQ(maze_dihedral(g, n, 0), g);
  EXPECT_EQ(maze_dihedral(maze_dihedral(g, n, 1), n, 3), g);  // a turn, then three more
  EXPECT_EQ(maze_dihedral(maze_dihedral(g, n, 4), n, 4), g);  // a mirror twice
  // A quarter turn clockwise: the top-left corner goes to the top-right.
  EXPECT_EQ(maze_dihedral(g, n, 1)[n - 1], g[0]);
  // The label of a transformed maze is the transformed label: still the shortest path.
  std::mt19937_64 rng(5);
  const MazePuzzle m = generate_maze(9, rng);
  for (int t = 0; t < 8; ++t) {
    const auto in = maze_dihedral(m.input, 9, t), label = maze_dihedral(m.label, 9, t);
    EXPECT_EQ(maze_shortest_path_cells(in, 9), count(label, kMazePath) + 2) << t;
  }
}

TEST(MazeSplit, GroupsHoldTheDihedralVariantsAndTestMazesAreNew) {
  DataConfig d;
  d.source = DataSource::maze;
  d.maze_size = 7;
  d.train_puzzles = 30;
  d.num_aug = 7;
  d.test_puzzles = 20;
  const TrialData data = make_trial_data(d);
  EXPECT_EQ(data.train.seq_len, 49);
  EXPECT_EQ(data.train.vocab_size, kMazeVocab);
  EXPECT_EQ(data.train.num_groups(), 30);
  EXPECT_EQ(data.train.num_puzzles(), 30 * 8);
  EXPECT_EQ(data.train.num_examples(), 30 * 8);
  EXPECT_EQ(data.test.num_examples(), 20);
  const DataShape shape = data_shape(d);
  EXPECT_EQ(shape.train_groups, 30);
  EXPECT_EQ(shape.train_examples, 240);
  EXPECT_EQ(shape.test_examples, 20);
  // No test maze is any image of a train maze.
  std::set<std::string> train_images;
  for (int64_t e = 0; e < data.train.num_examples(); ++e)
    train_images.insert(
        {data.train.inputs.begin() + e * 49, data.train.inputs.begin() + e * 49 + 49});
  std::set<std::string> test_mazes;
  for (int64_t e = 0; e < 20; ++e) {
    const std::string m(data.test.inputs.begin() + e * 49, data.test.inputs.begin() + e * 49 + 49);
    EXPECT_FALSE(train_images.contains(m)) << "test maze " << e << " is a train maze";
    EXPECT_TRUE(test_mazes.insert(m).second) << "test maze " << e << " twice";
  }
  // The same seed gives the same arrays; another seed other mazes.
  EXPECT_EQ(make_trial_data(d).train.inputs, data.train.inputs);
  d.seed = 1;
  EXPECT_NE(make_trial_data(d).train.inputs, data.train.inputs);
}

TEST(MazeConfig, ProblemsNameTheKeyAndTheValueToSet) {
  TrialConfig c;
  c.data.source = DataSource::maze;
  std::string all;
  for (const auto& p : trial_problems(c)) all += p + "\n";
  // The defaults: 30x30 mazes, 1000 augmentations (Sudoku's), an 81-token model.
  EXPECT_NE(all.find("model.seq_len = 81: data.maze_size = 30 gives 900-token examples; set "
                     "model.seq_len = 900"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("data.num_aug = 1000: a maze has 7 dihedral variants besides itself; valid "
                     "range [0, 7]"),
            std::string::npos)
      << all;
  c.model.seq_len = 900;
  c.data.num_aug = 7;
  EXPECT_TRUE(trial_problems(c).empty());
  c.data.maze_size = 4;
  EXPECT_EQ(trial_problems(c).at(0), "data.maze_size = 4: valid range [5, 64]");
  // Trial ids of earlier files: maze_size is hashed only away from its default.
  TrialConfig plain;
  EXPECT_EQ(canonical_text(plain).find("maze_size"), std::string::npos);
  plain.data.maze_size = 20;
  EXPECT_NE(canonical_text(plain).find("data.maze_size = 20\n"), std::string::npos);
}

}  // namespace
}  // namespace trm::core
