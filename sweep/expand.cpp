#include "sweep/expand.h"

#include <algorithm>
#include <climits>
#include <map>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "core/trial_data.h"

namespace trm::sweep {

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

struct Cell {
  std::string name;
  std::string variant;
  Settings settings;
  const Variant* from = nullptr;  // the [[variant]] it is, if one
};

std::string leaf_name(const std::string& key) {
  // data.seed keeps its section: a trial's training seed is named " seed=N" (several seeds).
  if (key == "data.seed") return key;
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// The grid and every zip group as one list of "dimensions", each a list of settings.
std::vector<std::vector<Settings>> dimensions(const SweepSpec& spec) {
  std::vector<std::vector<Settings>> dims;
  for (const auto& axis : spec.grid) {
    std::vector<Settings> d;
    for (const auto& v : axis.values) d.push_back({{axis.key, v}});
    dims.push_back(std::move(d));
  }
  for (const auto& zip : spec.zips) {
    std::vector<Settings> d(zip.axes.front().values.size());
    for (const auto& axis : zip.axes) {
      for (size_t i = 0; i < axis.values.size(); ++i) d[i].emplace_back(axis.key, axis.values[i]);
    }
    dims.push_back(std::move(d));
  }
  return dims;
}

std::vector<Cell> cells_of(const SweepSpec& spec) {
  std::vector<Cell> cells;
  const auto dims = dimensions(spec);
  // Counted before anything is built: a spec of a billion trials is a typo, not a plan.
  double count = 1.0;
  for (const auto& d : dims) count *= static_cast<double>(d.size());
  count += static_cast<double>(spec.variants.size());
  count *= static_cast<double>(std::max<size_t>(1, spec.sweep.seeds.size()));
  if (count > static_cast<double>(kMaxTrials)) {
    throw ConfigError("the spec expands to about " + core::format_double(count) +
                      " trials ((grid x zips, plus the variants) x seeds); at most " +
                      std::to_string(kMaxTrials) + " per results file");
  }
  if (dims.empty()) {
    cells.push_back({"base", "", {}});
  } else {
    // Odometer over the dimensions, the first one slowest.
    std::vector<size_t> at(dims.size(), 0);
    while (true) {
      Cell c;
      for (size_t d = 0; d < dims.size(); ++d) {
        for (const auto& kv : dims[d][at[d]]) c.settings.push_back(kv);
      }
      for (const auto& [k, v] : c.settings) {
        if (!c.name.empty()) c.name += ' ';
        c.name.append(leaf_name(k)).append(1, '=').append(v);
      }
      cells.push_back(std::move(c));
      size_t d = dims.size();
      while (d > 0 && ++at[d - 1] == dims[d - 1].size()) at[--d] = 0;
      if (d == 0) break;
    }
  }
  for (const auto& v : spec.variants) cells.push_back({v.name, v.name, v.sets, &v});
  return cells;
}

// The LINE:COL of a problem "FILE:LINE:COL: ...", for the file's order; unplaced ones last.
std::pair<long, long> line_position(const std::string& line) {
  const auto digits = [&](size_t& j, long& value) {
    const size_t start = j;
    value = 0;
    while (j < line.size() && j - start < 9 && line[j] >= '0' && line[j] <= '9')
      value = value * 10 + (line[j++] - '0');
    return j > start;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != ':') continue;
    size_t j = i + 1;
    long row = 0, col = 0;
    if (!digits(j, row) || j >= line.size() || line[j] != ':') continue;
    ++j;
    if (!digits(j, col)) continue;
    if (j + 1 < line.size() && line[j] == ':' && line[j + 1] == ' ') return {row, col};
  }
  return {LONG_MAX, 0};
}

bool holds(const Condition& c, const core::TrialConfig& config) {
  const std::string value = core::get_key(config, c.key);
  if (!c.one_of.empty()) {
    for (const auto& v : c.one_of) {
      if (v == value) return true;
    }
    return false;
  }
  const double x = std::strtod(value.c_str(), nullptr);
  return (!c.has_min || x >= c.min) && (!c.has_max || x <= c.max);
}

// Where a trial problem names `key` ("model.l_cycles = 0: ...", "... by num_heads = 8" or
// "data.path: ..."), or npos.
size_t mention(const std::string& problem, const std::string& key) {
  if (problem.rfind(key + ": ", 0) == 0) return 0;
  size_t at = problem.find(key + " = ");
  const std::string leaf = leaf_name(key) + " = ";
  if (problem.rfind(leaf, 0) == 0) return 0;
  const size_t inner = problem.find(" " + leaf);
  if (inner != std::string::npos) at = std::min(at, inner + 1);
  return at;
}

// Where in the spec the value a problem is about (the first key it names) was written: the
// cell's own setting (its [[variant]], [grid] axis or [[zip]]) before [base]; "" for a default.
std::string where_of(const SweepSpec& spec, const Cell& cell, const std::string& problem) {
  auto setting_where = [&](const std::string& key) -> std::string {
    if (cell.from != nullptr) {
      const auto it = cell.from->key_where.find(key);
      if (it != cell.from->key_where.end()) return it->second;
    }
    for (const auto& axis : spec.grid) {
      if (axis.key == key) return axis.where;
    }
    for (const auto& zip : spec.zips) {
      for (const auto& axis : zip.axes) {
        if (axis.key == key) return axis.where;
      }
    }
    return "";
  };
  size_t best = std::string::npos;
  std::string where;
  for (const auto& [key, value] : cell.settings) {
    const size_t at = mention(problem, key);
    if (at < best) {
      best = at;
      where = setting_where(key);
    }
  }
  if (best != std::string::npos) return where;
  for (const auto& [key, base_where] : spec.base_where) {
    const size_t at = mention(problem, key);
    if (at < best) {
      best = at;
      where = base_where;
    }
  }
  return where;
}

// A grid [[table]] whose rows or cols do not vary could not be exported after the whole sweep
// ran: said before it runs.
void check_table_axes(const SweepSpec& spec, const std::vector<Trial>& trials) {
  std::vector<std::string> problems;
  const auto first = core::key_values(trials.front().config);
  std::vector<std::string> varying;
  for (size_t k = 0; k < first.size(); ++k) {
    if (first[k].first == "train.seed") continue;
    for (const auto& t : trials) {
      if (core::key_values(t.config)[k].second != first[k].second) {
        varying.push_back(first[k].first);
        break;
      }
    }
  }
  std::string axes;
  for (const auto& key : varying) axes += (axes.empty() ? "" : ", ") + key;
  for (const auto& table : spec.tables) {
    if (table.kind != "grid") continue;
    for (const auto* key : {&table.rows, &table.cols}) {
      if (key->empty() || std::find(varying.begin(), varying.end(), *key) != varying.end())
        continue;
      problems.push_back(table.where + ": [[table]] \"" + table.name +
                         "\": " + (key == &table.rows ? "rows" : "cols") + " = \"" + *key +
                         "\" does not vary in this sweep (every trial has " + *key + " = " +
                         core::get_key(trials.front().config, *key) +
                         "); axes: " + (axes.empty() ? "none" : axes));
    }
  }
  if (problems.size() == 1) throw ConfigError("invalid sweep spec: " + problems.front());
  if (!problems.empty()) {
    std::string msg = "invalid sweep spec (" + std::to_string(problems.size()) + " problems):";
    for (const auto& p : problems) msg += "\n  " + p;
    throw ConfigError(msg);
  }
}

}  // namespace

