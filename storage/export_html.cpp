// The HTML report of `export --format html`: one self-contained page (inline CSS and SVG, no
// script, and a Content-Security-Policy that forbids any network load) with the tables, a heat
// map per grid table, each trial's learning curves and the sweep's provenance.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "storage/export_model.h"

namespace trm::storage::exporting {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) { return fixed(v, "%.1f"); }

constexpr const char* kStyle =
    R"(body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table.trm{border-collapse:collapse;margin:.5em 0}
table.trm th,table.trm td{padding:3px 10px;text-align:right;border-bottom:1px solid #e4e4e4}
table.trm th:first-child,table.trm td:first-child{text-align:left}
table.trm thead th{border-bottom:2px solid #444}
td.best{font-weight:bold}td.oom{color:#b2182b;font-weight:bold}td.fail{color:#777}
p.note{color:#555;font-size:.9em;margin:.2em 0}section.export-table{overflow-x:auto}
.curves{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}figcaption{font-size:.85em;color:#444;max-width:360px}
svg text{font:11px system-ui,sans-serif}
.legend span{margin-right:1.2em}.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
table.provenance td{padding:1px 10px 1px 0;font-family:monospace}
pre{background:#f6f6f6;padding:.8em;overflow:auto}
)";

// ---- tables ----

std::string html_table(const Table& t) {
  std::string out = "<table class=\"trm\" data-table=\"" + esc(t.name) + "\">\n<thead><tr>";
  for (const auto& h : t.header) out.append("<th>").append(esc(h) + "</th>");
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (const auto& cell : row) {
      std::string cls;
      if (cell.kind == CellKind::stat) {
        if (cell.stat.best) cls = "best";
        if (cell.stat.status == "OOM") cls = "oom";
        if (cell.stat.status == "fail") cls = "fail";
        if (cell.stat.absent) cls = "absent";
      }
      out += (cls.empty() ? "<td>" : "<td class=\"" + cls + "\">") +
             esc(cell_text(cell, t.metric)) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  for (const auto& note : t.notes) out.append("<p class=\"note\">").append(esc(note) + "</p>\n");
  return out;
}

// ---- heat map of a grid table ----

// White to dark blue, as t goes from 0 to 1.
std::string blue(double t) {
  const auto mix = [&](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(0xf7, 0x08), mix(0xfb, 0x51),
                mix(0xff, 0x9c));
  return buf;
}

// `number` tells the page's heat maps apart: each defines its hatch pattern, and ids are unique
// in a page.
std::string heat_map(const Table& t, int number) {
  const std::string hatch = "hatch-" + std::to_string(number);
  const MetricStyle style = metric_style(t.metric);
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& row : t.rows) {
    for (size_t c = 1; c < row.size(); ++c) {
      if (std::isnan(row[c].stat.mean)) continue;
      lo = std::min(lo, row[c].stat.mean);
      hi = std::max(hi, row[c].stat.mean);
    }
  }
  const double cw = 72, ch = 34, left = 90, top = 40;
  // Wide enough for the legend line under a small grid.
  const double width = std::max(320.0, left + cw * static_cast<double>(t.header.size() - 1) + 10);
  const double height = top + ch * static_cast<double>(t.rows.size()) + 30;
  std::string out = "<svg class=\"heatmap\" width=\"" + num(width) + "\" height=\"" + num(height) +
                    "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
                    "\" role=\"img\" aria-label=\"heat map of " + esc(t.title) +
                    "\">\n<defs><pattern id=\"" + hatch +
                    "\" width=\"6\" height=\"6\" "
                    "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width="
                    "\"6\" height=\"6\" fill=\"#fddbc7\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\""
                    " stroke=\"#b2182b\" stroke-width=\"2\"/></pattern></defs>\n";
  out.append("<text x=\"").append(num(left) + "\" y=\"14\">" + esc(t.col_key) + " →</text>\n");
  out.append("<text x=\"4\" y=\"").append(num(top - 6) + "\">" + esc(t.row_key) + " ↓</text>\n");
  for (size_t c = 1; c < t.header.size(); ++c) {
    out += "<text x=\"" + num(left + cw * static_cast<double>(c - 1) + cw / 2) + "\" y=\"" +
           num(top - 6) + "\" text-anchor=\"middle\">" + esc(t.header[c]) + "</text>\n";
  }
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const double y = top + ch * static_cast<double>(r);
    out += "<text x=\"" + num(left - 8) + "\" y=\"" + num(y + ch / 2 + 4) +
           "\" text-anchor=\"end\">" + esc(t.rows[r][0].text) + "</text>\n";
    for (size_t c = 1; c < t.rows[r].size(); ++c) {
      const Stat& s = t.rows[r][c].stat;
      const double x = left + cw * static_cast<double>(c - 1);
      std::string cls = "cell", fill = "#ffffff", label = s.status, ink = "#222";
      if (s.absent) {
        cls = "cell absent";
      } else if (s.status == "OOM") {
        cls = "cell oom";
        fill = "url(#" + hatch + ")";
        ink = "#b2182b";
      } else if (s.status == "fail") {
        cls = "cell fail";
        fill = "#d9d9d9";
      } else if (s.status.empty()) {
        const double k = hi > lo ? (s.mean - lo) / (hi - lo) : 1.0;
        fill = blue(0.15 + 0.85 * k);
        ink = k > 0.55 ? "#ffffff" : "#222";
        label = fixed(s.mean * style.scale, style.format);
      }
      out += "<rect class=\"" + cls + "\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" +
             num(cw - 2) + "\" height=\"" + num(ch - 2) + "\" fill=\"" + fill + "\"><title>" +
             esc(t.rows[r][0].text + ", " + t.header[c] + ": " +
                 (s.absent ? "not in the sweep" : stat_text(s, style))) +
             "</title></rect>\n<text x=\"" + num(x + cw / 2 - 1) + "\" y=\"" + num(y + ch / 2 + 3) +
             "\" text-anchor=\"middle\" fill=\"" + ink + (s.best ? "\" font-weight=\"bold" : "") +
             "\">" + esc(label) + "</text>\n";
    }
  }
  out += "<text x=\"4\" y=\"" + num(height - 8) + "\">" + esc(style.title) +
         "; hatched: out of memory</text>\n</svg>\n";
  return out;
}

// ---- learning curves ----

struct Series {
  const char* name;
  const char* color;
  bool dashed;
  std::vector<std::pair<double, double>> points;  // (step, value in [0, 1])
};

// At most ~300 points per series (the last one always), so long runs stay light.
template <class Record, class Get>
std::vector<std::pair<double, double>> sample(const std::vector<Record>& records, Get get) {
  std::vector<std::pair<double, double>> out;
  const size_t stride = std::max<size_t>(1, (records.size() + 299) / 300);
  for (size_t i = 0; i < records.size(); ++i) {
    if (i % stride == 0 || i + 1 == records.size())
      out.emplace_back(static_cast<double>(records[i].step), get(records[i]));
  }
  return out;
}

constexpr const char* kArcSeries = "eval pass@2";

std::vector<Series> series_of(const Curves& c) {
  using T = core::TrainRecord;
  using E = core::EvalRecord;
  return {
      {"train accuracy", "#9ecae1", false, sample(c.train, [](const T& r) { return r.accuracy; })},
      {"train exact_accuracy", "#3182bd", false,
       sample(c.train, [](const T& r) { return r.exact_accuracy; })},
      {"eval accuracy", "#fdae6b", true, sample(c.eval, [](const E& r) { return r.accuracy; })},
      {"eval exact_accuracy", "#e6550d", true,
       sample(c.eval, [](const E& r) { return r.exact_accuracy; })},
      // ARC's evaluator only (no finite point elsewhere, so no line and no legend entry).
      {kArcSeries, "#31a354", true, sample(c.eval, [](const E& r) { return r.pass_at_2; })}};
}

std::string curve_chart(const Curves& c) {
  const double w = 360, h = 200, l = 38, r = 10, t = 10, b = 28;
  double max_step = 1;
  for (const auto& rec : c.train) max_step = std::max(max_step, static_cast<double>(rec.step));
  for (const auto& rec : c.eval) max_step = std::max(max_step, static_cast<double>(rec.step));
  const auto px = [&](double step) { return l + (w - l - r) * step / max_step; };
  const auto py = [&](double v) { return t + (h - t - b) * (1 - std::clamp(v, 0.0, 1.0)); };
  std::string out = "<svg class=\"curve\" data-trial=\"" + std::to_string(c.index) +
                    "\" width=\"360\" height=\"200\" "
                    "viewBox=\"0 0 360 200\" role=\"img\" aria-label=\"learning curves of " +
                    esc(c.name) + "\">\n";
  out += "<rect x=\"" + num(l) + "\" y=\"" + num(t) + "\" width=\"" + num(w - l - r) +
         "\" height=\"" + num(h - t - b) + "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (const double v : {0.0, 0.5, 1.0}) {
    out += "<text x=\"" + num(l - 4) + "\" y=\"" + num(py(v) + 4) + "\" text-anchor=\"end\">" +
           fixed(v, "%.1f") + "</text>\n";
  }
  out += "<text x=\"" + num(l) + "\" y=\"" + num(h - 8) + "\">0</text>\n<text x=\"" + num(w - r) +
         "\" y=\"" + num(h - 8) + "\" text-anchor=\"end\">step " + fixed(max_step, "%.0f") +
         "</text>\n";
  for (const auto& s : series_of(c)) {
    if (s.points.empty()) continue;
    std::string pts;
    // A record without a finite value (a NaN accuracy) is no point: "—" in an SVG coordinate
    // list breaks the whole line.
    std::vector<std::pair<double, double>> finite;
    for (const auto& p : s.points)
      if (std::isfinite(p.first) && std::isfinite(p.second)) finite.push_back(p);
    if (finite.empty()) continue;
    for (const auto& [x, y] : finite)
      pts.append(pts.empty() ? "" : " ").append(num(px(x))).append(",").append(num(py(y)));
    out += "<polyline class=\"series\" data-series=\"" + std::string(s.name) +
           "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.5\"" +
           (s.dashed ? " stroke-dasharray=\"4 3\"" : "") + " points=\"" + pts + "\"/>\n";
    if (s.dashed) {
      for (const auto& [x, y] : finite)
        out += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"2.5\" fill=\"" +
               s.color + "\"/>\n";
    }
  }
  if (c.train.empty() && c.eval.empty()) {
    out += "<text x=\"" + num(w / 2) + "\" y=\"" + num(h / 2) +
           "\" text-anchor=\"middle\" fill=\"#777\">no records</text>\n";
  }
  return out + "</svg>\n";
}

std::string curves_section(const Report& report) {
  std::string out = "<h2 id=\"curves\">Learning curves</h2>\n<p class=\"legend\">";
  const bool arc = std::any_of(report.curves.begin(), report.curves.end(), [](const Curves& c) {
    return std::any_of(c.eval.begin(), c.eval.end(),
                       [](const core::EvalRecord& r) { return std::isfinite(r.pass_at_2); });
  });
  for (const auto& s : series_of(Curves{})) {
    if (std::string(s.name) == kArcSeries && !arc) continue;
    out.append("<span><i style=\"background:")
        .append(std::string(s.color) + "\"></i>" + s.name + "</span>");
  }
  out += "</p>\n<div class=\"curves\">\n";
  for (const auto& c : report.curves) {
    out += "<figure>\n" + curve_chart(c) + "<figcaption>#" + std::to_string(c.index) + " " +
           esc(c.name) + " (" + esc(c.status) + ")</figcaption>\n</figure>\n";
  }
  return out + "</div>\n";
}

std::string provenance_section(const Report& report) {
  std::string out = "<h2 id=\"provenance\">Provenance</h2>\n<table class=\"provenance\">\n";
  for (const auto& [key, value] : report.provenance)
    out.append("<tr><td>").append(esc(key) + "</td><td>" + esc(value) + "</td></tr>\n");
  return out + "</table>\n<details><summary>Sweep spec</summary>\n<pre>" + esc(report.spec_toml) +
         "</pre></details>\n";
}

}  // namespace

std::string render_html(const Report& report) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n<title>trm-sweep: " +
      esc(report.sweep_name) + "</title>\n<style>\n" + kStyle +
      "</style>\n</head>\n<body>\n<h1>Sweep " + esc(report.sweep_name) + "</h1>\n<p>" +
      esc(provenance_line(report)) + "</p>\n" + "<h2 id=\"tables\">Tables</h2>\n";
  int heat_maps = 0;
  for (const auto& t : report.tables) {
    out.append("<section class=\"export-table\">\n<h3>")
        .append(esc(t.title) + "</h3>\n" + html_table(t));
    if (t.kind == "grid" && !t.rows.empty()) out += heat_map(t, ++heat_maps);
    out += "</section>\n";
  }
  return out + curves_section(report) + provenance_section(report) + "</body>\n</html>\n";
}

}  // namespace trm::storage::exporting
