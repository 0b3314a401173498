// Sudoku splits in the reference's array layout (TRM-SPEC §7.1) and its augmentation (§7.2):
// shuffles, the equivalence test that keeps test puzzles out of the train split, and the arrays.
#include "core/sudoku.h"

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <numeric>
#include <set>
#include <string>

#include "core/errors.h"

namespace trm::core {

int64_t PuzzleArrays::num_examples() const {
  return seq_len > 0 ? static_cast<int64_t>(inputs.size()) / seq_len : 0;
}
int64_t PuzzleArrays::num_puzzles() const {
  return static_cast<int64_t>(puzzle_identifiers.size());
}
int64_t PuzzleArrays::num_groups() const {
  return group_indices.empty() ? 0 : static_cast<int64_t>(group_indices.size()) - 1;
}

GivensSummary givens_summary(const PuzzleArrays& a) {
  GivensSummary g;
  const int64_t n = a.num_examples();
  if (n == 0 || a.seq_len <= 0) return g;
  g.min = a.seq_len;
  int64_t total = 0;
  for (int64_t e = 0; e < n; ++e) {
    const auto first = a.inputs.begin() + e * a.seq_len;
    const auto count = std::count_if(first, first + a.seq_len, [](uint8_t t) { return t >= 2; });
    g.min = std::min<int64_t>(g.min, count);
    g.max = std::max<int64_t>(g.max, count);
    total += count;
  }
  g.mean = static_cast<double>(total) / static_cast<double>(n);
  return g;
}

namespace {

using sudoku_detail::draw_below;

// A random order of the bands, then a random order of the lines inside each band (§7.2).
std::vector<int> random_banded_perm(int box, std::mt19937_64& rng) {
  std::vector<int> bands(box), perm;
  std::iota(bands.begin(), bands.end(), 0);
  sudoku_detail::shuffle(bands, rng);
  for (int b : bands) {
    std::vector<int> inner(box);
    std::iota(inner.begin(), inner.end(), 0);
    sudoku_detail::shuffle(inner, rng);
    for (int i : inner) perm.push_back(b * box + i);
  }
  return perm;
}

bool is_banded_perm(int box, const std::vector<int>& perm) {
  const int n = box * box;
  if (perm.size() != static_cast<size_t>(n)) return false;
  std::vector<bool> seen(n, false);
  for (int i = 0; i < n; ++i) {
    const int v = perm[i];
    if (v < 0 || v >= n || seen[v] || v / box != perm[i - i % box] / box) return false;
    seen[v] = true;
  }
  return true;
}

void check_shuffle(int box, const SudokuShuffle& s) {
  const int n = sudoku_digits(box);
  std::vector<uint8_t> identity(n + 1);
  std::iota(identity.begin(), identity.end(), 0);
  if (!std::is_permutation(s.digit_map.begin(), s.digit_map.end(), identity.begin(),
                           identity.end()) ||
      s.digit_map[0] != 0) {
    throw ConfigError("sudoku shuffle digit_map: must be 0 followed by a permutation of 1.." +
                      std::to_string(n));
  }
  if (!is_banded_perm(box, s.row_perm) || !is_banded_perm(box, s.col_perm)) {
    throw ConfigError("sudoku shuffle row_perm/col_perm: must be permutations of 0.." +
                      std::to_string(n - 1) + " that keep bands of " + std::to_string(box));
  }
}

SudokuGrid transposed(int box, const SudokuGrid& g) {
  const int n = box * box;
  SudokuGrid t(g.size());
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) t[c * n + r] = g[r * n + c];
  }
  return t;
}

// Every banded permutation of 0..n-1: (box!)^(box+1) of them, 1296 of the 9! for 9x9.
std::vector<std::vector<int>> all_banded_perms(int box) {
  std::vector<int> p(box * box);
  std::iota(p.begin(), p.end(), 0);
  std::vector<std::vector<int>> banded;
  do {
    if (is_banded_perm(box, p)) banded.push_back(p);
  } while (std::next_permutation(p.begin(), p.end()));
  return banded;
}

