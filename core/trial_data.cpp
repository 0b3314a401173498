#include "core/trial_data.h"

#include <cstdio>
#include <cstring>
#include <random>

#include "core/errors.h"
#include "core/maze.h"
#include "core/reference_data.h"

namespace trm::core {

namespace {

SudokuSplitSpec sudoku_spec(const DataConfig& d) {
  SudokuSplitSpec spec;
  spec.box = static_cast<int>(d.box);
  spec.num_puzzles = d.train_puzzles;
  spec.givens = d.givens;
  spec.num_aug = d.num_aug;
  spec.seed = static_cast<uint64_t>(d.seed);
  return spec;
}

// The test split's own stream, far from any train seed a user would pick.
uint64_t sudoku_test_seed(const DataConfig& d) {
  return static_cast<uint64_t>(d.seed) ^ 0x7e57'5eed'0000'0000ULL;
}

// ARC's evaluation files of a reference folder whose test examples have `seq_len` tokens.
std::shared_ptr<const ArcTestSet> load_arc(const std::string& dir, int64_t seq_len) {
  if (seq_len != 900) {
    throw DataError(dir + "/test: seq_len = " + std::to_string(seq_len) +
                    ": the folder has test_puzzles.json, so ARC's evaluator reads each "
                    "example as a 30x30 canvas (seq_len 900)");
  }
  return std::make_shared<ArcTestSet>(load_arc_test_set(dir));
}

}  // namespace

TrialData make_trial_data(const DataConfig& d, const std::function<bool()>& stop) {
  if (d.source == DataSource::reference) {
    (void)reference_data_shape(d.path);  // the folder, both splits' metadata and headers agree
    TrialData data{load_reference_split(d.path + "/train", stop),
                   load_reference_split(d.path + "/test", stop), nullptr};
    if (has_arc_test_set(d.path)) {
      auto arc = load_arc(d.path, data.test.seq_len);
      for (const int32_t id : data.test.puzzle_identifiers) {
        if (id >= static_cast<int64_t>(arc->identifiers.size())) {
          throw DataError(d.path + "/identifiers.json: names " +
                          std::to_string(arc->identifiers.size()) +
                          " puzzle ids, but the test split uses id " + std::to_string(id));
        }
      }
      data.arc = std::move(arc);
    }
    return data;
  }
  if (d.source == DataSource::maze) {
    auto [train, test] =
        make_maze_train_test(static_cast<int>(d.maze_size), d.train_puzzles, d.num_aug,
                             d.test_puzzles, static_cast<uint64_t>(d.seed), stop);
    return {std::move(train), std::move(test), nullptr};
  }
  auto [train, test] =
      make_sudoku_train_test(sudoku_spec(d), d.test_puzzles, sudoku_test_seed(d), stop);
  return {std::move(train), std::move(test), nullptr};
}

std::string data_draw_problem(const DataConfig& d, int64_t max_puzzles) {
  if (d.source == DataSource::reference) {
    try {
      if (has_arc_test_set(d.path))
        (void)load_arc(d.path, reference_data_shape(d.path).test.seq_len);
    } catch (const DataError& e) {
      return "data.path: " + std::string(e.what());
    }
    return "";
  }
  if (d.source != DataSource::sudoku || d.box != 2) return "";
  if (d.train_puzzles < 1 || d.test_puzzles < 1 || d.train_puzzles > max_puzzles - d.test_puzzles) {
    return "";
  }
  try {
    check_sudoku_train_test(sudoku_spec(d), d.test_puzzles, sudoku_test_seed(d));
  } catch (const ConfigError& e) {
    return "data." + std::string(e.what());
  }
  return "";
}

ExampleSampler::ExampleSampler(const PuzzleArrays& data, uint64_t seed) : data_(data), seed_(seed) {
  if (data.num_groups() < 1 || data.num_examples() < 1) {
    throw DataError("the training split has no examples");
  }
  puzzle_of_example_.resize(static_cast<size_t>(data.num_examples()));
  for (int64_t p = 0; p < data.num_puzzles(); ++p) {
    for (int32_t e = data.puzzle_indices[p]; e < data.puzzle_indices[p + 1]; ++e) {
      puzzle_of_example_[static_cast<size_t>(e)] = static_cast<int32_t>(p);
    }
  }
  build_epoch();
}

void ExampleSampler::build_epoch() {
  // std::seed_seq and mt19937_64 are specified bit for bit; the draws use our portable helpers.
  std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                    static_cast<uint32_t>(pos_.epoch), static_cast<uint32_t>(pos_.epoch >> 32)};
  std::mt19937_64 rng(seq);
  std::vector<int64_t> groups(static_cast<size_t>(data_.num_groups()));
  for (size_t g = 0; g < groups.size(); ++g) groups[g] = static_cast<int64_t>(g);
  sudoku_detail::shuffle(groups, rng);
  order_.clear();
  puzzle_end_.clear();
  for (const int64_t g : groups) {
    const int32_t first = data_.group_indices[g];
    const int32_t puzzles = data_.group_indices[g + 1] - first;
    const int32_t p = first + static_cast<int32_t>(
                                  sudoku_detail::draw_below(rng, static_cast<uint64_t>(puzzles)));
    std::vector<int64_t> examples;
    for (int32_t e = data_.puzzle_indices[p]; e < data_.puzzle_indices[p + 1]; ++e) {
      examples.push_back(e);
    }
    sudoku_detail::shuffle(examples, rng);
    order_.insert(order_.end(), examples.begin(), examples.end());
    puzzle_end_.resize(order_.size(), static_cast<int64_t>(order_.size()));
  }
  if (order_.empty()) throw DataError("the training split's puzzles have no examples");
}