namespace {

// Trials that train alike although their ids differ, because they differ only in keys that take no
// part in their training (train.epochs under train.steps, model.rope_theta without RoPE, ...):
// each runs, so each is said, once; and a data.path that a generated data set does not read,
// which is most likely a data.source left out.
void warn_alike(Expansion& out) {
  static const core::TrialConfig defaults;
  std::map<std::string, size_t> first_of;  // hash of the config as trained -> first trial
  std::vector<std::string> alike;
  // A data.path is a slip only where no trial reads a folder (a grid over data.source is not).
  bool path_told = std::any_of(out.trials.begin(), out.trials.end(), [](const Trial& t) {
    return t.config.data.source == core::DataSource::reference;
  });
  for (size_t i = 0; i < out.trials.size(); ++i) {
    const Trial& t = out.trials[i];
    const auto unused = core::ineffective_keys(t.config);
    core::TrialConfig trained = t.config;
    for (const auto& [key, why] : unused) {
      core::set_key(trained, key, core::get_key(defaults, key));
      if (key == "data.path" && !path_told) {
        out.warnings.push_back("trial '" + t.name + "': data.path = " + t.config.data.path +
                               " has no effect: " + why);
        path_told = true;
      }
    }
    const auto [it, fresh] = first_of.emplace(stable_hash(core::canonical_text(trained)), i);
    if (fresh) continue;
    const Trial& first = out.trials[it->second];
    const auto first_unused = core::ineffective_keys(first.config);
    std::string keys;
    for (const auto* list : {&unused, &first_unused}) {
      for (const auto& [key, why] : *list) {
        if (core::get_key(t.config, key) == core::get_key(first.config, key) ||
            keys.find(key + " (") != std::string::npos)
          continue;
        keys += (keys.empty() ? "" : ", ") + key + " (" + why + ")";
      }
    }
    alike.push_back(
        "'" + t.name + "' trains exactly as '" + first.name +
        "' (both run: their ids differ): they differ only in keys with no effect: " + keys);
  }
  constexpr size_t kShown = 10;
  for (size_t k = 0; k < alike.size() && k < kShown; ++k) out.warnings.push_back(alike[k]);
  if (alike.size() > kShown) {
    out.warnings.push_back("... and " + std::to_string(alike.size() - kShown) +
                           " more trials that train exactly as an earlier one");
  }
}

}  // namespace

std::string trial_id(const core::TrialConfig& config) {
  return stable_hash(core::canonical_text(config));
}