// Looks for a banded row permutation and a digit bijection that map `src` (its columns already
// permuted by `cols`) onto `dst`. Row by row, so a row whose blanks or digits disagree prunes
// the branch at once.
class RowMatcher {
 public:
  RowMatcher(int box, const SudokuGrid& src, const SudokuGrid& dst, const std::vector<int>& cols)
      : box_(box), n_(box * box), src_(src), dst_(dst), cols_(cols) {}
  bool run() { return match(0); }

 private:
  bool extend_maps(int r, int i) {
    for (int j = 0; j < n_; ++j) {
      const uint8_t s = src_[r * n_ + cols_[j]], t = dst_[i * n_ + j];
      if ((s == 0) != (t == 0)) return false;
      if (s == 0 || fwd_[s] == t) continue;
      if (fwd_[s] != 0 || bwd_[t] != 0) return false;
      fwd_[s] = t, bwd_[t] = s;
    }
    return true;
  }
  bool match(int i) {
    if (i == n_) return true;
    const int band = i / box_;
    const bool opens_band = i % box_ == 0;  // its source row fixes the band's source band
    for (int r = 0; r < n_; ++r) {
      const int from = r / box_;  // the source band
      if (row_used_[r] || (opens_band ? band_used_[from] : from != source_band_[band])) continue;
      const auto fwd = fwd_, bwd = bwd_;
      if (extend_maps(r, i)) {
        row_used_[r] = true;
        if (opens_band) band_used_[from] = true, source_band_[band] = from;
        if (match(i + 1)) return true;
        row_used_[r] = false;
        if (opens_band) band_used_[from] = false;
      }
      fwd_ = fwd, bwd_ = bwd;
    }
    return false;
  }

  int box_, n_;
  const SudokuGrid& src_;
  const SudokuGrid& dst_;
  const std::vector<int>& cols_;
  std::array<uint8_t, 10> fwd_{}, bwd_{};  // digit maps src -> dst and back, 0 = unset
  std::array<bool, 9> row_used_{};
  std::array<bool, 3> band_used_{};
  std::array<int, 3> source_band_{};
};

// Invariants of the shuffles, to skip the search for most pairs: sorted digit counts, and the
// given counts per line, sorted within bands and then across bands; rows and columns as an
// unordered pair because of the transpose.
std::vector<int> sudoku_signature(int box, const SudokuGrid& g) {
  const int n = box * box;
  std::vector<int> digits(n + 1, 0), rows(n, 0), cols(n, 0);
  for (int c = 0; c < n * n; ++c) {
    ++digits[g[c]];
    if (g[c] != 0) ++rows[c / n], ++cols[c % n];
  }
  auto by_band = [box](std::vector<int> lines) {
    std::vector<std::vector<int>> bands;
    for (int b = 0; b < box; ++b) {
      bands.emplace_back(lines.begin() + b * box, lines.begin() + (b + 1) * box);
      std::sort(bands.back().begin(), bands.back().end());
    }
    std::sort(bands.begin(), bands.end());
    std::vector<int> flat;
    for (const auto& band : bands) flat.insert(flat.end(), band.begin(), band.end());
    return flat;
  };
  std::vector<int> sig(digits.begin() + 1, digits.end()), r = by_band(rows), c = by_band(cols);
  std::sort(sig.begin(), sig.end());
  if (c < r) std::swap(r, c);
  sig.insert(sig.end(), r.begin(), r.end());
  sig.insert(sig.end(), c.begin(), c.end());
  return sig;
}

void check_split_spec(const SudokuSplitSpec& s) {
  const int n = sudoku_digits(s.box);
  auto fail = [](const char* key, int64_t value, const std::string& rule) {
    throw ConfigError(std::string(key) + " = " + std::to_string(value) + ": " + rule);
  };
  if (s.givens < 0 || s.givens > n * n) {
    fail("givens", s.givens,
         "must be in [0, " + std::to_string(n * n) + "] for box = " + std::to_string(s.box));
  }
  if (s.num_puzzles < 1) fail("num_puzzles", s.num_puzzles, "must be >= 1");
  if (s.num_aug < 0) fail("num_aug", s.num_aug, "must be >= 0");
  // The CSR offsets are int32 in the reference (TRM-SPEC §7.1).
  if (s.num_puzzles > INT32_MAX || s.num_aug >= INT32_MAX / s.num_puzzles) {
    fail("num_aug", s.num_aug, "num_puzzles * (num_aug + 1) must be < 2^31 (int32 indices)");
  }
}