std::vector<int64_t> ExampleSampler::next(int64_t count) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  while (static_cast<int64_t>(out.size()) < count) {
    if (pos_.cursor == static_cast<int64_t>(order_.size())) {
      ++pos_.epoch;
      pos_.cursor = 0;
      build_epoch();
    }
    out.push_back(order_[static_cast<size_t>(pos_.cursor++)]);
    // The batch is full inside a puzzle: its other examples are not used (the reference's
    // random subset up to the remaining capacity; they were shuffled, so these are one).
    if (static_cast<int64_t>(out.size()) == count) {
      pos_.cursor = puzzle_end_[static_cast<size_t>(pos_.cursor - 1)];
    }
  }
  return out;
}

int32_t ExampleSampler::puzzle_id_of(int64_t example) const {
  return data_
      .puzzle_identifiers[static_cast<size_t>(puzzle_of_example_[static_cast<size_t>(example)])];
}

void ExampleSampler::seek(Position p) {
  if (p.epoch < 0 || p.cursor < 0) throw DataError("negative data position in checkpoint");
  pos_ = {p.epoch, 0};
  build_epoch();
  if (p.cursor > static_cast<int64_t>(order_.size())) {
    throw DataError("data position " + std::to_string(p.cursor) + " past the epoch's " +
                    std::to_string(order_.size()) + " examples: the checkpoint is for other data");
  }
  pos_.cursor = p.cursor;
}

namespace {

// A 64-bit hash of bytes, eight at a time (a fingerprint against accidents, not an adversary).
uint64_t hash_bytes(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  auto mix = [&h](uint64_t w) {
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    mix(w);
  }
  uint64_t tail = 0;
  if (n > i) std::memcpy(&tail, p + i, n - i);
  mix(tail ^ (static_cast<uint64_t>(n) << 56));
  mix(static_cast<uint64_t>(n));
  return h;
}

std::string split_fingerprint(const char* name, const PuzzleArrays& a) {
  uint64_t h = 0x243F6A8885A308D3ull;
  h = hash_bytes(&a.seq_len, sizeof a.seq_len, h);
  h = hash_bytes(a.inputs.data(), a.inputs.size(), h);
  h = hash_bytes(a.labels.data(), a.labels.size(), h);
  h = hash_bytes(a.puzzle_identifiers.data(), a.puzzle_identifiers.size() * sizeof(int32_t), h);
  h = hash_bytes(a.puzzle_indices.data(), a.puzzle_indices.size() * sizeof(int32_t), h);
  h = hash_bytes(a.group_indices.data(), a.group_indices.size() * sizeof(int32_t), h);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string(name) + ": " + std::to_string(a.num_groups()) + " groups, " +
         std::to_string(a.num_puzzles()) + " puzzles, " + std::to_string(a.num_examples()) +
         " examples of " + std::to_string(a.seq_len) + " tokens, hash " + hex;
}

}  // namespace

std::string data_fingerprint(const TrialData& d) {
  return split_fingerprint("train", d.train) + "; " + split_fingerprint("test", d.test);
}

}  // namespace trm::core
