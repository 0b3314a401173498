#include "storage/status_report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "core/config_fields.h"
#include "core/text_width.h"
#include "storage/json_text.h"

namespace trm::storage {

namespace {

// What the report shows of one trial.
struct TrialLine {
  TrialRow row;
  double train_exact = kUnknown;  // exact_accuracy of the newest train record
  double eval_exact = kUnknown;   // exact_accuracy of the newest evaluation
  double elapsed = kUnknown;      // seconds, all attempts together
  double eta = kUnknown;          // running trials: seconds left at the pace so far
};

std::vector<TrialLine> collect(const ResultsReader& reader, double now, bool writer_gone) {
  std::vector<TrialLine> lines;
  for (auto& row : reader.trials()) {
    TrialLine line{row};
    if (const auto t = reader.last_train(row.index)) line.train_exact = t->exact_accuracy;
    if (const auto e = reader.last_eval(row.index)) line.eval_exact = e->exact_accuracy;
    if (row.status == TrialStatus::running && writer_gone) {
      // cut off: elapsed and ETA unknown
    } else if (row.status == TrialStatus::running) {
      // A resumed trial's step counts the earlier attempts' steps too: their time (wall_s,
      // summed when each ended) goes with them, or the pace looks many times faster than it is.
      line.elapsed = (std::isnan(row.wall_s) ? 0.0 : row.wall_s) + (now - row.started);
      if (row.step > 0 && row.total_steps > row.step) {
        line.eta = line.elapsed / static_cast<double>(row.step) *
                   static_cast<double>(row.total_steps - row.step);
      }
    } else if (!std::isnan(row.wall_s)) {
      line.elapsed = row.wall_s;
    } else {
      line.elapsed = row.finished - row.started;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// Trials with an error, newest first. An interrupted trial's stderr tail (its progress lines,
// then "stopped") is no error: it is stopped on request and resumes where it stopped.
std::vector<const TrialRow*> recent_errors(const std::vector<TrialLine>& lines, int64_t most) {
  std::vector<const TrialRow*> rows;
  for (const auto& line : lines) {
    if (!line.row.error.empty() && line.row.status != TrialStatus::interrupted)
      rows.push_back(&line.row);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const TrialRow* a, const TrialRow* b) {
    const double fa = std::isnan(a->finished) ? -1 : a->finished;
    const double fb = std::isnan(b->finished) ? -1 : b->finished;
    return fa > fb;
  });
  if (static_cast<int64_t>(rows.size()) > most)
    rows.resize(static_cast<size_t>(std::max<int64_t>(most, 0)));
  return rows;
}

std::array<int64_t, core::EnumNames<TrialStatus>::values.size()> count(
    const std::vector<TrialLine>& lines) {
  std::array<int64_t, core::EnumNames<TrialStatus>::values.size()> counts{};
  for (const auto& line : lines) ++counts[static_cast<size_t>(line.row.status)];
  return counts;
}

// ---- text ----

std::string fixed(double v, const char* format) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string bytes(int64_t n) {
  if (n < 0) return "-";
  const std::array<const char*, 5> units{"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < units.size()) {
    v /= 1024;
    ++u;
  }
  return fixed(v, u == 0 ? "%.0f" : "%.1f") + " " + units[u];
}

std::string duration(double s) {
  if (std::isnan(s) || s < 0) return "-";
  const auto t = static_cast<int64_t>(s);
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60));
  } else if (t >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60),
                  static_cast<long long>(t % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(t));
  }
  return buf;
}

// An error in one line: its first line (what ended the trial: "killed by signal 6 (Aborted):
// ...") and, when there are more, its last (the end of the stderr tail), each clipped.
std::string error_line(const std::string& error) {
  std::string_view text = error;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto first_nl = text.find('\n');
  if (first_nl == std::string_view::npos) return clip_text(text, 160);
  const std::string_view first = text.substr(0, first_nl);
  const std::string_view last = text.substr(text.find_last_of('\n') + 1);
  return clip_text(first, 100) + " ... " + clip_text(last, 100);
}