// Asks `stop` every 16 puzzles (a 9x9 one takes about a millisecond); throws Stopped when it says
// so.
void check_stop(const std::function<bool()>& stop, int64_t i) {
  if (stop && (i & 15) == 0 && stop()) {
    throw Stopped("stopped while making the puzzles");
  }
}

std::vector<SudokuPuzzle> generate_originals(const SudokuSplitSpec& s, std::mt19937_64& rng,
                                             const std::function<bool()>& stop = {}) {
  std::vector<SudokuPuzzle> originals;
  for (int64_t i = 0; i < s.num_puzzles; ++i) {
    check_stop(stop, i);
    originals.push_back(generate_sudoku(s.box, s.givens, rng));
  }
  return originals;
}

// Token map of TRM-SPEC §7.1: empty cell 1, digit d -> d + 1; 0 (pad) never occurs.
void append_example(PuzzleArrays& a, const SudokuPuzzle& p) {
  for (uint8_t d : p.puzzle) a.inputs.push_back(static_cast<uint8_t>(d + 1));
  for (uint8_t d : p.solution) a.labels.push_back(static_cast<uint8_t>(d + 1));
  a.puzzle_identifiers.push_back(0);  // Sudoku has one (blank) identifier for all puzzles
  a.puzzle_indices.push_back(static_cast<int32_t>(a.num_examples()));
}

PuzzleArrays to_arrays(int box, const std::vector<SudokuPuzzle>& originals, int64_t num_aug,
                       std::mt19937_64& rng) {
  const int n = box * box;
  PuzzleArrays a;
  a.seq_len = n * n;
  a.vocab_size = n + 2;
  a.puzzle_indices = {0};
  a.group_indices = {0};
  for (const auto& p : originals) {
    append_example(a, p);
    for (int64_t k = 0; k < num_aug; ++k) append_example(a, augment_sudoku(p, rng));
    a.group_indices.push_back(static_cast<int32_t>(a.num_puzzles()));
  }
  return a;
}

// SplitMix64's finaliser, so that test_seed == train.seed does not replay the train puzzles.
uint64_t mix_seed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

SudokuShuffle random_sudoku_shuffle(int box, std::mt19937_64& rng) {
  const int n = sudoku_digits(box);
  SudokuShuffle s;
  s.digit_map.resize(n + 1);
  std::iota(s.digit_map.begin(), s.digit_map.end(), 0);
  std::vector<uint8_t> digits(s.digit_map.begin() + 1, s.digit_map.end());
  sudoku_detail::shuffle(digits, rng);
  std::copy(digits.begin(), digits.end(), s.digit_map.begin() + 1);
  s.transpose = draw_below(rng, 2) == 1;
  s.row_perm = random_banded_perm(box, rng);
  s.col_perm = random_banded_perm(box, rng);
  return s;
}

SudokuGrid apply_sudoku_shuffle(int box, const SudokuShuffle& s, const SudokuGrid& grid) {
  check_sudoku_grid(box, grid);
  check_shuffle(box, s);
  const int n = box * box;
  const SudokuGrid& src = s.transpose ? transposed(box, grid) : grid;
  SudokuGrid out(grid.size());
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j)
      out[i * n + j] = s.digit_map[src[s.row_perm[i] * n + s.col_perm[j]]];
  }
  return out;
}

SudokuPuzzle augment_sudoku(const SudokuPuzzle& p, std::mt19937_64& rng) {
  const SudokuShuffle s = random_sudoku_shuffle(p.box, rng);
  return {p.box, apply_sudoku_shuffle(p.box, s, p.puzzle),
          apply_sudoku_shuffle(p.box, s, p.solution)};
}

bool sudoku_equivalent(int box, const SudokuGrid& a, const SudokuGrid& b) {
  check_sudoku_grid(box, a);
  check_sudoku_grid(box, b);
  if (sudoku_signature(box, a) != sudoku_signature(box, b)) return false;
  static const auto perms4 = all_banded_perms(2);
  static const auto perms9 = all_banded_perms(3);
  for (bool transpose : {false, true}) {
    const SudokuGrid src = transpose ? transposed(box, a) : a;
    for (const auto& cols : box == 2 ? perms4 : perms9) {
      if (RowMatcher(box, src, b, cols).run()) return true;
    }
  }
  return false;
}

