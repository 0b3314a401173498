#include "core/arc_eval.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/json.h"

namespace trm::core {

namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path, const char* what) {
  if (const std::string why = why_not_a_file(path); !why.empty()) {
    throw DataError(path + ": " + why + " (" + what + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot read it (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A test pair's grid: a non-empty list of equally long lists of integers 0..9 (at most 30x30,
// as ARC's grids and the 30x30 canvas).
ArcGrid grid_of(const Json& v, const JsonParser& p, const std::string& what) {
  auto bad = [&](size_t at, const std::string& why) { p.fail(at, what + ": " + why); };
  if (v.kind != Json::Kind::array || v.items.empty()) bad(v.at, "not a non-empty list of rows");
  ArcGrid g;
  g.rows = static_cast<int64_t>(v.items.size());
  for (const Json& row : v.items) {
    if (row.kind != Json::Kind::array || row.items.empty()) {
      bad(row.at, "a row that is not a non-empty list of colours");
    }
    if (g.cols == 0) g.cols = static_cast<int64_t>(row.items.size());
    if (static_cast<int64_t>(row.items.size()) != g.cols) {
      bad(row.at, "rows of different lengths (" + std::to_string(row.items.size()) + " and " +
                      std::to_string(g.cols) + ")");
    }
    for (const Json& cell : row.items) {
      if (cell.kind != Json::Kind::number || !std::isfinite(cell.number) || cell.number < 0 ||
          cell.number > 9 || cell.number != static_cast<double>(static_cast<int>(cell.number))) {
        bad(cell.at, "a colour that is not an integer 0..9");
      }
      g.cells.push_back(static_cast<uint8_t>(cell.number));
    }
  }
  if (g.rows > 30 || g.cols > 30) {
    bad(v.at,
        std::to_string(g.rows) + "x" + std::to_string(g.cols) + ": larger than the 30x30 canvas");
  }
  return g;
}

// What an identifier's name says: the original task and how to undo its augmentation.
struct Augmentation {
  std::string task;
  int64_t dihedral = 0;
  std::array<uint8_t, 10> inverse_colour{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
};

constexpr std::string_view kSeparator = "|||";

// "<task>" (not augmented) or "<task>|||t<id>|||<permutation of 0..9>". Empty: what is wrong.
std::string parse_name(const std::string& name, Augmentation& a) {
  const auto first = name.find(kSeparator);
  if (first == std::string::npos) {
    a.task = name;
    return "";
  }
  const auto second = name.find(kSeparator, first + kSeparator.size());
  if (second == std::string::npos ||
      name.find(kSeparator, second + kSeparator.size()) != std::string::npos) {
    return "not of the form <task>|||t<dihedral id>|||<colour permutation>";
  }
  a.task = name.substr(0, first);
  const std::string t = name.substr(first + kSeparator.size(), second - first - kSeparator.size());
  const std::string perm = name.substr(second + kSeparator.size());
  if (t.size() != 2 || t[0] != 't' || t[1] < '0' || t[1] > '7') {
    return "'" + t + "' is not a dihedral transform t0..t7";
  }
  a.dihedral = t[1] - '0';
  bool seen[10] = {};
  if (perm.size() == 10) {
    for (size_t k = 0; k < 10; ++k) {
      if (perm[k] < '0' || perm[k] > '9' || seen[perm[k] - '0']) break;
      seen[perm[k] - '0'] = true;
      // The augmentation maps colour k to perm[k]; undoing it maps perm[k] back to k.
      a.inverse_colour[static_cast<size_t>(perm[k] - '0')] = static_cast<uint8_t>(k);
    }
  }
  if (!std::all_of(std::begin(seen), std::end(seen), [](bool b) { return b; })) {
    return "'" + perm + "' is not a permutation of the colours 0123456789";
  }
  return "";
}

ArcGrid undo(const ArcGrid& g, const Augmentation& a) {
  ArcGrid c = g;
  for (auto& v : c.cells) v = a.inverse_colour[v];
  return inverse_dihedral_transform(c, a.dihedral);
}

}  // namespace

std::string ArcGrid::key() const {
  std::string k;
  k.reserve(2 + cells.size());
  k += static_cast<char>(rows);
  k += static_cast<char>(cols);
  k.append(cells.begin(), cells.end());
  return k;
}

bool has_arc_test_set(const std::string& dir) {
  std::error_code ec;
  return fs::exists(fs::path(dir) / "test_puzzles.json", ec);
}

ArcTestSet load_arc_test_set(const std::string& dir) {
  ArcTestSet set;
  set.dir = dir;
  {
    const std::string path = dir + "/identifiers.json";
    const std::string text =
        read_file(path, "the puzzle names ARC's evaluator undoes the augmentations by");
    JsonParser p(text, path);
    const Json v = p.parse();
    if (v.kind != Json::Kind::array) p.fail(v.at, "not a list of puzzle names");
    for (size_t id = 0; id < v.items.size(); ++id) {
      const Json& name = v.items[id];
      if (name.kind != Json::Kind::string) {
        p.fail(name.at, "puzzle id " + std::to_string(id) + ": not a name in quotes");
      }
      Augmentation a;
      if (const std::string why = parse_name(name.text, a); !why.empty()) {
        p.fail(name.at, "puzzle id " + std::to_string(id) + " '" + name.text + "': " + why);
      }
      set.identifiers.push_back(name.text);
    }
  }
  const std::string path = dir + "/test_puzzles.json";
  const std::string text = read_file(path, "ARC's test tasks with their solutions");
  JsonParser p(text, path);
  const Json v = p.parse();
  if (v.kind != Json::Kind::object) p.fail(v.at, "not an object of tasks by name");
  if (v.fields.empty()) p.fail(v.at, "no tasks: pass@K would be a mean over none");
  for (const auto& [name, task] : v.fields) {
    const std::string what = "task '" + name + "'";
    if (task.kind != Json::Kind::object) p.fail(task.at, what + ": not an object");
    const Json* test = member(task, "test");
    if (test == nullptr) p.fail(task.at, what + ": no \"test\" list of pairs");
    if (test->kind != Json::Kind::array || test->items.empty()) {
      p.fail(test->at, what + ": \"test\" is not a non-empty list of pairs");
    }
    ArcTestSet::Task t{name, {}, {}};
    for (size_t k = 0; k < test->items.size(); ++k) {
      const Json& pair = test->items[k];
      const std::string which = what + " test pair " + std::to_string(k);
      if (pair.kind != Json::Kind::object) p.fail(pair.at, which + ": not an object");
      const Json* input = member(pair, "input");
      const Json* output = member(pair, "output");
      if (input == nullptr || output == nullptr) {
        p.fail(pair.at, which + ": needs both \"input\" and \"output\" (the solution)");
      }
      t.inputs.push_back(grid_of(*input, p, which + " input"));
      t.outputs.push_back(grid_of(*output, p, which + " output"));
    }
    set.tasks.push_back(std::move(t));
  }
  return set;
}

ArcGrid dihedral_transform(const ArcGrid& g, int64_t id) {
  if (id < 0 || id > 7) {
    throw InternalError("dihedral_transform: id " + std::to_string(id) + " is not 0..7");
  }
  const int64_t r = g.rows, c = g.cols;
  const bool swaps = id == 1 || id == 3 || id == 6 || id == 7;
  ArcGrid out;
  out.rows = swaps ? c : r;
  out.cols = swaps ? r : c;
  out.cells.resize(g.cells.size());
  for (int64_t i = 0; i < out.rows; ++i) {
    for (int64_t j = 0; j < out.cols; ++j) {
      int64_t si = i, sj = j;  // the source cell of out[i][j]
      switch (id) {
        case 1:
          si = j, sj = c - 1 - i;
          break;  // np.rot90(a, 1)
        case 2:
          si = r - 1 - i, sj = c - 1 - j;
          break;  // np.rot90(a, 2)
        case 3:
          si = r - 1 - j, sj = i;
          break;  // np.rot90(a, 3)
        case 4:
          sj = c - 1 - j;
          break;  // np.fliplr
        case 5:
          si = r - 1 - i;
          break;  // np.flipud
        case 6:
          si = j, sj = i;
          break;  // a.T
        case 7:
          si = r - 1 - j, sj = c - 1 - i;
          break;  // np.fliplr(np.rot90(a, 1))
        default:
          break;
      }
      out.cells[static_cast<size_t>(i * out.cols + j)] = g.cells[static_cast<size_t>(si * c + sj)];
    }
  }
  return out;
}

ArcGrid inverse_dihedral_transform(const ArcGrid& g, int64_t id) {
  static constexpr int64_t kInverse[8] = {0, 3, 2, 1, 4, 5, 6, 7};
  if (id < 0 || id > 7) {
    throw InternalError("inverse_dihedral_transform: id " + std::to_string(id) + " is not 0..7");
  }
  return dihedral_transform(g, kInverse[id]);
}

ArcGrid crop_arc_canvas(const uint8_t* tokens, int64_t side) {
  // The reference's _crop: for each height, the widest run of colour tokens at the left of every
  // row so far; the rectangle of the largest area (the first of equal ones) wins.
  int64_t best_area = 0, best_rows = 0, best_cols = 0, cols = side;
  for (int64_t rows = 1; rows <= side; ++rows) {
    for (int64_t c = 1; c <= cols; ++c) {
      const uint8_t x = tokens[(rows - 1) * side + (c - 1)];
      if (x < 2 || x > 11) {
        cols = c - 1;
        break;
      }
    }
    if (rows * cols > best_area) {
      best_area = rows * cols;
      best_rows = rows;
      best_cols = cols;
    }
  }
  ArcGrid g;
  g.rows = best_rows;
  g.cols = best_cols;
  for (int64_t i = 0; i < best_rows; ++i) {
    for (int64_t j = 0; j < best_cols; ++j) {
      g.cells.push_back(static_cast<uint8_t>(tokens[i * side + j] - 2));
    }
  }
  return g;
}

ArcVoter::ArcVoter(const ArcTestSet& set) : set_(&set) {}

void ArcVoter::add(int64_t identifier, const uint8_t* input, const uint8_t* prediction, double q) {
  if (identifier == 0) return;  // the blank id: a padding row
  if (identifier < 0 || identifier >= static_cast<int64_t>(set_->identifiers.size())) {
    throw DataError(set_->dir + "/identifiers.json: names " +
                    std::to_string(set_->identifiers.size()) +
                    " puzzle ids, but the test split uses id " + std::to_string(identifier));
  }
  Augmentation a;
  (void)parse_name(set_->identifiers[static_cast<size_t>(identifier)], a);  // checked at load
  const std::string input_key = undo(crop_arc_canvas(input), a).key();
  const std::string prediction_key = undo(crop_arc_canvas(prediction), a).key();
  auto [task, new_task] = votes_.try_emplace(a.task);
  if (new_task) task_order_.push_back(a.task);
  auto [input_votes, new_input] = task->second.try_emplace(input_key);
  if (new_input) input_order_[a.task].push_back(input_key);
  Votes& votes = input_votes->second;
  ++predictions_;
  auto [it, added] = votes.candidates.try_emplace(prediction_key);
  if (added) votes.order.push_back(prediction_key);
  it->second.votes += 1;
  it->second.q_sum += q;
}

namespace {

void put_size(std::string& out, uint64_t n) { out.append(reinterpret_cast<const char*>(&n), 8); }
void put_text(std::string& out, const std::string& s) {
  put_size(out, s.size());
  out += s;
}

class ByteReader {
 public:
  ByteReader(const std::string& bytes, const std::string& what) : b_(bytes), what_(what) {}
  uint64_t size() {
    need(8);
    uint64_t n = 0;
    std::memcpy(&n, b_.data() + at_, 8);
    at_ += 8;
    return n;
  }
  std::string text() {
    const uint64_t n = size();
    need(n);
    std::string s = b_.substr(at_, n);
    at_ += n;
    return s;
  }
  double number() {
    const uint64_t bits = size();
    double d = 0;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  void finish() const {
    if (at_ != b_.size()) bad();
  }

 private:
  void need(uint64_t n) const {
    if (n > b_.size() - at_) bad();
  }
  [[noreturn]] void bad() const {
    throw DataError(what_ + ": ARC's pooled votes are malformed (" + std::to_string(b_.size()) +
                    " bytes)");
  }
  const std::string& b_;
  const std::string& what_;
  size_t at_ = 0;
};

constexpr uint64_t kVotesFormat = 1;

}  // namespace

std::string ArcVoter::save() const {
  std::string out;
  put_size(out, kVotesFormat);
  put_size(out, static_cast<uint64_t>(predictions_));
  put_size(out, task_order_.size());
  for (const std::string& task : task_order_) {
    put_text(out, task);
    const auto& inputs = input_order_.at(task);
    put_size(out, inputs.size());
    for (const std::string& input : inputs) {
      put_text(out, input);
      const Votes& v = votes_.at(task).at(input);
      put_size(out, v.order.size());
      for (const std::string& key : v.order) {
        const Candidate& c = v.candidates.at(key);
        put_text(out, key);
        put_size(out, static_cast<uint64_t>(c.votes));
        uint64_t bits = 0;
        std::memcpy(&bits, &c.q_sum, 8);
        put_size(out, bits);
      }
    }
  }
  return out;
}

void ArcVoter::restore(const std::string& bytes, const std::string& what) {
  ByteReader in(bytes, what);
  if (in.size() != kVotesFormat) {
    throw DataError(what + ": ARC's pooled votes are of another format");
  }
  ArcVoter fresh(*set_);
  fresh.predictions_ = static_cast<int64_t>(in.size());
  const uint64_t tasks = in.size();
  for (uint64_t t = 0; t < tasks; ++t) {
    const std::string task = in.text();
    fresh.task_order_.push_back(task);
    auto& by_input = fresh.votes_[task];
    auto& order = fresh.input_order_[task];
    const uint64_t inputs = in.size();
    for (uint64_t i = 0; i < inputs; ++i) {
      const std::string input = in.text();
      order.push_back(input);
      Votes& v = by_input[input];
      const uint64_t candidates = in.size();
      for (uint64_t k = 0; k < candidates; ++k) {
        const std::string key = in.text();
        Candidate c;
        c.votes = static_cast<int64_t>(in.size());
        c.q_sum = in.number();
        v.order.push_back(key);
        v.candidates.emplace(key, c);
      }
    }
  }
  in.finish();
  votes_ = std::move(fresh.votes_);
  task_order_ = std::move(fresh.task_order_);
  input_order_ = std::move(fresh.input_order_);
  predictions_ = fresh.predictions_;
}

const ArcVoter::Votes* ArcVoter::votes_of(const std::string& task, const ArcGrid& input) const {
  const auto by_task = votes_.find(task);
  if (by_task == votes_.end()) return nullptr;
  const auto by_input = by_task->second.find(input.key());
  return by_input == by_task->second.end() ? nullptr : &by_input->second;
}

std::vector<const std::string*> ArcVoter::ranked(const Votes& v) {
  struct Ranked {
    const std::string* key;
    int64_t votes;
    double mean_q;
  };
  std::vector<Ranked> ranked;
  for (const std::string& key : v.order) {
    const Candidate& c = v.candidates.at(key);
    ranked.push_back({&key, c.votes, c.q_sum / static_cast<double>(c.votes)});
  }
  // Python's sorted(..., reverse=True) on [votes, mean q]: stable, so equal candidates keep the
  // order they were first predicted in.
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) {
    if (x.votes != y.votes) return x.votes > y.votes;
    return !std::isnan(x.mean_q) && (std::isnan(y.mean_q) || x.mean_q > y.mean_q);
  });
  std::vector<const std::string*> keys;
  for (const Ranked& r : ranked) keys.push_back(r.key);
  return keys;
}

std::array<double, kArcPassK.size()> ArcVoter::pass_at() const {
  std::array<double, kArcPassK.size()> score{};
  for (const auto& task : set_->tasks) {
    std::array<int64_t, kArcPassK.size()> solved{};
    for (size_t pair = 0; pair < task.inputs.size(); ++pair) {
      const Votes* v = votes_of(task.name, task.inputs[pair]);
      if (v == nullptr) continue;  // no prediction: not solved
      const auto keys = ranked(*v);
      const std::string label = task.outputs[pair].key();
      const auto hit =
          std::find_if(keys.begin(), keys.end(), [&](const std::string* k) { return *k == label; });
      const auto rank = static_cast<int64_t>(hit - keys.begin());  // 0-based; size() = absent
      for (size_t k = 0; k < kArcPassK.size(); ++k) {
        if (hit != keys.end() && rank < kArcPassK[k]) ++solved[k];
      }
    }
    for (size_t k = 0; k < kArcPassK.size(); ++k) {
      score[k] += static_cast<double>(solved[k]) / static_cast<double>(task.inputs.size());
    }
  }
  for (auto& s : score) s /= static_cast<double>(set_->tasks.size());
  return score;
}

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A grid key (rows, cols, cells) as ARC's JSON: a list of rows of colours.
std::string json_grid(const std::string& key) {
  const auto rows = static_cast<unsigned char>(key[0]), cols = static_cast<unsigned char>(key[1]);
  std::string out = "[";
  for (size_t i = 0; i < rows; ++i) {
    out += i ? ", [" : "[";
    for (size_t j = 0; j < cols; ++j) {
      out += j ? ", " : "";
      out += static_cast<char>('0' + key[2 + i * cols + j]);
    }
    out += "]";
  }
  return out + "]";
}

}  // namespace

std::string ArcVoter::submission(int64_t attempts) const {
  std::string out = "{";
  bool first_task = true;
  for (const auto& task : set_->tasks) {
    out += (first_task ? "" : ",\n ") + json_string(task.name) + ": [";
    first_task = false;
    bool first_pair = true;
    for (const ArcGrid& input : task.inputs) {
      const Votes* v = votes_of(task.name, input);
      if (v == nullptr) continue;  // as the reference: no entry for an unpredicted input
      auto keys = ranked(*v);
      keys.resize(std::min<size_t>(keys.size(), static_cast<size_t>(attempts)));
      while (keys.size() < static_cast<size_t>(attempts)) keys.push_back(keys.front());
      out += first_pair ? "{" : ", {";
      first_pair = false;
      for (size_t a = 0; a < keys.size(); ++a) {
        out += (a ? ", \"attempt_" : "\"attempt_") + std::to_string(a + 1) +
               "\": " + json_grid(*keys[a]);
      }
      out += "}";
    }
    out += "]";
  }
  return out + "}\n";
}

}  // namespace trm::core
