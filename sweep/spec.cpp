#include "sweep/spec.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <type_traits>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "sweep/expand.h"
#include "sweep/trial_toml.h"

namespace trm::sweep {

namespace {

// Collects every problem of the file, each prefixed by where it is.
struct Problems {
  std::string source;
  std::vector<std::string> lines;
  bool strict = true;  // false for a stored spec: only the checks it was written under
  void add(const toml::source_region& at, const std::string& msg) {
    lines.push_back(toml_where(source, at) + ": " + msg);
  }
};

struct Leaf {
  std::string key;  // dotted
  const toml::node* node;
  toml::source_region at;  // of the key
};

bool is_bound_table(const toml::table& t) {
  if (t.empty()) return false;
  for (const auto& [k, v] : t) {
    if (k.str() != "min" && k.str() != "max") return false;
  }
  return true;
}

// Whether `name` is a trainer key ("model.l_cycles"): a table under it in [[exclude]] is a range,
// whatever keys it holds (a slip in one is named as such, not as an unknown config key).
bool is_config_key(const std::string& name) {
  try {
    (void)core::get_key(core::TrialConfig{}, name);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

// The dotted leaves of a table in file order; with `bounds`, {min, max} tables are leaves.
void collect_leaves(const toml::table& table, const std::string& prefix, bool bounds,
                    std::vector<Leaf>& out) {
  for (const auto& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    const auto* sub = node.as_table();
    if (sub != nullptr && !(bounds && (is_bound_table(*sub) || is_config_key(name)))) {
      collect_leaves(*sub, name + ".", bounds, out);
    } else {
      out.push_back({name, &node, key.source()});
    }
  }
  if (prefix.empty()) {
    std::stable_sort(out.begin(), out.end(), [](const Leaf& a, const Leaf& b) {
      return std::pair(a.at.begin.line, a.at.begin.column) <
             std::pair(b.at.begin.line, b.at.begin.column);
    });
  }
}

// A key written twice in one table ("model.l_cycles" quoted and model.l_cycles dotted are the
// same key): the later one would win in silence.
void refuse_twice(Problems& p, const std::vector<Leaf>& leaves) {
  if (!p.strict) return;
  std::map<std::string, const Leaf*> first;
  for (const auto& leaf : leaves) {
    const auto [it, fresh] = first.emplace(leaf.key, &leaf);
    if (!fresh) {
      p.add(leaf.at, leaf.key + " is set twice (first at " + toml_where(p.source, it->second->at) +
                         "); keep one");
    }
  }
}

// Why `name` cannot name a sweep, variant or table ("" when it can): it shows up in plans,
// tables and file headers, one line each.
std::string name_problem(const std::string& name) {
  if (name.find_first_not_of(" \t") == std::string::npos) return "is empty or blank";
  for (const unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return "contains a control character (newline, tab, ...)";
  }
  if (name.size() > kMaxVariantName) {
    return "is " + std::to_string(name.size()) + " bytes long; at most " +
           std::to_string(kMaxVariantName);
  }
  return "";
}

// The largest train.seed (core's range for it).
constexpr int64_t kMaxSeed = int64_t{1} << 40;

// train.seed per trial would be silently replaced by the [sweep] seeds; say so where it is set.
constexpr const char* kSeedHere =
    "train.seed: a trial's seed comes from [sweep] seeds (one trial per seed), so it cannot be "
    "set per trial; write seeds = [5] (or seeds = 3) in [sweep] instead";

// The canonical text of `node` as a value of trainer key `key` (what get_key prints back).
std::optional<std::string> canonical(Problems& p, const Leaf& leaf, const toml::node& node) {
  try {
    std::string problem;
    const auto text = toml_field_text(node, leaf.key, &problem);
    if (!text) {
      p.add(leaf.at, problem);
      return std::nullopt;
    }
    core::TrialConfig scratch;
    core::set_key(scratch, leaf.key, *text);
    return core::get_key(scratch, leaf.key);
  } catch (const ConfigError& e) {
    p.add(leaf.at, e.what());
    return std::nullopt;
  }
}

// True when `leaf.key` is a numeric trainer field (bounds apply to numbers only).
bool numeric_key(Problems& p, const Leaf& leaf) {
  try {
    const std::string text = core::get_key(core::TrialConfig{}, leaf.key);
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() && !text.empty()) return true;
    p.add(leaf.at, leaf.key + ": min/max bounds need a numeric field; list values instead");
  } catch (const ConfigError& e) {
    p.add(leaf.at, e.what());
  }
  return false;
}

std::optional<Axis> parse_axis(Problems& p, const Leaf& leaf, const char* section) {
  if (leaf.key == "train.seed") {
    p.add(leaf.at, kSeedHere);
    return std::nullopt;
  }
  const auto* array = leaf.node->as_array();
  if (array == nullptr) {
    p.add(leaf.at, std::string(section) + " axis " + leaf.key +
                       ": expected an array of values, e.g. " + leaf.key + " = [2, 4]");
    return std::nullopt;
  }
  if (array->empty()) {
    p.add(leaf.at, std::string(section) + " axis " + leaf.key + " has no values");
    return std::nullopt;
  }
  Axis axis{leaf.key, {}, toml_where(p.source, leaf.at)};
  bool ok = true;
  for (const auto& v : *array) {
    const auto value = canonical(p, leaf, v);
    ok = ok && value.has_value();
    if (!value) continue;
    // A grid value listed twice (a zip's may repeat: its columns pair up) is a slip of the pen:
    // it would name one trial twice.
    if (p.strict && std::string_view(section) == "[grid]" &&
        std::find(axis.values.begin(), axis.values.end(), *value) != axis.values.end()) {
      p.add(v.source(), std::string(section) + " axis " + leaf.key + " lists " + *value +
                            " twice; list each value once");
      ok = false;
      continue;
    }
    axis.values.push_back(*value);
  }
  return ok ? std::optional<Axis>(axis) : std::nullopt;
}

template <class T>
std::optional<T> get_as(Problems& p, const toml::node& node, const toml::source_region& at,
                        const std::string& key, const char* expected) {
  // toml++ reads true/false as 1/0: `retries = true` is a mistake, not one retry.
  const bool boolean_for_number = std::is_arithmetic_v<T> && node.is_boolean();
  if (boolean_for_number && p.strict) {
    p.add(at, key + " = " + (node.value_or(false) ? "true" : "false") + ": expected " + expected);
    return std::nullopt;
  }
  if (const auto v = node.value<T>()) return *v;
  p.add(at, key + ": expected " + expected);
  return std::nullopt;
}

void parse_sweep(Problems& p, const toml::table& t, SweepPolicy& s) {
  for (const auto& [k, node] : t) {
    const std::string key = "sweep." + std::string(k.str());
    const auto at = k.source();
    if (k.str() == "name") {
      if (auto v = get_as<std::string>(p, node, at, key, "a string")) {
        s.name = *v;
        if (const auto why = name_problem(*v); !why.empty() && p.strict) p.add(at, key + " " + why);
      }
    } else if (k.str() == "description") {
      get_as<std::string>(p, node, at, key, "a string");
    } else if (k.str() == "seeds") {
      s.seeds.clear();
      if (const auto n = node.value<int64_t>();
          n && !node.is_floating_point() && !(node.is_boolean() && p.strict)) {
        if (*n < 1) p.add(at, key + " = " + std::to_string(*n) + ": must be >= 1 (repeats)");
        if (*n > kMaxSeeds) {
          p.add(at, key + " = " + std::to_string(*n) + ": must be <= " + std::to_string(kMaxSeeds));
        } else {
          for (int64_t i = 0; i < *n; ++i) s.seeds.push_back(i);
        }
      } else if (const auto* a = node.as_array(); a != nullptr && !a->empty()) {
        for (const auto& e : *a) {
          const auto v = e.value<int64_t>();
          if (!v || *v < 0 || !e.is_integer()) {
            p.add(at, key + ": every seed must be an integer >= 0");
            continue;
          }
          if (*v > kMaxSeed) {
            p.add(at, key + ": seed " + std::to_string(*v) + " is out of range [0, " +
                          std::to_string(kMaxSeed) + "]");
            continue;
          }
          if (std::find(s.seeds.begin(), s.seeds.end(), *v) != s.seeds.end()) {
            p.add(at, key + ": seed " + std::to_string(*v) + " is listed twice");
          }
          s.seeds.push_back(*v);
        }
      } else {
        p.add(at, key + ": expected a count (seeds = 3) or a list (seeds = [0, 1, 2])");
      }
    } else if (k.str() == "retries") {
      if (auto v = get_as<int64_t>(p, node, at, key, "an integer >= 0")) {
        if (*v < 0) p.add(at, key + " = " + std::to_string(*v) + ": must be >= 0");
        if (*v > kMaxRetries && p.strict)
          p.add(at,
                key + " = " + std::to_string(*v) + ": must be <= " + std::to_string(kMaxRetries));
        s.retries = *v;
      }
    } else if (k.str() == "checkpoint_interval") {
      if (auto v = get_as<int64_t>(p, node, at, key, "an integer >= 0 (steps)")) {
        if (*v < 0) p.add(at, key + " = " + std::to_string(*v) + ": must be >= 0");
        s.checkpoint_interval = *v;
      }
    } else if (k.str() == "oom_predicted") {
      const auto v = node.value<std::string>();
      if (v == "skip" || v == "run") {
        s.oom_predicted = *v == "skip" ? OomPolicy::skip : OomPolicy::run;
      } else {
        p.add(at, key + ": expected \"skip\" (record oom_predicted) or \"run\" (run anyway)");
      }
    } else if (k.str() == "memory_budget") {
      const auto text = toml_scalar_text(node);
      try {
        s.memory_budget = core::parse_byte_size(key, text.value_or(""));
      } catch (const ConfigError& e) {
        p.add(at, e.what());
      }
    } else {
      p.add(at,
            core::unknown_key_message(
                key, {"sweep.name", "sweep.description", "sweep.seeds", "sweep.retries",
                      "sweep.oom_predicted", "sweep.memory_budget", "sweep.checkpoint_interval"}));
    }
  }
}

void parse_variants(Problems& p, const toml::array& list, std::vector<Variant>& out) {
  std::set<std::string> names;
  for (const auto& item : list) {
    const auto* t = item.as_table();
    if (t == nullptr) {
      p.add(item.source(), "[[variant]]: expected a table with a name and the keys it changes");
      continue;
    }
    Variant v{"", {}, toml_where(p.source, t->source()), {}};
    std::vector<Leaf> leaves;
    collect_leaves(*t, "", false, leaves);
    refuse_twice(p, leaves);
    for (const auto& leaf : leaves) {
      if (leaf.key == "name") {
        if (auto name = get_as<std::string>(p, *leaf.node, leaf.at, "variant name", "a string")) {
          v.name = *name;
        }
        continue;
      }
      if (leaf.key == "train.seed") {
        p.add(leaf.at, kSeedHere);
        continue;
      }
      if (const auto value = canonical(p, leaf, *leaf.node)) {
        v.sets.emplace_back(leaf.key, *value);
        v.key_where[leaf.key] = toml_where(p.source, leaf.at);
      }
    }
    // The results file keeps 256 bytes of a trial's name, " seed=N" included: two names that
    // differ only further on would look the same in every table.
    const std::string why = p.strict ? name_problem(v.name) : "";
    if (v.name.empty()) {
      p.add(t->source(), "[[variant]] without a name: add name = \"w/ ...\"");
    } else if (!why.empty()) {
      p.add(t->source(), "[[variant]] name " + why);
    } else if (v.name == "base" && p.strict) {
      p.add(t->source(), "[[variant]] name \"base\" is the [base] cell's; choose another");
    } else if (!names.insert(v.name).second) {
      p.add(t->source(), "[[variant]] name \"" + v.name + "\" is used twice");
    }
    out.push_back(std::move(v));
  }
}

void parse_zips(Problems& p, const toml::array& list, std::vector<ZipGroup>& out) {
  for (const auto& item : list) {
    const auto* t = item.as_table();
    if (t == nullptr) {
      p.add(item.source(), "[[zip]]: expected a table of axes of equal length");
      continue;
    }
    ZipGroup group{{}, toml_where(p.source, t->source())};
    std::vector<Leaf> leaves;
    collect_leaves(*t, "", false, leaves);
    refuse_twice(p, leaves);
    for (const auto& leaf : leaves) {
      if (auto axis = parse_axis(p, leaf, "[[zip]]")) group.axes.push_back(std::move(*axis));
    }
    if (leaves.empty()) p.add(t->source(), "[[zip]] has no axes");
    for (const auto& axis : group.axes) {
      if (axis.values.size() != group.axes.front().values.size()) {
        p.add(t->source(), "[[zip]] axes must have equal lengths: " + group.axes.front().key +
                               " has " + std::to_string(group.axes.front().values.size()) +
                               " values, " + axis.key + " has " +
                               std::to_string(axis.values.size()));
        break;
      }
    }
    out.push_back(std::move(group));
  }
}

void parse_excludes(Problems& p, const toml::array& list, std::vector<ExcludeRule>& out) {
  for (const auto& item : list) {
    const auto* t = item.as_table();
    if (t == nullptr) {
      p.add(item.source(), "[[exclude]]: expected a table of conditions");
      continue;
    }
    ExcludeRule rule{{}, toml_where(p.source, t->source())};
    std::vector<Leaf> leaves;
    collect_leaves(*t, "", true, leaves);
    refuse_twice(p, leaves);
    if (leaves.empty()) p.add(t->source(), "[[exclude]] has no conditions");
    for (const auto& leaf : leaves) {
      Condition c{leaf.key, {}};
      if (const auto* bounds = leaf.node->as_table()) {
        bool ok = numeric_key(p, leaf);
        if (bounds->empty()) {
          p.add(leaf.at, "[[exclude]] " + leaf.key +
                             " = {}: an empty range; give min and/or max ({ min = 2, max = 6 })");
          continue;
        }
        for (const auto& [k, v] : *bounds) {
          const auto x = v.value<double>();
          if (k.str() != "min" && k.str() != "max") {
            p.add(k.source(), "[[exclude]] " + leaf.key + "." + std::string(k.str()) +
                                  ": a range takes min and max only ({ min = 2, max = 6 })");
            ok = false;
          } else if (!x) {
            p.add(k.source(), leaf.key + "." + std::string(k.str()) + ": expected a number");
            ok = false;
          } else if (k.str() == "min") {
            c.has_min = true, c.min = *x;
          } else {
            c.has_max = true, c.max = *x;
          }
        }
        if (!ok) continue;
        if (c.has_min && c.has_max && c.min > c.max && p.strict) {
          p.add(leaf.at, "[[exclude]] " + leaf.key + " = { min = " + core::format_double(c.min) +
                             ", max = " + core::format_double(c.max) +
                             " }: min > max, an empty range that matches no cell");
          continue;
        }
      } else if (const auto* values = leaf.node->as_array()) {
        if (values->empty() && p.strict) {
          p.add(leaf.at, "[[exclude]] " + leaf.key +
                             " = []: an empty list matches no cell; list values or drop it");
          continue;
        }
        for (const auto& v : *values) {
          if (auto value = canonical(p, leaf, v)) c.one_of.push_back(*value);
        }
      } else if (auto value = canonical(p, leaf, *leaf.node)) {
        c.one_of.push_back(*value);
      }
      rule.all_of.push_back(std::move(c));
    }
    out.push_back(std::move(rule));
  }
}

}  // namespace

const std::vector<std::string>& table_metrics() {
  static const std::vector<std::string> metrics = {
      "exact_accuracy", "best_exact_accuracy", "accuracy",  "q_halt_accuracy", "steps", "lm_loss",
      "wall_s",         "peak_memory",         "pass_at_1", "pass_at_2"};
  return metrics;
}

namespace {

void parse_tables(Problems& p, const toml::array& list, std::vector<TableSpec>& out) {
  const auto keys = core::keys_of<core::TrialConfig>();
  for (const auto& item : list) {
    const auto* t = item.as_table();
    if (t == nullptr) {
      p.add(item.source(), "[[table]]: expected a table with name and kind");
      continue;
    }
    TableSpec spec;
    spec.where = toml_where(p.source, t->source());
    for (const auto& [k, node] : *t) {
      const std::string key = "table." + std::string(k.str());
      static const std::vector<std::string> kTableKeys = {"table.name", "table.kind", "table.rows",
                                                          "table.cols", "table.metric"};
      if (std::find(kTableKeys.begin(), kTableKeys.end(), key) == kTableKeys.end()) {
        p.add(k.source(), core::unknown_key_message(key, kTableKeys));
        continue;
      }
      auto text = get_as<std::string>(p, node, k.source(), key, "a string");
      if (!text) continue;
      if (k.str() == "name") {
        spec.name = *text;
        if (const auto why = name_problem(*text); !why.empty() && !text->empty() && p.strict)
          p.add(k.source(), key + " " + why);
      } else if (k.str() == "kind") {
        spec.kind = *text;
        if (*text != "ablation" && *text != "grid" && *text != "raw") {
          p.add(k.source(), key + " = \"" + *text + "\": valid kinds: ablation, grid, raw");
        }
      } else if (k.str() == "rows" || k.str() == "cols") {
        (k.str() == "rows" ? spec.rows : spec.cols) = *text;
        if (std::find(keys.begin(), keys.end(), *text) == keys.end()) {
          p.add(k.source(),
                key + " = \"" + *text + "\": " + core::unknown_key_message(*text, keys));
        }
      } else if (k.str() == "metric") {
        spec.metric = *text;
        const auto& m = table_metrics();
        if (std::find(m.begin(), m.end(), *text) == m.end()) {
          p.add(k.source(), key + " = \"" + *text + "\": " + core::unknown_key_message(*text, m));
        }
      }
    }
    if (spec.name.empty()) p.add(t->source(), "[[table]] without a name");
    if (spec.kind.empty()) p.add(t->source(), "[[table]] without a kind (ablation, grid or raw)");
    if (spec.kind == "grid" && (spec.rows.empty() || spec.cols.empty())) {
      p.add(t->source(), "[[table]] of kind grid needs rows and cols (two config keys)");
    }
    if (spec.kind == "grid" && !spec.rows.empty() && spec.rows == spec.cols) {
      p.add(t->source(), "[[table]] \"" + spec.name + "\": rows and cols are both " + spec.rows +
                             "; a grid needs two different keys");
    }
    for (const auto& earlier : out) {
      if (!spec.name.empty() && earlier.name == spec.name) {
        p.add(t->source(), "[[table]] name \"" + spec.name +
                               "\" is used twice (`export --table` "
                               "picks tables by name)");
      }
    }
    out.push_back(std::move(spec));
  }
}

// Array-of-tables sections; a single [x] table where [[x]] was meant is a problem.
const toml::array* section_array(Problems& p, const toml::node& node, const char* name) {
  if (const auto* a = node.as_array()) return a;
  p.add(node.source(), std::string("[") + name + "]: write [[" + name + "]] (one per entry)");
  return nullptr;
}

}  // namespace

std::string stable_hash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

SweepSpec parse_spec_text(const std::string& text, const std::string& source, bool stored) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(toml_where(source, e.source()) + ": " + std::string(e.description()));
  }
  SweepSpec spec;
  spec.path = source;
  spec.text = text;
  spec.hash = stable_hash(text);
  spec.sweep.name = std::filesystem::path(source).stem().string();
  spec.stored = stored;
  Problems p{source, {}, !stored};
  // A trial config (trm-sweep train --config) given where a spec belongs: say what it is.
  const auto trial_section = [](std::string_view k) {
    return k == "model" || k == "train" || k == "data";
  };
  if (!root.empty() && std::all_of(root.begin(), root.end(), [&](const auto& entry) {
        return entry.second.is_table() && trial_section(entry.first.str());
      })) {
    throw ConfigError("sweep spec " + source +
                      " is a trial config (only [model], [train], [data] sections): train it "
                      "with `trm-sweep train --config " +
                      source +
                      "`, or make it a spec by putting those sections under [base] "
                      "([base.model], ...)");
  }
  for (const auto& [key, node] : root) {
    const auto k = key.str();
    if (k == "sweep" && node.is_table()) {
      parse_sweep(p, *node.as_table(), spec.sweep);
    } else if (k == "base" && node.is_table()) {
      if (const auto* seed = (*node.as_table())["train"]["seed"].node())
        p.add(seed->source(), kSeedHere);
      apply_toml_table(spec.base, *node.as_table(), source, p.lines);
      std::vector<Leaf> leaves;
      collect_leaves(*node.as_table(), "", false, leaves);
      refuse_twice(p, leaves);
      for (const auto& leaf : leaves) spec.base_where[leaf.key] = toml_where(source, leaf.at);
    } else if (k == "grid" && node.is_table()) {
      std::vector<Leaf> leaves;
      collect_leaves(*node.as_table(), "", false, leaves);
      refuse_twice(p, leaves);
      if (leaves.empty())
        p.add(key.source(), "[grid] has no axes (remove it, or add key = [values])");
      for (const auto& leaf : leaves) {
        if (auto axis = parse_axis(p, leaf, "[grid]")) spec.grid.push_back(std::move(*axis));
      }
    } else if (k == "zip") {
      if (const auto* a = section_array(p, node, "zip")) parse_zips(p, *a, spec.zips);
    } else if (k == "variant") {
      if (const auto* a = section_array(p, node, "variant")) parse_variants(p, *a, spec.variants);
    } else if (k == "exclude") {
      if (const auto* a = section_array(p, node, "exclude")) parse_excludes(p, *a, spec.excludes);
    } else if (k == "table") {
      if (const auto* a = section_array(p, node, "table")) parse_tables(p, *a, spec.tables);
    } else {
      p.add(key.source(), "unknown section '" + std::string(k) +
                              "'; valid: [sweep], [base], [grid], [[zip]], [[variant]], "
                              "[[exclude]], [[table]]" +
                              (trial_section(k) ? "; a trial's keys go under [base] ([base." +
                                                      std::string(k) + "])"
                                                : ""));
    }
  }
  // An axis may move in one place only.
  std::set<std::string> axis_keys;
  auto claim = [&](const Axis& a) {
    if (!axis_keys.insert(a.key).second) {
      p.lines.push_back(a.where + ": " + a.key +
                        " is an axis twice (a key is one [grid] axis or in one [[zip]] group)");
    }
  };
  std::set<std::string> grid_keys;
  for (const auto& a : spec.grid) {
    if (grid_keys.insert(a.key).second) claim(a);  // twice in [grid]: said above
  }
  for (const auto& z : spec.zips) {
    for (const auto& a : z.axes) claim(a);
  }
  if (!p.lines.empty() && p.strict) {
    // Every problem at once: the values' own (a range, model and data that disagree), which
    // expand() finds per cell, come with the structural ones rather than after they are fixed:
    // those of the base and the variants (the grid, zips and rules may be what is broken).
    SweepSpec cells = spec;
    cells.grid.clear();
    cells.zips.clear();
    cells.excludes.clear();
    cells.tables.clear();
    try {
      (void)expand(cells);
    } catch (const ConfigError& e) {
      // Only the cells' own problems: anything else (every cell excluded, too many trials)
      // may come of a line the problems above drop, and is said once they are fixed.
      const std::string msg = e.what();
      if (msg.rfind("invalid sweep spec", 0) == 0) {
        for (size_t at = msg.find("\n  "); at != std::string::npos;) {
          const size_t next = msg.find("\n  ", at + 3);
          p.lines.push_back(msg.substr(at + 3, next == std::string::npos ? next : next - at - 3));
          at = next;
        }
      }
    }
  }
  if (!p.lines.empty()) {
    // In the file's order, each once (a key can be met by two checks that say the same).
    const auto position = [](const std::string& line) {
      static const std::regex at(R"(:(\d+):(\d+): )");
      std::smatch m;
      if (!std::regex_search(line, m, at)) return std::pair<long, long>{LONG_MAX, 0};
      return std::pair<long, long>{std::stol(m[1]), std::stol(m[2])};
    };
    std::stable_sort(p.lines.begin(), p.lines.end(),
                     [&](const auto& a, const auto& b) { return position(a) < position(b); });
    std::set<std::string> seen;
    std::erase_if(p.lines, [&](const std::string& line) { return !seen.insert(line).second; });
    std::string msg = p.lines.size() == 1 ? std::string("invalid sweep spec: ")
                                          : "invalid sweep spec (" +
                                                std::to_string(p.lines.size()) + " problems):\n  ";
    for (size_t i = 0; i < p.lines.size(); ++i) msg += (i ? "\n  " : "") + p.lines[i];
    throw ConfigError(msg);
  }
  return spec;
}

