#include "storage/export.h"

#include <algorithm>
#include <array>

#include "core/errors.h"
#include "storage/export_model.h"

namespace trm::storage {

namespace {

constexpr std::array<std::pair<ExportFormat, std::string_view>, 5> kFormats{{
    {ExportFormat::md, "md"},
    {ExportFormat::csv, "csv"},
    {ExportFormat::latex, "latex"},
    {ExportFormat::json, "json"},
    {ExportFormat::html, "html"},
}};

TableRequest request_of(const sweep::TableSpec& t) {
  TableRequest r;
  r.name = t.name;
  r.kind = t.kind;
  r.rows = t.rows;
  r.cols = t.cols;
  r.metric = t.metric;
  return r;
}

std::vector<TableRequest> tables_of(const sweep::SweepSpec& spec) {
  std::vector<TableRequest> out;
  for (const auto& t : spec.tables) out.push_back(request_of(t));
  if (out.empty()) {
    TableRequest r;
    r.kind = spec.variants.empty() ? "raw" : "ablation";
    r.name = r.kind;
    out.push_back(r);
  }
  return out;
}

exporting::Report report_of(const ResultsReader& reader, const exporting::SweepData& data,
                            const std::vector<TableRequest>& tables, bool curves) {
  exporting::Report report;
  report.sweep_name = data.spec.sweep.name;
  SweepHeader::visit_fields(data.header, [&](std::string_view key, const std::string& value) {
    if (key != "spec") report.provenance.emplace_back(std::string(key), value);
  });
  report.provenance.emplace_back("schema_version", std::to_string(reader.schema_version()));
  report.provenance.emplace_back("hdf5_version", reader.hdf5_version());
  report.spec_toml = data.header.spec_toml;
  for (const auto& request : tables) {
    for (auto& t : exporting::build_tables(data, request)) report.tables.push_back(std::move(t));
  }
  if (curves) {
    for (const auto& t : data.trials) {
      exporting::Curves c;
      c.index = t.row.index;
      c.name = t.row.name;
      c.status = std::string(to_string(t.row.status));
      c.train = reader.train(t.row.index);
      c.eval = reader.eval(t.row.index);
      report.curves.push_back(std::move(c));
    }
  }
  return report;
}

}  // namespace

ExportFormat parse_export_format(std::string_view name) {
  std::string valid;
  for (const auto& [format, text] : kFormats) {
    if (text == name) return format;
    valid.append(valid.empty() ? "" : ", ").append(text);
  }
  throw ConfigError("--format " + std::string(name) + ": unknown format; valid: " + valid);
}

std::vector<TableRequest> spec_tables(const ResultsReader& reader) {
  return tables_of(exporting::stored_spec(reader, reader.header()));
}

std::vector<TableRequest> find_spec_tables(const ResultsReader& reader,
                                           const std::vector<std::string>& names) {
  const auto all = spec_tables(reader);
  std::vector<TableRequest> out;
  for (const auto& name : names) {
    // A name given twice is one table: twice, a CSV reads as one table with every row twice.
    if (std::any_of(out.begin(), out.end(), [&](const TableRequest& t) { return t.name == name; }))
      continue;
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const TableRequest& t) { return t.name == name; });
    if (it == all.end()) {
      std::string valid;
      for (const auto& t : all) valid.append(valid.empty() ? "" : ", ").append(t.name);
      throw ConfigError("--table " + name + ": the sweep's spec has no such table; valid: " +
                        valid + " (or describe one with --kind, --rows, --cols, --metric)");
    }
    out.push_back(*it);
  }
  return out;
}

std::string export_tables(const ResultsReader& reader, const std::vector<TableRequest>& tables,
                          ExportFormat format) {
  const auto data = exporting::read_sweep(reader);
  const auto report = report_of(reader, data, tables, format == ExportFormat::html);
  switch (format) {
    case ExportFormat::md:
      return exporting::render_md(report);
    case ExportFormat::csv:
      return exporting::render_csv(report);
    case ExportFormat::latex:
      return exporting::render_latex(report);
    case ExportFormat::json:
      return exporting::render_json(report);
    case ExportFormat::html:
      return exporting::render_html(report);
  }
  throw InternalError("export: unhandled format");
}

std::string format_spec_tables(const ResultsReader& reader, ExportFormat format) {
  const auto all = spec_tables(reader);
  const auto ablation = std::find_if(all.begin(), all.end(),
                                     [](const TableRequest& t) { return t.kind == "ablation"; });
  return export_tables(reader, {ablation != all.end() ? *ablation : all.front()}, format);
}

}  // namespace trm::storage
