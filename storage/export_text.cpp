// The text formats of `export`: Markdown and LaTeX for papers and READMEs (display values, best in
// bold), CSV and JSON for scripts (unscaled values, shortest round-trip numbers, NaN = empty/null).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "core/config_fields.h"
#include "storage/export_model.h"
#include "storage/json_text.h"

namespace trm::storage::exporting {

std::string fixed(double v, const char* format) {
  if (std::isnan(v)) return "—";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string stat_text(const Stat& s, const MetricStyle& style) {
  if (s.absent) return "";
  if (!s.status.empty()) return s.status;
  std::string out = fixed(s.mean * style.scale, style.format);
  if (!std::isnan(s.std)) out += " ± " + fixed(s.std * style.scale, style.format);
  if (s.expected > 1 || !s.missing_seeds.empty()) {
    out.append(" (n=").append(std::to_string(s.n) + "/" + std::to_string(s.expected));
    if (!s.missing_seeds.empty()) {
      out += s.missing_seeds.size() == 1 ? ", missing: seed" : ", missing: seeds";
      for (size_t i = 0; i < s.missing_seeds.size(); ++i)
        out.append((i == 0 ? " " : ", ")).append(std::to_string(s.missing_seeds[i]));
    }
    out += ")";
  }
  return out;
}

std::string cell_text(const Cell& c, const std::string& metric) {
  return c.kind == CellKind::stat ? stat_text(c.stat, metric_style(metric)) : c.text;
}

std::string provenance_line(const Report& r) {
  std::string spec_hash, created, tool, revision;
  for (const auto& [key, value] : r.provenance) {
    if (key == "spec_hash") spec_hash = value;
    if (key == "created") created = value;
    if (key == "tool_version") tool = value;
    if (key == "git_revision") revision = value;
  }
  std::string line = "Sweep " + r.sweep_name + " (spec " + spec_hash.substr(0, 12) + "), created " +
                     created + " by trm-sweep " + tool +
                     (revision.empty() ? "" : " (" + revision + ")") + ".";
  // One line whatever the stored names hold: a line break would end a LaTeX comment or the first
  // Markdown line early and put the rest of the name where it is read as markup.
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  return line;
}

namespace {

// ---- Markdown ----

std::string md_escape(const std::string& s) {
  std::string out;
  // A line break would end the table row: cells stay on one line. A bar would end the cell, and
  // a backslash before it would escape the escape; < and > would open raw HTML where a renderer
  // allows it: all are backslash-escaped.
  // (A backslash escapes only before punctuation: "h \\ l" stays as it is.) Emphasis, code and
  // strike-through marks (*x*, `c`, ~~s~~) and an entity (&amp;) would show a name changed:
  // escaped too; an underscore only where it could open or close emphasis (at a word's edge),
  // so that model.l_cycles stays as it reads.
  auto word = [&](size_t j) {
    return j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] < 0);
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool escaping_backslash =
        c == '\\' && i + 1 < s.size() && std::ispunct(static_cast<unsigned char>(s[i + 1]));
    const bool emphasis =
        c == '*' || c == '`' || c == '~' || (c == '_' && !(i > 0 && word(i - 1) && word(i + 1)));
    const bool entity = c == '&' && (word(i + 1) || (i + 1 < s.size() && s[i + 1] == '#'));
    if (c == '|' || c == '<' || c == '>' || escaping_backslash || emphasis || entity) {
      out += '\\';
      out += c;
    } else {
      out += c == '\n' || c == '\r' ? ' ' : c;
    }
  }
  return out;
}

std::string md_table(const Table& t) {
  std::string out = "### " + md_escape(t.title) + "\n\n|";
  for (const auto& h : t.header) out.append(" ").append(md_escape(h) + " |");
  out += "\n|";
  // Numbers right-aligned; a column of words (names, statuses, enum values) left-aligned, as the
  // first. Config values are text cells: a column of them that all read as numbers is numbers.
  auto is_number = [](const std::string& text) {
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    return !text.empty() && end != nullptr && *end == '\0';
  };
  for (size_t c = 0; c < t.header.size(); ++c) {
    bool words = c == 0;
    if (!words && !t.rows.empty()) {
      words = std::all_of(t.rows.begin(), t.rows.end(),
                          [&](const auto& row) {
                            return c < row.size() && row[c].kind == CellKind::text;
                          }) &&
              std::any_of(t.rows.begin(), t.rows.end(),
                          [&](const auto& row) { return !is_number(row[c].text); });
    }
    out += words ? "---|" : "---:|";
  }
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const auto& cell : row) {
      const std::string text = md_escape(cell_text(cell, t.metric));
      out.append(" ").append(
          (cell.kind == CellKind::stat && cell.stat.best ? "**" + text + "**" : text) + " |");
    }
    out += "\n";
  }
  if (!t.notes.empty()) out += "\n";
  for (const auto& note : t.notes) out += note + "\n";
  return out;
}