SweepSpec parse_spec_file(const std::string& path) {
  std::error_code ec;
  const auto kind = std::filesystem::status(path, ec).type();
  if (kind == std::filesystem::file_type::not_found) {
    throw ConfigError("sweep spec " + path + ": no such file");
  }
  if (ec) throw ConfigError("sweep spec " + path + ": cannot read it: " + ec.message());
  if (kind == std::filesystem::file_type::directory) {
    throw ConfigError("sweep spec " + path + ": is a folder; give the .toml file");
  }
  // A pipe (`plan <(...)`, /dev/stdin) is read like a file.
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open())
    throw ConfigError("sweep spec " + path + ": cannot read it: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw ConfigError("sweep spec " + path + ": cannot be read");
  // Empty, or only blank lines and comments (and a byte-order mark): nothing to run, where a
  // table-less file would plan the built-in default trial.
  bool content = false;
  {
    std::istringstream lines(text.str());
    std::string line;
    for (bool first = true; !content && std::getline(lines, line); first = false) {
      if (first && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      const size_t at = line.find_first_not_of(" \t\r");
      content = at != std::string::npos && line[at] != '#';
    }
  }
  if (!content) {
    throw ConfigError("sweep spec " + path +
                      ": is empty (or only comments); a spec has at least a [base] or [sweep] "
                      "section (see "
                      "configs/quick.toml)");
  }
  return parse_spec_text(text.str(), path);
}

SweepSpec parse_stored_spec(const std::string& text, const std::string& source,
                            const std::string& recorded_name) {
  SweepSpec spec = parse_spec_text(text, source, true);
  if (!recorded_name.empty()) spec.sweep.name = recorded_name;
  return spec;
}

}  // namespace trm::sweep