PuzzleArrays make_sudoku_split(const SudokuSplitSpec& spec) {
  check_split_spec(spec);
  std::mt19937_64 rng(spec.seed);
  const auto originals = generate_originals(spec, rng);
  return to_arrays(spec.box, originals, spec.num_aug, rng);
}

namespace {

void check_test_puzzles(int64_t test_puzzles) {
  if (test_puzzles < 1 || test_puzzles > INT32_MAX) {
    throw ConfigError("test_puzzles = " + std::to_string(test_puzzles) + ": must be in [1, 2^31)");
  }
}

// The test split's originals for make_sudoku_train_test: new to `originals` (up to augmentation)
// and to each other.
std::vector<SudokuPuzzle> draw_test_originals(const SudokuSplitSpec& train,
                                              const std::vector<SudokuPuzzle>& originals,
                                              int64_t test_puzzles, std::mt19937_64& test_rng,
                                              const std::function<bool()>& stop) {
  std::map<std::vector<int>, std::vector<const SudokuGrid*>> train_by_signature;
  for (const auto& p : originals)
    train_by_signature[sudoku_signature(train.box, p.puzzle)].push_back(&p.puzzle);
  auto seen_in_train = [&](const SudokuGrid& g) {
    const auto it = train_by_signature.find(sudoku_signature(train.box, g));
    if (it == train_by_signature.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const SudokuGrid* t) { return sudoku_equivalent(train.box, *t, g); });
  };
  std::vector<SudokuPuzzle> test;
  // Keyed by the grid's bytes as a string: std::set<std::vector<uint8_t>> trips a GCC 12
  // -Wstringop-overread false positive in C++20.
  std::set<std::string> test_seen;
  const int64_t max_draws = 20 * test_puzzles + 1000;  // redraws are rare except in tiny 4x4 spaces
  for (int64_t draws = 0; static_cast<int64_t>(test.size()) < test_puzzles; ++draws) {
    check_stop(stop, draws);
    if (draws == max_draws) {
      throw ConfigError(
          "test_puzzles = " + std::to_string(test_puzzles) + ": only " +
          std::to_string(test.size()) + " of " + std::to_string(max_draws) +
          " drawn puzzles (box = " + std::to_string(train.box) +
          ", givens = " + std::to_string(train.givens) + ") are new to the train split and to " +
          "each other; ask for fewer test or train puzzles, or fewer givens (more puzzles differ)");
    }
    SudokuPuzzle p = generate_sudoku(train.box, train.givens, test_rng);
    const std::string key(p.puzzle.begin(), p.puzzle.end());
    if (test_seen.contains(key) || seen_in_train(p.puzzle)) continue;
    test_seen.insert(key);
    test.push_back(std::move(p));
  }
  return test;
}

}  // namespace

std::pair<PuzzleArrays, PuzzleArrays> make_sudoku_train_test(const SudokuSplitSpec& train,
                                                             int64_t test_puzzles,
                                                             uint64_t test_seed,
                                                             const std::function<bool()>& stop) {
  check_split_spec(train);
  check_test_puzzles(test_puzzles);
  std::mt19937_64 rng(train.seed);
  const auto originals = generate_originals(train, rng, stop);
  std::mt19937_64 test_rng(mix_seed(test_seed));
  const auto test = draw_test_originals(train, originals, test_puzzles, test_rng, stop);
  PuzzleArrays train_arrays = to_arrays(train.box, originals, train.num_aug, rng);
  return {std::move(train_arrays), to_arrays(train.box, test, 0, test_rng)};
}

void check_sudoku_train_test(const SudokuSplitSpec& train, int64_t test_puzzles,
                             uint64_t test_seed) {
  check_split_spec(train);
  check_test_puzzles(test_puzzles);
  std::mt19937_64 rng(train.seed);
  const auto originals = generate_originals(train, rng);
  std::mt19937_64 test_rng(mix_seed(test_seed));
  (void)draw_test_originals(train, originals, test_puzzles, test_rng, {});
}

}  // namespace trm::core
