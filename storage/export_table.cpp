// Builds the ablation, grid and raw tables of DESIGN.md "Tables" from a results file. A cell is
// the trials that share a config but for train.seed; its value is the mean ± std over the seeds
// that finished.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "core/config_fields.h"
#include "core/cost_model.h"
#include "core/fields.h"
#include "storage/export_model.h"
#include "storage/storage_error.h"
#include "sweep/expand.h"

namespace trm::storage::exporting {

namespace {

// Trials that differ only in their seed, in index order.
struct CellTrials {
  std::string label;  // the trial name without " seed=N"
  std::vector<const TrialData*> trials;
};

std::string seedless_key(core::TrialConfig c) {
  c.train.seed = 0;
  return core::canonical_text(c);
}

// expand() appends " seed=N" to the names of a sweep with several seeds.
std::string cell_label(const std::string& name) {
  const auto at = name.rfind(" seed=");
  if (at == std::string::npos) return name;
  const auto digits = name.substr(at + 6);
  const bool number =
      !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
  return number ? name.substr(0, at) : name;
}

// Cells in order of their first trial.
std::vector<CellTrials> cells_of(const SweepData& data) {
  std::vector<CellTrials> cells;
  std::map<std::string, size_t> at;
  for (const auto& t : data.trials) {
    const auto [it, fresh] = at.emplace(seedless_key(t.config), cells.size());
    if (fresh) cells.push_back({cell_label(t.row.name), {}});
    cells[it->second].trials.push_back(&t);
  }
  return cells;
}

double metric_value(const TrialData& t, const std::string& metric) {
  const TrialRow& r = t.row;
  if (metric == "exact_accuracy") return r.final_exact_accuracy;
  if (metric == "best_exact_accuracy") return r.best_exact_accuracy;
  if (metric == "accuracy") return r.final_accuracy;
  if (metric == "q_halt_accuracy") return t.q_halt_accuracy;
  if (metric == "lm_loss") return t.lm_loss;
  if (metric == "pass_at_1") return t.pass_at_1;
  if (metric == "pass_at_2") return t.pass_at_2;
  if (metric == "steps") return static_cast<double>(r.step);
  if (metric == "wall_s") return r.wall_s;
  if (metric == "peak_memory")
    return r.measured_peak_bytes < 0 ? kUnknown : static_cast<double>(r.measured_peak_bytes);
  throw InternalError("export: metric " + metric + " has no value");
}

// Mean ± std over the cell's seeds. Without any value the cell says why: OOM (measured or
// predicted), fail, or "—" (pending, running, interrupted).
Stat stat_of(const CellTrials& cell, const std::string& metric, const SweepData& data) {
  Stat s;
  std::vector<double> values;
  std::set<int64_t> have;
  bool oom = false, failed = false, no_value = false;
  for (const TrialData* t : cell.trials) {
    const double v = metric_value(*t, metric);
    if (t->row.status == TrialStatus::done) {
      // A finished seed is not missing, even without a value (a loss that diverged to NaN, a
      // peak never measured, no evaluation run).
      have.insert(t->config.train.seed);
      if (std::isnan(v)) {
        no_value = true;
      } else {
        values.push_back(v);
      }
    }
    oom = oom || t->row.status == TrialStatus::oom || t->row.status == TrialStatus::oom_predicted;
    failed = failed || t->row.status == TrialStatus::failed;
  }
  s.expected = static_cast<int64_t>(data.spec.sweep.seeds.size());
  for (const int64_t seed : data.spec.sweep.seeds) {
    if (!have.count(seed)) s.missing_seeds.push_back(seed);
  }
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) {
    s.status = oom ? "OOM" : failed ? "fail" : no_value ? "n/a" : "—";
    return s;
  }
  double sum = 0;
  for (const double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double ss = 0;
    for (const double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
  }
  return s;
}

// The legend of the marks a stat cell can show instead of a value.
std::string marks_note(const Table& t, bool any_absent) {
  bool no_value = false;
  for (const auto& row : t.rows)
    for (const auto& c : row)
      no_value = no_value || (c.kind == CellKind::stat && c.stat.status == "n/a");
  return std::string(
             "OOM: out of memory (measured or predicted); fail: the trial failed; —: not "
             "run (yet)") +
         (no_value ? "; n/a: finished without a value of this metric" : "") +
         (any_absent ? "; blank: not in the sweep." : ".");
}

Cell stat_cell(Stat s) {
  Cell c;
  c.kind = CellKind::stat;
  c.stat = std::move(s);
  return c;
}
Cell text_cell(std::string text) {
  Cell c;
  c.text = std::move(text);
  return c;
}
Cell integer_cell(int64_t v, std::string display) {
  Cell c;
  c.kind = CellKind::integer;
  c.text = std::move(display);
  c.integer = v;
  return c;
}
Cell number_cell(double v, const char* format) {
  Cell c;
  c.kind = CellKind::number;
  c.text = fixed(v, format);
  c.number = v;
  return c;
}

Table new_table(const TableRequest& r, const std::string& kind) {
  Table t;
  t.name = r.name;
  t.kind = kind;
  t.metric = r.metric;
  return t;
}

// 5.0M, 12.3K, 640.
std::string count_text(int64_t n) {
  if (n >= 1000000) return fixed(static_cast<double>(n) / 1e6, "%.1fM");
  if (n >= 1000) return fixed(static_cast<double>(n) / 1e3, "%.1fK");
  return std::to_string(n);
}

// Marks the best value(s) of the table's stat cells, when the metric has a better direction.
void mark_best(Table& table) {
  const int better = metric_style(table.metric).better;
  if (better == 0) return;
  double best = kUnknown;
  for (const auto& row : table.rows) {
    for (const auto& c : row) {
      if (c.kind != CellKind::stat || std::isnan(c.stat.mean)) continue;
      if (std::isnan(best) || better * (c.stat.mean - best) > 0) best = c.stat.mean;
    }
  }
  for (auto& row : table.rows) {
    for (auto& c : row) c.stat.best = c.kind == CellKind::stat && c.stat.mean == best;
  }
}

// Tables of a sweep where no trial has ended yet are empty and say so. A trial that ended OOM or
// failed is a result (an OOM cell of a grid), so a sweep of nothing else still gets its tables.
bool empty_when_nothing_ended(const SweepData& data, Table& table) {
  const bool any_ended =
      std::any_of(data.trials.begin(), data.trials.end(), [](const TrialData& t) {
        const auto s = t.row.status;
        return s == TrialStatus::done || s == TrialStatus::oom || s == TrialStatus::oom_predicted ||
               s == TrialStatus::failed;
      });
  if (any_ended) return false;
  table.notes.push_back("No finished trial yet: 0 of " + std::to_string(data.trials.size()) +
                        " trials done (see `trm-sweep status`).");
  return true;
}

void add_seed_note(const SweepData& data, Table& table) {
  if (data.spec.sweep.seeds.size() > 1) {
    table.notes.push_back("Mean ± sample std over " + std::to_string(data.spec.sweep.seeds.size()) +
                          " seeds; n = seeds that finished.");
  }
}

// ---- ablation: the base row first, then every other cell (the variants) in sweep order ----

struct AblationRow {
  std::string label;
  const CellTrials* cell;
};

// A [[variant]] whose config equals another cell's runs once, under the first name (expand()
// drops the duplicate): it still gets its row, with that cell's numbers, after the variant
// before it (else before the variant after it, else last). Returns notes naming those cells.
std::vector<std::string> add_deduplicated_variants(const SweepData& data,
                                                   const std::vector<CellTrials>& cells,
                                                   std::vector<AblationRow>& rows) {
  const auto& variants = data.spec.variants;
  const auto row_of = [&](const std::string& label) -> std::ptrdiff_t {
    const auto it = std::find_if(rows.begin(), rows.end(),
                                 [&](const AblationRow& r) { return r.label == label; });
    return it == rows.end() ? -1 : it - rows.begin();
  };
  std::map<std::string, const CellTrials*> cell_of;  // seedless key -> cell
  for (const auto& c : cells) cell_of.emplace(seedless_key(c.trials.front()->config), &c);
  std::vector<std::string> notes;
  for (size_t v = 0; v < variants.size(); ++v) {
    if (row_of(variants[v].name) >= 0) continue;  // a cell of its own
    core::TrialConfig config = data.spec.base;
    for (const auto& [key, value] : variants[v].sets) core::set_key(config, key, value);
    const auto it = cell_of.find(seedless_key(config));
    if (it == cell_of.end()) continue;  // excluded by an [[exclude]] rule: no trial at all
    const CellTrials* same = it->second;
    std::ptrdiff_t at = -1;
    for (size_t before = v; before-- > 0 && at < 0;) {
      at = row_of(variants[before].name);
      if (at >= 0) ++at;
    }
    for (size_t after = v + 1; after < variants.size() && at < 0; ++after)
      at = row_of(variants[after].name);
    rows.insert(at < 0 ? rows.end() : rows.begin() + at, {variants[v].name, same});
    notes.push_back("'" + variants[v].name + "' is the same config as '" + same->label +
                    "': it ran once, and both rows show that cell.");
  }
  return notes;
}

Table ablation_table(const SweepData& data, const TableRequest& request) {
  Table t = new_table(request, "ablation");
  const MetricStyle style = metric_style(request.metric);
  t.title = request.name + ": " + style.title + " per variant against [base]";
  t.header = {"method", style.title, "depth T·(n+1)·layers", "forward passes / step", "parameters"};
  t.keys = {"method", request.metric, "depth", "forward_passes", "parameters"};
  add_seed_note(data, t);
  if (empty_when_nothing_ended(data, t)) return t;
  auto cells = cells_of(data);
  const std::string base = seedless_key(data.spec.base);
  std::stable_partition(cells.begin(), cells.end(), [&](const CellTrials& c) {
    return seedless_key(c.trials.front()->config) == base;
  });
  std::vector<AblationRow> rows;
  for (const auto& cell : cells) rows.push_back({cell.label, &cell});
  const auto same_config_notes = add_deduplicated_variants(data, cells, rows);
  for (const auto& [label, cell] : rows) {
    const core::ModelConfig& m = cell->trials.front()->config.model;
    const int64_t depth = m.h_cycles * (m.l_cycles + 1) * m.layers;
    // ACT needs a second forward pass for the Q-continue target (TRM-SPEC §4.3).
    const int64_t passes = m.halting == core::Halting::act ? 2 : 1;
    const int64_t params = core::analytic_parameter_count(m);
    t.rows.push_back({text_cell(label), stat_cell(stat_of(*cell, request.metric, data)),
                      integer_cell(depth, std::to_string(depth)),
                      integer_cell(passes, std::to_string(passes)),
                      integer_cell(params, count_text(params))});
  }
  t.notes.push_back("Depth: network layers evaluated per supervision step, T·(n+1)·layers.");
  t.notes.insert(t.notes.end(), same_config_notes.begin(), same_config_notes.end());
  // The marks a cell can show instead of a value, as the grid tables say them: when any shows.
  const bool marked = std::any_of(t.rows.begin(), t.rows.end(), [](const std::vector<Cell>& row) {
    return !row[1].stat.status.empty();
  });
  if (marked) t.notes.push_back(marks_note(t, false));
  mark_best(t);
  return t;
}

// ---- grid ----

std::string leaf(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// Keys whose value differs between trials (train.seed aside): the sweep's axes. The trials are
// the file's and those of the spec it stores: a shard's file (run --shard) holds only some of the
// sweep's cells, maybe a single one, and its grid is still the sweep's.
std::vector<std::string> varying_keys(const SweepData& data) {
  std::vector<std::vector<std::pair<std::string, std::string>>> configs;
  for (const auto& t : data.trials) configs.push_back(core::key_values(t.config));
  try {
    for (const auto& t : sweep::expand(data.spec).trials)
      configs.push_back(core::key_values(t.config));
  } catch (const ConfigError&) {
    // A stored spec that no longer expands: the file's own trials decide.
  }
  std::vector<std::string> keys;
  if (configs.empty()) return keys;
  const auto& first = configs.front();
  for (size_t k = 0; k < first.size(); ++k) {
    if (first[k].first == "train.seed") continue;
    for (const auto& c : configs) {
      if (c[k].second != first[k].second) {
        keys.push_back(first[k].first);
        break;
      }
    }
  }
  return keys;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out.append(out.empty() ? "" : ", ").append(s);
  return out;
}

void check_axis(const SweepData& data, const TableRequest& r, const std::string& what,
                const std::string& key) {
  const auto axes = varying_keys(data);
  if (std::find(axes.begin(), axes.end(), key) != axes.end()) return;
  const std::string valid = join(axes);
  throw ConfigError("table '" + r.name + "': " + what + " = '" + key +
                    "' is not an axis of this sweep; valid axes: " +
                    (valid.empty() ? "none (every trial has the same config)" : valid));
}

// Numbers sort as numbers, other values as text.
bool value_less(const std::string& a, const std::string& b) {
  char *ea = nullptr, *eb = nullptr;
  const double x = std::strtod(a.c_str(), &ea), y = std::strtod(b.c_str(), &eb);
  if (*ea == '\0' && *eb == '\0' && !a.empty() && !b.empty()) return x < y;
  return a < b;
}

// "key=value, ..." where `c` differs from the base, the grid's axes and the seed aside.
std::string difference(const core::TrialConfig& c, const core::TrialConfig& base,
                       const TableRequest& r) {
  const auto mine = core::key_values(c), theirs = core::key_values(base);
  std::string out;
  for (size_t k = 0; k < mine.size(); ++k) {
    const auto& key = mine[k].first;
    if (key == r.rows || key == r.cols || key == "train.seed") continue;
    if (mine[k].second != theirs[k].second)
      out.append(out.empty() ? "" : ", ").append(leaf(key)).append("=").append(mine[k].second);
  }
  return out;
}

struct Group {
  std::string label;  // difference from [base]
  std::vector<const CellTrials*> cells;
};

// Cells that differ only in the two axes form one grid; the base's group comes first, then the
// others in sweep order; lone cells are left to the ablation and raw tables.
std::vector<Group> groups_of(const std::vector<CellTrials>& cells, const SweepData& data,
                             const TableRequest& r, std::vector<std::string>* left_out) {
  std::vector<Group> groups;
  std::map<std::string, size_t> at;
  for (const auto& cell : cells) {
    const std::string label = difference(cell.trials.front()->config, data.spec.base, r);
    const auto [it, fresh] = at.emplace(label, groups.size());
    if (fresh) groups.push_back({label, {}});
    groups[it->second].cells.push_back(&cell);
  }
  std::stable_partition(groups.begin(), groups.end(),
                        [](const Group& g) { return g.label.empty(); });
  const bool any_grid =
      std::any_of(groups.begin(), groups.end(), [](const Group& g) { return g.cells.size() > 1; });
  if (any_grid) {
    for (const auto& g : groups) {
      if (g.cells.size() < 2) left_out->push_back(g.cells.front()->label);
    }
    std::erase_if(groups, [](const Group& g) { return g.cells.size() < 2; });
  }
  return groups;
}

Table grid_of(const Group& g, const SweepData& data, const TableRequest& r, bool several) {
  Table t = new_table(r, "grid");
  t.row_key = r.rows;
  t.col_key = r.cols;
  t.group = g.label;
  const MetricStyle style = metric_style(r.metric);
  t.title = r.name + ": " + style.title + " by " + r.rows + " (rows) × " + r.cols + " (columns)" +
            (several || !g.label.empty() ? g.label.empty() ? ", as [base]" : ", " + g.label : "");
  std::vector<std::string> row_values, col_values;
  std::map<std::pair<std::string, std::string>, const CellTrials*> cell_at;
  for (const CellTrials* c : g.cells) {
    const auto& config = c->trials.front()->config;
    const auto rv = core::get_key(config, r.rows), cv = core::get_key(config, r.cols);
    row_values.push_back(rv);
    col_values.push_back(cv);
    cell_at[{rv, cv}] = c;
  }
  for (auto* values : {&row_values, &col_values}) {
    std::sort(values->begin(), values->end(), value_less);
    values->erase(std::unique(values->begin(), values->end()), values->end());
  }
  t.header = {leaf(r.rows) + " \\ " + leaf(r.cols)};
  for (const auto& cv : col_values) t.header.push_back(cv);
  bool any_absent = false;
  for (const auto& rv : row_values) {
    std::vector<Cell> row{text_cell(rv)};
    for (const auto& cv : col_values) {
      const auto it = cell_at.find({rv, cv});
      Stat s;
      if (it != cell_at.end()) {
        s = stat_of(*it->second, r.metric, data);
      } else {
        // Not a trial of the sweep at all (the group's cells are not a full product): blank,
        // and no seeds expected, unlike a trial that has not run yet ("—").
        s.absent = true;
        any_absent = true;
      }
      row.push_back(stat_cell(std::move(s)));
    }
    t.rows.push_back(std::move(row));
  }
  add_seed_note(data, t);
  t.notes.push_back(marks_note(t, any_absent));
  mark_best(t);
  return t;
}

std::vector<Table> grid_tables(const SweepData& data, const TableRequest& r) {
  if (r.rows.empty() || r.cols.empty())
    throw ConfigError("table '" + r.name + "': a grid table needs rows and cols (two config keys)");
  check_axis(data, r, "rows", r.rows);
  check_axis(data, r, "cols", r.cols);
  Table empty = new_table(r, "grid");
  empty.row_key = r.rows;
  empty.col_key = r.cols;
  empty.title = r.name + ": " + metric_style(r.metric).title + " by " + r.rows + " × " + r.cols;
  empty.header = {leaf(r.rows) + " \\ " + leaf(r.cols)};
  if (empty_when_nothing_ended(data, empty)) return {empty};
  const auto cells = cells_of(data);
  std::vector<std::string> left_out;
  const auto groups = groups_of(cells, data, r, &left_out);
  std::vector<Table> tables;
  for (const auto& g : groups) tables.push_back(grid_of(g, data, r, groups.size() > 1));
  if (!left_out.empty()) {
    // Said, not dropped in silence: a reader counting the sweep's cells finds them here.
    constexpr size_t kNamed = 10;
    std::string names;
    for (size_t k = 0; k < left_out.size() && k < kNamed; ++k)
      names.append(k == 0 ? "" : ", ").append("'" + left_out[k] + "'");
    if (left_out.size() > kNamed)
      names += " and " + std::to_string(left_out.size() - kNamed) + " more";
    tables.back().notes.push_back("Not on this grid, as they change more than " + leaf(r.rows) +
                                  " and " + leaf(r.cols) +
                                  " (see the ablation and raw tables): " + names + ".");
  }
  return tables;
}

// ---- raw: one row per trial, as /trials, with the config keys that vary ----

Table raw_table(const SweepData& data, const TableRequest& r) {
  Table t = new_table(r, "raw");
  t.title = r.name + ": every trial, the config keys that vary and the final metrics";
  const auto keys = varying_keys(data);
  t.header = {"index", "name", "status", "train.seed"};
  t.header.insert(t.header.end(), keys.begin(), keys.end());
  for (const char* m :
       {"step", "wall_s", "measured_peak_bytes", "final_accuracy", "final_exact_accuracy",
        "best_exact_accuracy", "final_q_halt_accuracy", "final_lm_loss"}) {
    t.header.emplace_back(m);
  }
  // ARC's pass@1 and pass@2 of the last evaluation, where any trial has them.
  const bool arc = std::any_of(data.trials.begin(), data.trials.end(), [](const TrialData& x) {
    return !std::isnan(x.pass_at_1) || !std::isnan(x.pass_at_2);
  });
  if (arc) {
    t.header.emplace_back("final_pass_at_1");
    t.header.emplace_back("final_pass_at_2");
  }
  t.keys = t.header;
  // Every trial has its row, pending ones too, whether or not any has ended yet.
  (void)empty_when_nothing_ended(data, t);
  for (const auto& trial : data.trials) {
    const TrialRow& row = trial.row;
    std::vector<Cell> cells{
        integer_cell(row.index, std::to_string(row.index)), text_cell(row.name),
        text_cell(std::string(to_string(row.status))),
        integer_cell(trial.config.train.seed, std::to_string(trial.config.train.seed))};
    for (const auto& key : keys) cells.push_back(text_cell(core::get_key(trial.config, key)));
    cells.push_back(integer_cell(row.step, std::to_string(row.step)));
    cells.push_back(number_cell(row.wall_s, "%.1f"));
    // -1 in /trials: never measured (pending, or ended before a step). Missing, as NaN is.
    cells.push_back(
        row.measured_peak_bytes < 0
            ? number_cell(kUnknown, "%.0f")
            : integer_cell(row.measured_peak_bytes, std::to_string(row.measured_peak_bytes)));
    for (const double v : {row.final_accuracy, row.final_exact_accuracy, row.best_exact_accuracy,
                           trial.q_halt_accuracy, trial.lm_loss}) {
      cells.push_back(number_cell(v, "%.4f"));
    }
    if (arc) {
      for (const double v : {trial.pass_at_1, trial.pass_at_2})
        cells.push_back(number_cell(v, "%.4f"));
    }
    t.rows.push_back(std::move(cells));
  }
  return t;
}

}  // namespace

MetricStyle metric_style(const std::string& metric) {
  if (metric == "exact_accuracy" || metric == "best_exact_accuracy" || metric == "accuracy" ||
      metric == "q_halt_accuracy")
    return {metric + " (%)", 100, "%.1f", +1};
  if (metric == "lm_loss") return {metric, 1, "%.4f", -1};
  if (metric == "pass_at_1" || metric == "pass_at_2")
    return {"ARC pass@" + metric.substr(8) + " (%)", 100, "%.1f", +1};
  if (metric == "steps") return {metric, 1, "%.0f", 0};
  if (metric == "wall_s") return {"wall time (s)", 1, "%.1f", -1};
  if (metric == "peak_memory") return {"peak memory (MiB)", 1.0 / (1 << 20), "%.1f", -1};
  throw InternalError("export: no style for metric " + metric);
}

sweep::SweepSpec stored_spec(const ResultsReader& reader, const SweepHeader& header) {
  try {
    return sweep::parse_stored_spec(header.spec_toml, reader.path() + " (stored spec)",
                                    header.sweep_name);
  } catch (const ConfigError& e) {
    throw StorageError(reader.path() + ": the sweep spec stored in the file does not parse (" +
                       e.what() + "); was it written by another trm-sweep version?");
  }
}

SweepData read_sweep(const ResultsReader& reader) {
  SweepData data;
  data.header = reader.header();
  data.spec = stored_spec(reader, data.header);
  for (const auto& row : reader.trials()) {
    TrialData t;
    t.row = row;
    t.config = reader.config(row.index);
    if (const auto e = reader.last_eval(row.index)) {
      t.q_halt_accuracy = e->q_halt_accuracy;
      t.lm_loss = e->lm_loss;
      t.pass_at_1 = e->pass_at_1;
      t.pass_at_2 = e->pass_at_2;
    }
    data.trials.push_back(std::move(t));
  }
  return data;
}

std::vector<Table> build_tables(const SweepData& data, const TableRequest& request) {
  TableRequest r = request;
  if (r.name.empty()) r.name = r.kind;
  const auto& metrics = sweep::table_metrics();
  if (std::find(metrics.begin(), metrics.end(), r.metric) == metrics.end())
    throw ConfigError("table '" + r.name + "': metric '" + r.metric +
                      "' does not exist; valid "
                      "metrics: " +
                      join(metrics));
  if (r.kind == "ablation") return {ablation_table(data, r)};
  if (r.kind == "grid") return grid_tables(data, r);
  if (r.kind == "raw") return {raw_table(data, r)};
  throw ConfigError("table '" + r.name + "': kind = '" + r.kind +
                    "': valid kinds: ablation, grid, raw");
}

}  // namespace trm::storage::exporting
