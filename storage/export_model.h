// The tables of `export` as plain data, between reading the results file (export_table.cpp) and
// rendering it (export_text.cpp, export_html.cpp). Internal to storage/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/trial_config.h"
#include "storage/export.h"
#include "storage/results_types.h"
#include "sweep/spec.h"

namespace trm::storage::exporting {

// A metric of the seeds of one cell: mean and sample std of the finished seeds, or why there is
// no value (OOM, fail, missing).
struct Stat {
  double mean = kUnknown;
  double std = kUnknown;               // sample std (n - 1); NaN for n < 2
  int64_t n = 0;                       // seeds with a value
  int64_t expected = 0;                // seeds the spec asks for
  std::vector<int64_t> missing_seeds;  // expected seeds without a value
  std::string status;                  // "" (a value), "OOM", "fail", "n/a" (done, no value)
                                       // or "—" (not run yet)
  bool absent = false;                 // grid: a (row, col) the sweep has no trial of (blank)
  bool best = false;                   // best value of its table (bold)
};

enum class CellKind { text, integer, number, stat };

struct Cell {
  CellKind kind = CellKind::text;
  std::string text;  // text; also the display of integer and number cells
  int64_t integer = 0;
  double number = kUnknown;
  Stat stat;
};

// How a metric reads: its column title, the scale and printf format of its display, and which
// way is better (0 = neither).
struct MetricStyle {
  std::string title;   // "exact_accuracy (%)"
  double scale = 1;    // display = value * scale
  const char* format;  // of the display
  int better = 0;      // +1 higher, -1 lower
};
MetricStyle metric_style(const std::string& metric);

struct Table {
  std::string name;
  std::string kind;              // ablation | grid | raw
  std::string metric;            // of the stat cells
  std::string title;             // one line: what the table shows
  std::string group;             // grid: how the cells differ from [base] ("" = as [base])
  std::string row_key, col_key;  // grid
  std::vector<std::string> notes;
  std::vector<std::string> header;      // column titles, for people
  std::vector<std::string> keys;        // column names for CSV and JSON (grid: unused)
  std::vector<std::vector<Cell>> rows;  // grid: column 0 is the row value
};

// A trial's learning curves, for the HTML report.
struct Curves {
  int64_t index = 0;
  std::string name;
  std::string status;
  std::vector<core::TrainRecord> train;
  std::vector<core::EvalRecord> eval;
};

// Everything the renderers need, read once.
struct Report {
  std::string sweep_name;
  std::vector<std::pair<std::string, std::string>> provenance;  // header fields, sorted as stored
  std::string spec_toml;
  std::vector<Table> tables;
  std::vector<Curves> curves;  // html only
};

// A trial as the tables see it.
struct TrialData {
  TrialRow row;
  core::TrialConfig config;
  double q_halt_accuracy = kUnknown;  // of the last evaluation
  double lm_loss = kUnknown;          // of the last evaluation
  double pass_at_1 = kUnknown;        // of the last evaluation (ARC's evaluator; else unknown)
  double pass_at_2 = kUnknown;
};

// The file read once: its header, the spec it stores, every trial by index.
struct SweepData {
  SweepHeader header;
  sweep::SweepSpec spec;
  std::vector<TrialData> trials;
};

// The spec stored in the file; StorageError when it does not parse.
sweep::SweepSpec stored_spec(const ResultsReader& reader, const SweepHeader& header);
SweepData read_sweep(const ResultsReader& reader);
// The tables of one request (a grid may give one per group of cells). ConfigError for a bad
// kind, metric or axis.
std::vector<Table> build_tables(const SweepData& data, const TableRequest& request);

// Display of a stat cell: "87.4 ± 1.2 (n=2/3, missing: seed 2)", or its status.
std::string stat_text(const Stat& s, const MetricStyle& style);
// Display of any cell.
std::string cell_text(const Cell& c, const std::string& metric);
// One line on where the numbers come from: sweep name, spec hash, creation, tool version.
std::string provenance_line(const Report& report);
// printf of one double.
std::string fixed(double v, const char* format);

std::string render_md(const Report& report);
std::string render_csv(const Report& report);
std::string render_latex(const Report& report);
std::string render_json(const Report& report);
std::string render_html(const Report& report);

}  // namespace trm::storage::exporting