Expansion expand(const SweepSpec& spec) {
  Expansion out;
  std::vector<std::string> problems;
  std::vector<int64_t> rule_matches(spec.excludes.size(), 0);
  std::map<std::string, std::string> seen;           // id -> name of the first trial with it
  std::map<std::string, std::string> draw_problems;  // data config -> data_draw_problem
  for (const auto& cell : cells_of(spec)) {
    core::TrialConfig config = spec.base;
    for (const auto& [key, value] : cell.settings) core::set_key(config, key, value);
    // Rules hold per trial: a rule on train.seed drops those seeds of the cell, not the cell
    // (it was matched against the seed before the [sweep] seeds were applied, 0 in every cell).
    std::string excluded_by;  // the first rule that matches
    std::vector<int64_t> seeds;
    for (const int64_t seed : spec.sweep.seeds) {
      core::TrialConfig seeded = config;
      seeded.train.seed = seed;
      bool kept = true;
      for (size_t r = 0; r < spec.excludes.size(); ++r) {
        bool all = true;
        for (const auto& c : spec.excludes[r].all_of) all = all && holds(c, seeded);
        if (all) {
          ++rule_matches[r];
          if (excluded_by.empty()) excluded_by = spec.excludes[r].where;
          kept = false;
        }
      }
      if (kept) seeds.push_back(seed);
    }
    if (seeds.empty()) {
      // A grid cell excluded is the rule's purpose; a variant is named on purpose, and losing
      // its row in the ablation tables without a word hides the rule's reach.
      if (cell.from != nullptr && !excluded_by.empty()) {
        out.warnings.push_back(cell.from->where + ": variant '" + cell.variant +
                               "' is excluded by the [[exclude]] at " + excluded_by +
                               ": it has no trial and no row in the ablation tables");
      }
      continue;
    }
    // A cell's problems are its config's, the same for every seed: listed once per cell.
    {
      core::TrialConfig seeded = config;
      seeded.train.seed = seeds.front();
      const std::string name =
          cell.name + (seeds.size() > 1 ? " (all " + std::to_string(seeds.size()) + " seeds)" : "");
      auto cell_problems = core::trial_problems(seeded);
      // A new spec's data is drawn where that is cheap and can fail (4x4 Sudoku), once per
      // distinct data config: said now, not by each trial as it starts. Not for a stored spec,
      // whose trials already ran (or failed) with it.
      if (cell_problems.empty() && !spec.stored) {
        const auto& d = config.data;
        const std::string key = std::to_string(static_cast<int>(d.source)) + " " +
                                std::to_string(d.box) + " " + std::to_string(d.givens) + " " +
                                std::to_string(d.num_aug) + " " + std::to_string(d.train_puzzles) +
                                " " + std::to_string(d.test_puzzles) + " " +
                                std::to_string(d.seed) + " " + d.path;
        auto it = draw_problems.find(key);
        if (it == draw_problems.end())
          it = draw_problems.emplace(key, core::data_draw_problem(d)).first;
        if (!it->second.empty()) cell_problems.push_back(it->second);
      }
      for (const auto& problem : cell_problems) {
        const std::string where = where_of(spec, cell, problem);
        problems.push_back((where.empty() ? "" : where + ": ") + "trial '" + name +
                           "': " + problem);
      }
    }
    for (const int64_t seed : seeds) {
      Trial t;
      t.name = cell.name + (spec.sweep.seeds.size() > 1 ? " seed=" + std::to_string(seed) : "");
      t.variant = cell.variant;
      t.settings = cell.settings;
      t.seed = seed;
      t.config = config;
      t.config.train.seed = seed;
      t.id = trial_id(t.config);
      const auto [it, fresh] = seen.emplace(t.id, t.name);
      if (!fresh) {
        out.duplicates.push_back("'" + t.name + "' is the same trial as '" + it->second + "' (id " +
                                 t.id + "): it runs once");
        continue;
      }
      t.index = static_cast<int64_t>(out.trials.size());
      out.trials.push_back(std::move(t));
    }
  }
  if (!spec.stored) warn_alike(out);
  for (size_t r = 0; r < spec.excludes.size(); ++r) {
    if (rule_matches[r] == 0) {
      out.warnings.push_back(spec.excludes[r].where + ": [[exclude]] rule matches no cell");
    }
  }
  if (!problems.empty()) {
    // In the file's order (a cell's problems come model, train, data otherwise).
    std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
      return line_position(a) < line_position(b);
    });
    std::string msg = "invalid sweep spec " + spec.path + " (" + std::to_string(problems.size()) +
                      " problem" + (problems.size() == 1 ? "" : "s") + "):";
    constexpr size_t kShown = 30;  // the rest are usually the same mistake in other cells
    for (size_t k = 0; k < problems.size() && k < kShown; ++k) msg += "\n  " + problems[k];
    if (problems.size() > kShown)
      msg += "\n  ... and " + std::to_string(problems.size() - kShown) + " more";
    throw ConfigError(msg);
  }
  if (out.trials.empty()) {
    std::string rules;
    for (const auto& rule : spec.excludes) rules += (rules.empty() ? "" : ", ") + rule.where;
    throw ConfigError("sweep spec " + spec.path +
                      ": every cell is excluded (by the [[exclude]] at " + rules +
                      "); nothing to run");
  }
  if (!spec.stored) check_table_axes(spec, out.trials);
  return out;
}

}  // namespace trm::sweep