// ---- CSV (RFC 4180 quoting) ----

std::string csv_field(const std::string& s) {
  // '#' too: the README reads a multi-table CSV with pandas' comment="#", which cuts an unquoted
  // field at it.
  if (s.find_first_of(",\"\n\r#") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_number(double v) { return std::isnan(v) ? "" : core::format_double(v); }

std::string seed_list(const std::vector<int64_t>& seeds) {
  std::string out;
  for (const int64_t s : seeds) out.append(out.empty() ? "" : " ").append(std::to_string(s));
  return out;
}

void csv_stat_header(std::vector<std::string>& names, const std::string& key) {
  for (const char* suffix : {"", "_std", "_n", "_expected", "_missing_seeds", "_status"})
    names.push_back(key + suffix);
}

// The status of a stat cell for scripts: done, oom, failed, no_value (finished without a value of
// the metric), missing (not run yet) or absent (a grid cell the sweep has no trial of).
std::string machine_status(const Stat& s) {
  if (s.absent) return "absent";
  if (s.status.empty()) return "done";
  if (s.status == "OOM") return "oom";
  if (s.status == "n/a") return "no_value";
  return s.status == "fail" ? "failed" : "missing";
}

void csv_stat(std::vector<std::string>& fields, const Stat& s) {
  fields.insert(fields.end(),
                {csv_number(s.mean), csv_number(s.std), std::to_string(s.n),
                 std::to_string(s.expected), seed_list(s.missing_seeds), machine_status(s)});
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) out.append(i ? "," : "").append(csv_field(fields[i]));
  return out + "\n";
}

std::string csv_table(const Table& t) {
  std::vector<std::string> names;
  for (size_t c = 0; c < t.keys.size(); ++c) {
    const bool stat = !t.rows.empty() && t.rows.front()[c].kind == CellKind::stat;
    if (stat || (t.kind == "ablation" && c == 1)) {
      csv_stat_header(names, t.keys[c]);
    } else {
      names.push_back(t.keys[c]);
    }
  }
  std::string out = csv_line(names);
  for (const auto& row : t.rows) {
    std::vector<std::string> fields;
    for (const auto& cell : row) {
      if (cell.kind == CellKind::stat)
        csv_stat(fields, cell.stat);
      else if (cell.kind == CellKind::number)
        fields.push_back(csv_number(cell.number));
      else if (cell.kind == CellKind::integer)
        fields.push_back(std::to_string(cell.integer));
      else
        fields.push_back(cell.text);
    }
    out += csv_line(fields);
  }
  return out;
}

// A grid as tidy rows: one line per cell, every group of the same table in one block.
std::string csv_grid_header(const Table& t) {
  std::vector<std::string> names{t.row_key, t.col_key, "group"};
  csv_stat_header(names, t.metric);
  return csv_line(names);
}

std::string csv_grid_rows(const Table& t) {
  std::string out;
  for (const auto& row : t.rows) {
    for (size_t c = 1; c < row.size(); ++c) {
      std::vector<std::string> fields{row[0].text, t.header[c], t.group};
      csv_stat(fields, row[c].stat);
      out += csv_line(fields);
    }
  }
  return out;
}

// ---- LaTeX (booktabs) ----

// Greek letters and the symbols an ablation's names use, as math: pdfLaTeX's UTF-8 input (the
// default since 2018) reads accented Latin letters but stops at these ("Unicode character α
// not set up for use with LaTeX").
const std::vector<std::pair<std::string, std::string>>& tex_math_symbols() {
  static const std::vector<std::pair<std::string, std::string>> map = [] {
    std::vector<std::pair<std::string, std::string>> m;
    auto utf8 = [](int cp) {  // a code point below U+0800: two bytes
      return std::string{static_cast<char>(0xC0 | (cp >> 6)),
                         static_cast<char>(0x80 | (cp & 0x3F))};
    };
    const char* const lower[] = {"alpha", "beta",    "gamma", "delta", "epsilon", "zeta",
                                 "eta",   "theta",   "iota",  "kappa", "lambda",  "mu",
                                 "nu",    "xi",      "o",     "pi",    "rho",     "sigma",
                                 "tau",   "upsilon", "phi",   "chi",   "psi",     "omega"};
    // U+03B1..U+03C9 (with the final sigma U+03C2 skipped), then U+0391..U+03A9 for the
    // capitals LaTeX has commands for (the others look like Latin letters).
    for (int k = 0, cp = 0x3B1; k < 24; ++k, ++cp) {
      if (cp == 0x3C2) ++cp;
      const std::string name = lower[k];
      m.emplace_back(utf8(cp), name == "o" ? "o" : "$\\" + name + "$");
    }
    for (const auto& [cp, name] : std::vector<std::pair<int, std::string>>{{0x393, "Gamma"},
                                                                           {0x394, "Delta"},
                                                                           {0x398, "Theta"},
                                                                           {0x39B, "Lambda"},
                                                                           {0x39E, "Xi"},
                                                                           {0x3A0, "Pi"},
                                                                           {0x3A3, "Sigma"},
                                                                           {0x3A6, "Phi"},
                                                                           {0x3A8, "Psi"},
                                                                           {0x3A9, "Omega"}}) {
      m.emplace_back(utf8(cp), "$\\" + name + "$");
    }
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{"≤", "$\\leq$"},
                                                          {"≥", "$\\geq$"},
                                                          {"≈", "$\\approx$"},
                                                          {"≠", "$\\neq$"},
                                                          {"→", "$\\rightarrow$"},
                                                          {"←", "$\\leftarrow$"},
                                                          {"∞", "$\\infty$"},
                                                          {"−", "$-$"},
                                                          {"–", "--"},
                                                          {"…", "\\ldots{}"}})
      m.emplace_back(from, to);
    return m;
  }();
  return map;
}

