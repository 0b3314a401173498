#include "core/maze.h"

#include <algorithm>
#include <deque>
#include <set>
#include <string>

#include "core/errors.h"

namespace trm::core {

namespace {

using sudoku_detail::draw_below;

// Open 4-neighbours of cell (r, c).
int open_neighbours(const std::vector<uint8_t>& g, int size, int r, int c) {
  int n = 0;
  if (r > 0 && g[(r - 1) * size + c] != kMazeWall) ++n;
  if (r + 1 < size && g[(r + 1) * size + c] != kMazeWall) ++n;
  if (c > 0 && g[r * size + c - 1] != kMazeWall) ++n;
  if (c + 1 < size && g[r * size + c + 1] != kMazeWall) ++n;
  return n;
}

// Breadth-first distances from `from` over open cells; -1 for walls and unreachable cells.
std::vector<int> distances(const std::vector<uint8_t>& g, int size, int from,
                           std::vector<int>* parent) {
  std::vector<int> dist(g.size(), -1);
  if (parent != nullptr) parent->assign(g.size(), -1);
  std::deque<int> queue{from};
  dist[from] = 0;
  while (!queue.empty()) {
    const int cell = queue.front();
    queue.pop_front();
    const int r = cell / size, c = cell % size;
    const int next[4] = {r > 0 ? cell - size : -1, r + 1 < size ? cell + size : -1,
                         c > 0 ? cell - 1 : -1, c + 1 < size ? cell + 1 : -1};
    for (const int n : next) {
      if (n < 0 || g[n] == kMazeWall || dist[n] >= 0) continue;
      dist[n] = dist[cell] + 1;
      if (parent != nullptr) (*parent)[n] = cell;
      queue.push_back(n);
    }
  }
  return dist;
}

uint64_t mix_seed(uint64_t x) {  // SplitMix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The least of a maze's 8 dihedral images: equal for mazes that are transforms of each other.
std::string canonical_key(const MazePuzzle& m) {
  std::string best;
  for (int t = 0; t < 8; ++t) {
    const auto g = maze_dihedral(m.input, m.size, t);
    std::string key(g.begin(), g.end());
    if (t == 0 || key < best) best = std::move(key);
  }
  return best;
}

void append(PuzzleArrays& a, const std::vector<uint8_t>& input, const std::vector<uint8_t>& label) {
  a.inputs.insert(a.inputs.end(), input.begin(), input.end());
  a.labels.insert(a.labels.end(), label.begin(), label.end());
  a.puzzle_identifiers.push_back(0);  // one identifier for every maze, as the reference's set
  a.puzzle_indices.push_back(static_cast<int32_t>(a.num_examples()));
}

PuzzleArrays empty_arrays(int size) {
  PuzzleArrays a;
  a.seq_len = static_cast<int64_t>(size) * size;
  a.vocab_size = kMazeVocab;
  a.puzzle_indices = {0};
  a.group_indices = {0};
  return a;
}

void check_stop(const std::function<bool()>& stop, int64_t i) {
  if (stop && (i & 15) == 0 && stop()) throw Stopped("stopped while making the mazes");
}

}  // namespace

MazePuzzle generate_maze(int size, std::mt19937_64& rng) {
  if (size < 5 || size > 64) {
    throw ConfigError("maze size = " + std::to_string(size) + ": valid range [5, 64]");
  }
  MazePuzzle m;
  m.size = size;
  const int cells = size * size;
  std::vector<uint8_t> g(static_cast<size_t>(cells), kMazeWall);
  // Grown as a tree: a wall cell is opened only when it touches exactly one open cell, so the
  // open cells never close a loop and any two are joined by exactly one path. Depth first (the
  // newest open cell grows on while it can), so corridors wind and paths are long.
  auto candidates = [&](int cell) {
    std::vector<int> out;
    const int r = cell / size, c = cell % size;
    for (const int n : {r > 0 ? cell - size : -1, r + 1 < size ? cell + size : -1,
                        c > 0 ? cell - 1 : -1, c + 1 < size ? cell + 1 : -1}) {
      if (n >= 0 && g[n] == kMazeWall && open_neighbours(g, size, n / size, n % size) == 1)
        out.push_back(n);
    }
    return out;
  };
  std::vector<int> stack{static_cast<int>(draw_below(rng, static_cast<uint64_t>(cells)))};
  g[stack.back()] = kMazeOpen;
  while (!stack.empty()) {
    const auto next = candidates(stack.back());
    if (next.empty()) {
      stack.pop_back();
      continue;
    }
    const int cell = next[draw_below(rng, next.size())];
    g[cell] = kMazeOpen;
    stack.push_back(cell);
  }
  std::vector<int> open;
  for (int cell = 0; cell < cells; ++cell)
    if (g[cell] == kMazeOpen) open.push_back(cell);
  const int start = open[draw_below(rng, open.size())];
  std::vector<int> parent;
  const auto dist = distances(g, size, start, &parent);
  const int goal = static_cast<int>(std::max_element(dist.begin(), dist.end()) - dist.begin());
  m.input = g;
  m.input[start] = kMazeStart;
  m.input[goal] = kMazeGoal;
  m.label = m.input;
  for (int cell = parent[goal]; cell != start; cell = parent[cell]) m.label[cell] = kMazePath;
  return m;
}

std::vector<uint8_t> maze_dihedral(const std::vector<uint8_t>& grid, int size, int t) {
  std::vector<uint8_t> out(grid.size());
  for (int r = 0; r < size; ++r) {
    for (int c = 0; c < size; ++c) {
      int rr = r, cc = c;
      for (int q = 0; q < (t & 3); ++q) {  // a quarter turn clockwise: (r, c) -> (c, n-1-r)
        const int nr = cc, nc = size - 1 - rr;
        rr = nr;
        cc = nc;
      }
      if (t >= 4) cc = size - 1 - cc;
      out[static_cast<size_t>(rr * size + cc)] = grid[static_cast<size_t>(r * size + c)];
    }
  }
  return out;
}

int64_t maze_shortest_path_cells(const std::vector<uint8_t>& input, int size) {
  const auto s = std::find(input.begin(), input.end(), kMazeStart);
  const auto g = std::find(input.begin(), input.end(), kMazeGoal);
  if (s == input.end() || g == input.end()) return 0;
  const auto dist = distances(input, size, static_cast<int>(s - input.begin()), nullptr);
  const int d = dist[static_cast<size_t>(g - input.begin())];
  return d < 0 ? 0 : d + 1;
}

std::pair<PuzzleArrays, PuzzleArrays> make_maze_train_test(int size, int64_t train_mazes,
                                                           int64_t num_aug, int64_t test_mazes,
                                                           uint64_t seed,
                                                           const std::function<bool()>& stop) {
  if (num_aug < 0 || num_aug > 7) {
    throw ConfigError("data.num_aug = " + std::to_string(num_aug) +
                      ": a maze has 7 dihedral variants besides itself; valid range [0, 7] for "
                      "data.source = maze");
  }
  std::mt19937_64 rng(seed);
  PuzzleArrays train = empty_arrays(size);
  std::set<std::string> train_keys;
  for (int64_t i = 0; i < train_mazes; ++i) {
    check_stop(stop, i);
    const MazePuzzle m = generate_maze(size, rng);
    train_keys.insert(canonical_key(m));
    for (int t = 0; t <= num_aug; ++t)
      append(train, maze_dihedral(m.input, size, t), maze_dihedral(m.label, size, t));
    train.group_indices.push_back(static_cast<int32_t>(train.num_puzzles()));
  }
  std::mt19937_64 test_rng(mix_seed(seed ^ 0x6d61'7a65'0000'0000ULL));
  PuzzleArrays test = empty_arrays(size);
  std::set<std::string> test_keys;
  const int64_t max_draws = 20 * test_mazes + 1000;
  for (int64_t draws = 0; test.num_puzzles() < test_mazes; ++draws) {
    check_stop(stop, draws);
    if (draws == max_draws) {
      throw ConfigError("data.test_puzzles = " + std::to_string(test_mazes) + ": only " +
                        std::to_string(test.num_puzzles()) + " of " + std::to_string(max_draws) +
                        " drawn mazes of size " + std::to_string(size) +
                        " differ from the train mazes and from each other; ask for fewer, or "
                        "larger mazes");
    }
    const MazePuzzle m = generate_maze(size, test_rng);
    const std::string key = canonical_key(m);
    if (train_keys.contains(key) || !test_keys.insert(key).second) continue;
    append(test, m.input, m.label);
    test.group_indices.push_back(static_cast<int32_t>(test.num_puzzles()));
  }
  return {std::move(train), std::move(test)};
}

}  // namespace trm::core
