#include "core/trial_config.h"

#include <algorithm>
#include <cmath>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "core/maze.h"
#include "core/reference_data.h"

namespace trm::core {

int64_t data_seq_len(const DataConfig& d) { return d.box * d.box * d.box * d.box; }
int64_t data_vocab_size(const DataConfig& d) { return d.box * d.box + 2; }

DataShape data_shape(const DataConfig& d) {
  DataShape s;
  if (d.source == DataSource::reference) {
    if (d.path.empty()) {
      throw DataError(
          "data.path is empty: data.source = reference reads the data set's folder "
          "(train/ and test/, as the reference's dataset builders write them)");
    }
    const auto r = reference_data_shape(d.path);
    s.seq_len = r.train.seq_len;
    s.vocab_size = r.train.vocab_size;
    s.num_puzzle_identifiers =
        std::max(r.train.num_puzzle_identifiers, r.test.num_puzzle_identifiers);
    s.train_groups = r.train.groups;
    s.train_puzzles = r.train.puzzles;
    s.train_examples = r.train.examples;
    s.test_examples = r.test.examples;
    return s;
  }
  // Each augmented copy is a puzzle of one example in its original's group (TRM-SPEC §7.2).
  s.seq_len = d.source == DataSource::maze ? d.maze_size * d.maze_size : data_seq_len(d);
  s.vocab_size = d.source == DataSource::maze ? kMazeVocab : data_vocab_size(d);
  s.train_groups = d.train_puzzles;
  s.train_puzzles = d.train_puzzles * (1 + d.num_aug);
  s.train_examples = s.train_puzzles;
  s.test_examples = d.test_puzzles;
  return s;
}

std::vector<std::string> trial_problems(const TrialConfig& c) {
  std::vector<std::string> p;
  for (const auto& line : config_problems(c.model)) p.push_back("model." + line);
  const auto& t = c.train;
  // Upper bounds as in config_problems: past any real run, inside int64 arithmetic.
  auto at_least = [&](std::string_view key, int64_t value, int64_t min,
                      int64_t max = int64_t{1} << 40) {
    if (value < min) {
      p.push_back(std::string(key) + " = " + std::to_string(value) +
                  ": must be >= " + std::to_string(min));
    }
    if (value > max) {
      p.push_back(std::string(key) + " = " + std::to_string(value) +
                  ": must be <= " + std::to_string(max));
    }
  };
  auto in_range = [&](std::string_view key, double value, double lo, double hi) {
    if (!(value >= lo && value <= hi)) {
      p.push_back(std::string(key) + " = " + format_double(value) + ": valid range [" +
                  format_double(lo) + ", " + format_double(hi) + "]");
    }
  };
  at_least("train.batch_size", t.batch_size, 1, int64_t{1} << 24);
  at_least("train.epochs", t.epochs, 0);
  at_least("train.steps", t.steps, 0);
  if (t.steps == 0 && t.epochs == 0) p.push_back("train.steps = 0 and train.epochs = 0: set one");
  at_least("train.eval_interval", t.eval_interval, 0);
  at_least("train.lr_warmup_steps", t.lr_warmup_steps, 0);
  in_range("train.lr", t.lr, 0.0, 1.0);
  in_range("train.lr_min_ratio", t.lr_min_ratio, 0.0, 1.0);
  in_range("train.weight_decay", t.weight_decay, 0.0, 1e3);
  // Below 1: AdamATan2's bias corrections divide by 1 - beta^t.
  auto below_one = [&](std::string_view key, double value) {
    if (!(value >= 0.0 && value < 1.0)) {
      p.push_back(std::string(key) + " = " + format_double(value) + ": valid range [0, 1)");
    }
  };
  below_one("train.beta1", t.beta1);
  below_one("train.beta2", t.beta2);
  in_range("train.puzzle_emb_lr", t.puzzle_emb_lr, 0.0, 1.0);
  in_range("train.puzzle_emb_weight_decay", t.puzzle_emb_weight_decay, 0.0, 1e3);
  in_range("train.ema_rate", t.ema_rate, 0.0, 1.0);
  at_least("train.seed", t.seed, 0);

  const auto& d = c.data;
  if (d.source == DataSource::reference) {
    // The model must read what the folder holds: its dataset.json says what.
    try {
      const DataShape s = data_shape(d);
      const std::string where = "data.path = " + d.path + " holds ";
      if (c.model.seq_len != s.seq_len) {
        p.push_back("model.seq_len = " + std::to_string(c.model.seq_len) + ": " + where +
                    std::to_string(s.seq_len) +
                    "-token examples; set model.seq_len = " + std::to_string(s.seq_len));
      }
      if (c.model.vocab_size < s.vocab_size) {
        p.push_back("model.vocab_size = " + std::to_string(c.model.vocab_size) + ": " + where +
                    std::to_string(s.vocab_size) +
                    " tokens; set model.vocab_size = " + std::to_string(s.vocab_size));
      }
      if (c.model.num_puzzle_identifiers < s.num_puzzle_identifiers) {
        p.push_back(
            "model.num_puzzle_identifiers = " + std::to_string(c.model.num_puzzle_identifiers) +
            ": " + where + std::to_string(s.num_puzzle_identifiers) +
            " puzzle identifiers; set model.num_puzzle_identifiers = " +
            std::to_string(s.num_puzzle_identifiers));
      }
    } catch (const DataError& e) {
      p.push_back(std::string("data.path: ") + e.what());
    }
  } else if (d.source == DataSource::maze) {
    if (d.maze_size < 5 || d.maze_size > 64) {
      p.push_back("data.maze_size = " + std::to_string(d.maze_size) + ": valid range [5, 64]");
    } else {
      const int64_t cells = d.maze_size * d.maze_size;
      if (c.model.seq_len != cells) {
        p.push_back("model.seq_len = " + std::to_string(c.model.seq_len) + ": data.maze_size = " +
                    std::to_string(d.maze_size) + " gives " + std::to_string(cells) +
                    "-token examples; set model.seq_len = " + std::to_string(cells));
      }
    }
    if (d.num_aug < 0 || d.num_aug > 7) {
      p.push_back("data.num_aug = " + std::to_string(d.num_aug) +
                  ": a maze has 7 dihedral variants besides itself; valid range [0, 7] for "
                  "data.source = maze");
    }
    if (c.model.vocab_size < kMazeVocab) {
      p.push_back("model.vocab_size = " + std::to_string(c.model.vocab_size) + ": mazes use " +
                  std::to_string(kMazeVocab) +
                  " tokens; set model.vocab_size = " + std::to_string(kMazeVocab));
    }
  } else if (d.box != 2 && d.box != 3) {
    p.push_back("data.box = " + std::to_string(d.box) + ": valid values 2 (4x4) or 3 (9x9)");
  } else {
    const int64_t cells = data_seq_len(d);
    if (d.givens < 0 || d.givens > cells) {
      p.push_back("data.givens = " + std::to_string(d.givens) + ": valid range [0, " +
                  std::to_string(cells) + "] for data.box = " + std::to_string(d.box));
    }
    // The model must read what the data holds; say exactly which values fit.
    if (c.model.seq_len != cells) {
      p.push_back("model.seq_len = " + std::to_string(c.model.seq_len) +
                  ": data.box = " + std::to_string(d.box) + " gives " + std::to_string(cells) +
                  "-token examples; set model.seq_len = " + std::to_string(cells));
    }
    if (c.model.vocab_size < data_vocab_size(d)) {
      p.push_back("model.vocab_size = " + std::to_string(c.model.vocab_size) + ": data.box = " +
                  std::to_string(d.box) + " uses " + std::to_string(data_vocab_size(d)) +
                  " tokens; set model.vocab_size = " + std::to_string(data_vocab_size(d)));
    }
  }
  at_least("data.train_puzzles", d.train_puzzles, 1, int64_t{1} << 30);
  at_least("data.num_aug", d.num_aug, 0, int64_t{1} << 30);
  at_least("data.test_puzzles", d.test_puzzles, 1, int64_t{1} << 30);
  at_least("data.seed", d.seed, 0);
  return p;
}

void validate(const TrialConfig& c) {
  const auto problems = trial_problems(c);
  if (problems.empty()) return;
  if (problems.size() == 1) throw ConfigError("invalid config: " + problems.front());
  std::string msg = "invalid config (" + std::to_string(problems.size()) + " problems):";
  for (const auto& line : problems) msg += "\n  " + line;
  throw ConfigError(msg);
}

int64_t total_steps(const TrainConfig& t, int64_t num_groups, double mean_puzzle_examples) {
  if (t.steps > 0) return t.steps;
  const double examples =
      static_cast<double>(t.epochs) * static_cast<double>(num_groups) * mean_puzzle_examples;
  const auto steps = static_cast<int64_t>(std::floor(examples / static_cast<double>(t.batch_size)));
  if (steps < 1) {
    throw ConfigError("train.epochs = " + std::to_string(t.epochs) + " over " +
                      std::to_string(num_groups) + " groups is less than one batch of " +
                      std::to_string(t.batch_size) + "; raise train.epochs or set train.steps");
  }
  return steps;
}

std::vector<std::pair<std::string, std::string>> ineffective_keys(const TrialConfig& c) {
  static const TrialConfig defaults;
  std::vector<std::pair<std::string, std::string>> out;
  auto unused = [&](const char* key, const std::string& why) {
    if (get_key(c, key) != get_key(defaults, key)) out.emplace_back(key, why);
  };
  if (c.train.steps > 0) {
    unused("train.epochs", "train.steps = " + std::to_string(c.train.steps) + " sets the length");
  }
  const std::string source = "data.source = " + get_key(c, "data.source");
  if (c.data.source == DataSource::reference) {
    for (const char* key : {"data.box", "data.givens", "data.train_puzzles", "data.num_aug",
                            "data.test_puzzles", "data.seed", "data.maze_size"}) {
      unused(key, source + " reads its data from data.path");
    }
  } else {
    unused("data.path",
           source + " generates its data (data.source = \"reference\" reads a folder)");
    if (c.data.source == DataSource::sudoku) {
      unused("data.maze_size", source);
    } else {
      for (const char* key : {"data.box", "data.givens"}) unused(key, source);
    }
  }
  if (c.model.mixer != TokenMixer::attention || c.model.pos_encodings != PosEncoding::rope) {
    unused("model.rope_theta", "no RoPE (model.mixer = " + get_key(c, "model.mixer") +
                                   ", model.pos_encodings = " + get_key(c, "model.pos_encodings") +
                                   ")");
  }
  if (c.model.puzzle_emb_ndim == 0) {
    for (const char* key :
         {"model.puzzle_emb_len", "train.puzzle_emb_lr", "train.puzzle_emb_weight_decay"}) {
      unused(key, "model.puzzle_emb_ndim = 0: no puzzle embedding");
    }
  }
  if (!c.train.ema) unused("train.ema_rate", "train.ema = false");
  return out;
}

std::string canonical_text(const TrialConfig& c) {
  auto kv = key_values(c);
  static const auto defaults = key_values(TrialConfig{});
  auto at_default = [&](const std::pair<std::string, std::string>& entry) {
    for (const char* late : {"data.path", "data.maze_size", "train.arc_aggregated_voting"}) {
      if (entry.first != late) continue;
      for (const auto& d : defaults)
        if (d.first == late) return d.second == entry.second;
    }
    return false;
  };
  std::erase_if(kv, at_default);
  std::sort(kv.begin(), kv.end());
  std::string out;
  for (const auto& [key, value] : kv) out += key + " = " + value + "\n";
  return out;
}

}  // namespace trm::core