std::string tex_escape(const std::string& s) {
  static const std::vector<std::pair<std::string, std::string>> map = {{"\\", "$\\backslash$"},
                                                                       {"&", "\\&"},
                                                                       {"%", "\\%"},
                                                                       {"$", "\\$"},
                                                                       {"#", "\\#"},
                                                                       {"_", "\\_"},
                                                                       {"{", "\\{"},
                                                                       {"}", "\\}"},
                                                                       {"~", "\\textasciitilde{}"},
                                                                       {"^", "\\textasciicircum{}"},
                                                                       {"±", "$\\pm$"},
                                                                       {"·", "$\\cdot$"},
                                                                       {"×", "$\\times$"},
                                                                       {"—", "---"},
                                                                       {"<", "\\textless{}"},
                                                                       {">", "\\textgreater{}"},
                                                                       {"|", "\\textbar{}"},
                                                                       // After a row's \\, a
                                                                       // [ would be read as
                                                                       // its optional space.
                                                                       {"[", "{[}"},
                                                                       {"]", "{]}"},
                                                                       {"\n", " "},
                                                                       {"\r", " "}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool hit = false;
    for (const auto& [from, to] : map) {
      if (s.compare(i, from.size(), from) == 0) {
        out += to;
        i += from.size();
        hit = true;
        break;
      }
    }
    for (const auto& [from, to] : tex_math_symbols()) {
      if (hit) break;
      if (s.compare(i, from.size(), from) == 0) {
        out += to;
        i += from.size();
        hit = true;
        break;
      }
    }
    if (!hit) out += s[i++];
  }
  return out;
}

std::string tex_label(const std::string& name, int part) {
  std::string out = "tab:";
  for (const char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '-';
  return part > 0 ? out + "-" + std::to_string(part + 1) : out;
}

std::string tex_table(const Table& t, const std::string& label) {
  std::string caption = tex_escape(t.title) + ".";
  for (const auto& note : t.notes) caption.append(" ").append(tex_escape(note));
  std::string out = "\\begin{table}[ht]\n  \\centering\n  \\caption{" + caption + "}\n  \\label{" +
                    label + "}\n  \\begin{tabular}{l" + std::string(t.header.size() - 1, 'r') +
                    "}\n    \\toprule\n    ";
  for (size_t c = 0; c < t.header.size(); ++c)
    out.append((c ? " & " : "")).append(tex_escape(t.header[c]));
  out += " \\\\\n    \\midrule\n";
  for (const auto& row : t.rows) {
    out += "    ";
    for (size_t c = 0; c < row.size(); ++c) {
      std::string text = tex_escape(cell_text(row[c], t.metric));
      // After the previous row's \\, a * would make it \\* (no page break) and vanish.
      if (c == 0 && !text.empty() && text.front() == '*') text = "{}" + text;
      const bool bold = row[c].kind == CellKind::stat && row[c].stat.best;
      out.append((c ? " & " : "")).append((bold ? "\\textbf{" + text + "}" : text));
    }
    out += " \\\\\n";
  }
  return out + "    \\bottomrule\n  \\end{tabular}\n\\end{table}\n";
}

// ---- JSON ----

std::string quote(const std::string& s) { return json_quote(s); }

std::string json_strings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out.append(i ? ", " : "").append(quote(items[i]));
  return out + "]";
}

