// One trial, fully typed: the model, the training procedure (TRM-SPEC §5) and the data it learns
// from. Torch-free, so sweep/ and storage/ use the same structs. Keys are dotted
// ("model.l_cycles", "train.lr", "data.givens") in --set, TOML files and the results file alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace trm::core {

// Where the examples come from: generated Sudoku, or a folder in the reference's on-disk format
// (data.path; core/reference_data.h) such as Sudoku-Extreme, Maze-Hard or ARC as the reference's
// dataset builders write them.
// Generated mazes (core/maze.h) are a third source.
enum class DataSource { sudoku, reference, maze };
template <>
struct EnumNames<DataSource> {
  static constexpr auto values =
      std::to_array<std::pair<DataSource, std::string_view>>({{DataSource::sudoku, "sudoku"},
                                                              {DataSource::reference, "reference"},
                                                              {DataSource::maze, "maze"}});
};

// Defaults: the paper's Sudoku-Extreme run (TRM-SPEC §5, §6).
struct TrainConfig {
  int64_t batch_size = 768;        // B, carry slots = examples per optimizer step (global batch)
  int64_t epochs = 50000;          // passes over the training groups; sets the step count
  int64_t steps = 0;               // optimizer steps; > 0 overrides epochs
  int64_t eval_interval = 0;       // steps between evaluations; 0 = only after the last step
  double lr = 1e-4;                // AdamATan2 base learning rate
  int64_t lr_warmup_steps = 2000;  // linear warm-up steps (§5.2)
  double lr_min_ratio = 1.0;       // cosine floor after warm-up; 1 = constant (all paper runs)
  double weight_decay = 1.0;       // AdamATan2 decoupled decay (Sudoku/Maze 1.0, ARC 0.1)
  double beta1 = 0.9;              // AdamATan2 first-moment decay
  double beta2 = 0.95;             // AdamATan2 second-moment decay
  double puzzle_emb_lr = 1e-4;     // sign-SGD learning rate of the puzzle-embedding table
  double puzzle_emb_weight_decay = 1.0;  // its decoupled decay
  bool ema = true;                       // evaluate and export the EMA shadow (§5.4)
  double ema_rate = 0.999;               // mu: shadow = (1 - mu) param + mu shadow
  int64_t seed = 0;                      // torch seed: initial weights, exploration draws
  // ARC data sets (core/arc_eval.h): each evaluation's vote also counts every earlier
  // evaluation's predictions of the run, as the reference's default aggregated_voting = True.
  bool arc_aggregated_voting = true;

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("batch_size", self.batch_size);
    v("epochs", self.epochs);
    v("steps", self.steps);
    v("eval_interval", self.eval_interval);
    v("lr", self.lr);
    v("lr_warmup_steps", self.lr_warmup_steps);
    v("lr_min_ratio", self.lr_min_ratio);
    v("weight_decay", self.weight_decay);
    v("beta1", self.beta1);
    v("beta2", self.beta2);
    v("puzzle_emb_lr", self.puzzle_emb_lr);
    v("puzzle_emb_weight_decay", self.puzzle_emb_weight_decay);
    v("ema", self.ema);
    v("ema_rate", self.ema_rate);
    v("seed", self.seed);
    v("arc_aggregated_voting", self.arc_aggregated_voting);
  }
  bool operator==(const TrainConfig&) const = default;
};

// Defaults: a Sudoku-Extreme-sized set of generated 9x9 puzzles (1000 originals x 1001 shuffles).
struct DataConfig {
  DataSource source = DataSource::sudoku;  // generator of the examples
  int64_t box = 3;                         // Sudoku box side: 2 (4x4 grids) or 3 (9x9 grids)
  int64_t train_puzzles = 1000;            // original training puzzles (= groups)
  int64_t givens = 25;                     // givens per generated puzzle (fewer = harder)
  int64_t num_aug = 1000;                  // augmented copies per training original (§7.2)
  int64_t test_puzzles = 1000;             // held-out puzzles, none equivalent to a training one
  int64_t seed = 0;                        // data seed: the same seed gives the same arrays
  // source = reference: the data set's folder (train/ and test/), relative to the working
  // folder of the command. The generator's fields above do not apply to it.
  std::string path;
  // source = maze: the grid's side (30: Maze-Hard's 30x30); train_puzzles, num_aug (dihedral
  // variants, at most 7), test_puzzles and seed apply as for Sudoku.
  int64_t maze_size = 30;

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("source", self.source);
    v("box", self.box);
    v("train_puzzles", self.train_puzzles);
    v("givens", self.givens);
    v("num_aug", self.num_aug);
    v("test_puzzles", self.test_puzzles);
    v("seed", self.seed);
    v("path", self.path);
    v("maze_size", self.maze_size);
  }
  bool operator==(const DataConfig&) const = default;
};

struct TrialConfig {
  ModelConfig model;
  TrainConfig train;
  DataConfig data;

  // Every field as "model.x", "train.x", "data.x".
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    visit_prefixed<ModelConfig>("model.", self.model, v);
    visit_prefixed<TrainConfig>("train.", self.train, v);
    visit_prefixed<DataConfig>("data.", self.data, v);
  }
  bool operator==(const TrialConfig&) const = default;

 private:
  template <class Part, class Self, class Visitor>
  static void visit_prefixed(std::string_view prefix, Self& part, Visitor& v) {
    std::string name;
    Part::visit_fields(part, [&](std::string_view leaf, auto& field) {
      name.assign(prefix).append(leaf);
      v(std::string_view(name), field);
    });
  }
};

// Tokens and sequence length of generated Sudoku (n*n cells, n+2 tokens).
int64_t data_seq_len(const DataConfig& d);
int64_t data_vocab_size(const DataConfig& d);

// What the data a DataConfig describes holds, without making it: generated Sudoku from its
// settings, a reference folder from its dataset.json files and its arrays' headers (DataError
// when they cannot be read).
struct DataShape {
  int64_t seq_len = 0;
  int64_t vocab_size = 0;
  int64_t num_puzzle_identifiers = 1;  // the puzzle-embedding rows the data's ids need
  int64_t train_groups = 0;
  int64_t train_puzzles = 0;
  int64_t train_examples = 0;
  int64_t test_examples = 0;
};
DataShape data_shape(const DataConfig& d);

// Every problem of the trial, model included, one line each; empty when valid.
std::vector<std::string> trial_problems(const TrialConfig& c);
// Throws ConfigError listing every problem at once.
void validate(const TrialConfig& c);

// Optimizer steps of the trial: train.steps, or floor(epochs * groups * examples per puzzle / B)
// (TRM-SPEC §5.3), from the size of the training split.
int64_t total_steps(const TrainConfig& t, int64_t num_groups, double mean_puzzle_examples);

// The keys of `c` set away from their default that take no part in its training as configured,
// each with why ("train.epochs", "train.steps = 6 sets the length"): train.epochs under
// train.steps, the generator's keys of a data set read from a folder (and data.path, maze_size
// of generated ones), model.rope_theta without RoPE, model.puzzle_emb_len and the puzzle
// embedding's optimizer keys without a puzzle embedding, train.ema_rate without EMA. Two trials
// whose configs differ only in such keys train alike.
std::vector<std::pair<std::string, std::string>> ineffective_keys(const TrialConfig& c);

// "key = value" lines, sorted by key, canonical values: what the trial id hashes. A key added
// after ids were first issued (data.path, data.maze_size, train.arc_aggregated_voting) is left
// out while it holds its default, so the trials of earlier results files keep their ids.
std::string canonical_text(const TrialConfig& c);

}  // namespace trm::core
