// A sweep spec (TOML, DESIGN.md "Trials"): [sweep] policies, [base] trainer keys, [grid] axes,
// [[zip]] axes that move together, [[variant]] one-factor ablations, [[exclude]] rules and the
// [[table]]s to export. Parsing is strict: every problem is reported at once with file:line:col.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/trial_config.h"

namespace trm::sweep {

// Limits that catch typos before anything is built: `seeds = 100000000` expanded for minutes.
constexpr int64_t kMaxSeeds = 10000;
// [sweep] retries at most: more is a typo, not a policy.
constexpr int64_t kMaxRetries = 1000;
constexpr int64_t kMaxTrials = 1000000;
constexpr size_t kMaxVariantName = 200;

// What to do with a cell whose predicted peak memory exceeds the device (or the budget).
enum class OomPolicy { skip, run };

struct SweepPolicy {
  std::string name;                           // sweep name (default: the file's stem)
  std::vector<int64_t> seeds{0};              // train.seed of each repeat: `seeds = 3` or [0, 7, 9]
  int64_t retries = 1;                        // extra attempts for a failed trial (not for OOM)
  OomPolicy oom_predicted = OomPolicy::skip;  // skip = record oom_predicted without running
  int64_t memory_budget = 0;                  // bytes per trial (0 = the device's memory)
  int64_t checkpoint_interval = 0;  // steps between trial checkpoints (0 = at evaluations)
};

// One axis: a dotted trainer key and its values as canonical text (what set_key reads).
struct Axis {
  std::string key;
  std::vector<std::string> values;
  std::string where;  // file:line:col, for messages
};

struct ZipGroup {
  std::vector<Axis> axes;  // equal lengths; value i of every axis goes together
  std::string where;
};

struct Variant {
  std::string name;
  std::vector<std::pair<std::string, std::string>> sets;  // key, canonical value
  std::string where;
  std::map<std::string, std::string> key_where;  // key -> file:line:col of its value
};

// key = value (equal), key = [a, b] (one of), key = {min = x, max = y} (inclusive bounds).
struct Condition {
  std::string key;
  std::vector<std::string> one_of;  // canonical values; empty for a bound
  bool has_min = false, has_max = false;
  double min = 0, max = 0;
};

struct ExcludeRule {
  std::vector<Condition> all_of;  // a cell is dropped when every condition holds
  std::string where;
};

// A table to export (consumed by `export`): ablation, grid or raw.
struct TableSpec {
  std::string name;
  std::string kind;                       // ablation | grid | raw
  std::string rows, cols;                 // grid: the two axis keys
  std::string metric = "exact_accuracy";  // any final metric
  std::string where;
};

// The metrics a table can show (`export` reads them from the results file): final and best
// evaluation exact accuracy, token and q_halt accuracy, optimizer steps, eval loss, wall seconds
// and measured peak memory.
const std::vector<std::string>& table_metrics();

struct SweepSpec {
  std::string path;  // where it was read from ("" for text)
  std::string text;  // the TOML as written (stored in the results file)
  std::string hash;  // of the text
  SweepPolicy sweep;
  core::TrialConfig base;
  std::map<std::string, std::string> base_where;  // [base] key -> file:line:col
  std::vector<Axis> grid;
  std::vector<ZipGroup> zips;
  std::vector<Variant> variants;
  std::vector<ExcludeRule> excludes;
  std::vector<TableSpec> tables;
  bool stored = false;  // read back from a results file (parse_spec_text)
};

// Parses a spec; ConfigError listing every problem ("FILE:LINE:COL: ...") when it is invalid.
SweepSpec parse_spec_file(const std::string& path);
// `stored`: the spec a results file keeps, parsed by resume, merge and export. Checks added
// since a file was written (names, keys set twice, grid tables' axes) are skipped for it, so a
// file that ran still resumes and exports.
SweepSpec parse_spec_text(const std::string& text, const std::string& source, bool stored = false);
// A results file's stored spec (parse_spec_text with stored = true) under the name the sweep ran
// with: `recorded_name`, the file's sweep_name attribute ([sweep] name, or the stem of the spec
// file `run` was given), so that run, resume, status and export all say the same name. Files
// written before 2026-12-03 have none (""): then [sweep] name, or `source`'s stem.
SweepSpec parse_stored_spec(const std::string& text, const std::string& source,
                            const std::string& recorded_name);

// 16 hex digits of the 64-bit FNV-1a hash: trial ids and spec hashes.
std::string stable_hash(const std::string& text);

}  // namespace trm::sweep