std::string json_cell(const Cell& c) {
  if (c.kind == CellKind::text) return quote(c.text);
  if (c.kind == CellKind::integer) return std::to_string(c.integer);
  if (c.kind == CellKind::number) return json_number(c.number);
  const Stat& s = c.stat;
  std::string missing = "[";
  for (size_t i = 0; i < s.missing_seeds.size(); ++i)
    missing.append((i ? ", " : "")).append(std::to_string(s.missing_seeds[i]));
  return "{\"mean\": " + json_number(s.mean) + ", \"std\": " + json_number(s.std) +
         ", \"n\": " + std::to_string(s.n) + ", \"expected\": " + std::to_string(s.expected) +
         ", \"missing_seeds\": " + missing + "], \"status\": " + quote(machine_status(s)) +
         ", \"best\": " + (s.best ? "true" : "false") + "}";
}

std::string json_table(const Table& t) {
  std::string out = "    {\"name\": " + quote(t.name) + ", \"kind\": " + quote(t.kind) +
                    ", \"metric\": " + quote(t.metric) + ", \"title\": " + quote(t.title);
  if (t.kind == "grid") {
    out += ", \"rows_key\": " + quote(t.row_key) + ", \"cols_key\": " + quote(t.col_key) +
           ", \"group\": " + quote(t.group);
  }
  out += ",\n     \"notes\": " + json_strings(t.notes) +
         ",\n     \"columns\": " + json_strings(t.kind == "grid" ? t.header : t.keys) +
         ",\n     \"rows\": [";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    out += r ? ",\n       [" : "\n       [";
    for (size_t c = 0; c < t.rows[r].size(); ++c) out += (c ? ", " : "") + json_cell(t.rows[r][c]);
    out += "]";
  }
  return out + (t.rows.empty() ? "]}" : "\n     ]}");
}

}  // namespace

std::string render_md(const Report& report) {
  std::string out = provenance_line(report) + "\n";
  for (const auto& t : report.tables) out.append("\n").append(md_table(t));
  return out;
}

std::string render_csv(const Report& report) {
  // One table: plain CSV (pandas.read_csv reads it as is). Several: blocks, each after a
  // "# table: NAME" line (read_csv(..., comment="#") skips those).
  std::string out;
  const bool several =
      report.tables.size() > 1 && report.tables.back().name != report.tables.front().name;
  for (size_t i = 0; i < report.tables.size(); ++i) {
    const Table& t = report.tables[i];
    const bool continues = i > 0 && t.kind == "grid" && report.tables[i - 1].kind == "grid" &&
                           report.tables[i - 1].name == t.name;
    if (continues) {
      out += csv_grid_rows(t);
      continue;
    }
    if (several) out.append(i ? "\n" : "").append("# table: ").append(t.name).append("\n");
    // An empty table of several says why, on comment lines (read_csv(..., comment="#")); a
    // table alone keeps its header on the first line, for readers that know no comments.
    if (t.rows.empty() && several) {
      for (const auto& note : t.notes) out.append("# ").append(note).append("\n");
    }
    out += t.kind == "grid" ? csv_grid_header(t) + csv_grid_rows(t) : csv_table(t);
  }
  return out;
}

std::string render_latex(const Report& report) {
  std::string out = "% " + provenance_line(report) + "\n% Needs \\usepackage{booktabs}.\n";
  // Labels are unique in the document: two names that read the same once made a label ("a#b",
  // "a%b"), or a name like a part's ("g-2"), get a number of their own.
  std::set<std::string> labels;
  for (size_t i = 0; i < report.tables.size(); ++i) {
    int part = 0;
    while (static_cast<size_t>(part) < i &&
           report.tables[i - 1 - part].name == report.tables[i].name)
      ++part;
    std::string label = tex_label(report.tables[i].name, part);
    for (int k = 2; labels.count(label) != 0; ++k)
      label = tex_label(report.tables[i].name, part) + "-" + std::to_string(k);
    labels.insert(label);
    out.append("\n").append(tex_table(report.tables[i], label));
  }
  return out;
}

std::string render_json(const Report& report) {
  std::string out = "{\"provenance\": {";
  for (size_t i = 0; i < report.provenance.size(); ++i)
    out += (i ? ", " : "") + quote(report.provenance[i].first) + ": " +
           quote(report.provenance[i].second);
  out.append("},\n \"sweep\": ").append(quote(report.sweep_name) + ",\n \"tables\": [");
  for (size_t i = 0; i < report.tables.size(); ++i)
    out.append((i ? ",\n" : "\n")).append(json_table(report.tables[i]));
  return out + (report.tables.empty() ? "]}\n" : "\n ]}\n");
}

}  // namespace trm::storage::exporting