// Rows of cells as left-aligned columns separated by two spaces.
// Widths are the columns a cell takes (core::display_width), not its bytes, so a name with
// accents or CJK characters stays in its column.
std::string columns(const std::vector<std::vector<std::string>>& table) {
  const auto shown = [](const std::string& text) { return core::display_width(text); };
  std::vector<size_t> width;
  for (const auto& row : table) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], shown(row[c]));
  }
  std::string out;
  for (const auto& row : table) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - shown(row[c]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string render_text(const ResultsReader& reader, const std::vector<TrialLine>& lines,
                        int64_t max_errors) {
  const SweepHeader header = reader.header();
  const std::string hash = header.spec_hash.substr(0, 12);
  std::string out =
      reader.path() + ": sweep " +
      (header.sweep_name.empty() ? hash : header.sweep_name + " (spec " + hash + ")") +
      ", created " + header.created + " by trm-sweep " + header.tool_version + "\n";
  const auto counts = count(lines);
  out += std::to_string(lines.size()) + " trials:";
  for (const auto& [status, name] : core::EnumNames<TrialStatus>::values) {
    out.append(" ").append(name).append(" ");
    out.append(std::to_string(counts[static_cast<size_t>(status)]));
    if (status != TrialStatus::interrupted) out.append(",");
  }
  out += "\n\n";
  std::vector<std::vector<std::string>> table{{"#", "name", "status", "step/total", "train exact",
                                               "eval exact", "rank", "device", "elapsed", "eta"}};
  for (const auto& l : lines) {
    table.push_back({std::to_string(l.row.index), clip_text(l.row.name, 48),
                     std::string(to_string(l.row.status)),
                     std::to_string(l.row.step) + "/" + std::to_string(l.row.total_steps),
                     fixed(l.train_exact, "%.3f"), fixed(l.eval_exact, "%.3f"),
                     l.row.rank < 0 ? "-" : std::to_string(l.row.rank),
                     l.row.device.empty() ? "-" : l.row.device, duration(l.elapsed),
                     duration(l.eta)});
  }
  out += columns(table);
  std::vector<std::vector<std::string>> oom{{"#", "name", "status", "predicted", "measured"}};
  for (const auto& l : lines) {
    if (l.row.status == TrialStatus::oom || l.row.status == TrialStatus::oom_predicted) {
      oom.push_back({std::to_string(l.row.index), clip_text(l.row.name, 48),
                     std::string(to_string(l.row.status)), bytes(l.row.predicted_peak_bytes),
                     bytes(l.row.measured_peak_bytes)});
    }
  }
  if (oom.size() > 1)
    out += "\nOut of memory (peak memory predicted vs measured):\n" + columns(oom);
  const auto errors = recent_errors(lines, max_errors);
  if (!errors.empty()) {
    out += "\nRecent errors:\n";
    for (const TrialRow* row : errors) {
      out += "  " + std::to_string(row->index) + " " + row->name + " (" +
             std::string(to_string(row->status)) + "): " + error_line(row->error) + "\n";
    }
  }
  return out;
}

// ---- JSON ----

std::string render_json(const ResultsReader& reader, const std::vector<TrialLine>& lines,
                        int64_t max_errors) {
  std::string out = "{\"path\": " + json_quote(reader.path()) + ", \"header\": {";
  bool first = true;
  const SweepHeader header = reader.header();
  SweepHeader::visit_fields(header, [&](std::string_view key, const std::string& value) {
    if (key == "spec") return;  // long; read the file for it
    out += (first ? "" : ", ") + json_quote(key) + ": " + json_quote(value);
    first = false;
  });
  out += "}, \"counts\": {";
  const auto counts = count(lines);
  first = true;
  for (const auto& [status, name] : core::EnumNames<TrialStatus>::values) {
    out += (first ? "" : ", ") + json_quote(name) + ": " +
           std::to_string(counts[static_cast<size_t>(status)]);
    first = false;
  }
  out += "}, \"trials\": [";
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    const TrialRow& r = l.row;
    out += std::string(i == 0 ? "" : ", ") + "{\"index\": " + std::to_string(r.index) +
           ", \"id\": " + json_quote(r.id) + ", \"name\": " + json_quote(r.name) +
           ", \"status\": " + json_quote(to_string(r.status)) +
           ", \"step\": " + std::to_string(r.step) +
           ", \"total_steps\": " + std::to_string(r.total_steps) +
           ", \"train_exact_accuracy\": " + json_number(l.train_exact) +
           ", \"eval_exact_accuracy\": " + json_number(l.eval_exact) +
           ", \"rank\": " + std::to_string(r.rank) + ", \"host\": " + json_quote(r.host) +
           ", \"device\": " + json_quote(r.device) +
           ", \"attempts\": " + std::to_string(r.attempts) +
           ", \"elapsed_s\": " + json_number(l.elapsed) + ", \"eta_s\": " + json_number(l.eta) +
           ", \"predicted_peak_bytes\": " + std::to_string(r.predicted_peak_bytes) +
           ", \"measured_peak_bytes\": " + std::to_string(r.measured_peak_bytes) +
           ", \"error\": " + json_quote(r.error) + "}";
  }
  out += "], \"recent_errors\": [";
  first = true;
  for (const TrialRow* row : recent_errors(lines, max_errors)) {
    out += std::string(first ? "" : ", ") + "{\"index\": " + std::to_string(row->index) +
           ", \"name\": " + json_quote(row->name) +
           ", \"status\": " + json_quote(to_string(row->status)) +
           ", \"error\": " + json_quote(row->error) + "}";
    first = false;
  }
  return out + "]}\n";
}

}  // namespace

std::string format_status(const ResultsReader& reader, const StatusOptions& options) {
  const double now = std::isnan(options.now) ? unix_now() : options.now;
  const auto lines = collect(reader, now, options.writer_gone);
  return options.format == StatusFormat::json ? render_json(reader, lines, options.max_errors)
                                              : render_text(reader, lines, options.max_errors);
}

}  // namespace trm::storage
