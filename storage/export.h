// `trm-sweep export`: the sweep's tables (DESIGN.md "Tables") read from a results file — the
// spec's [[table]]s or one described on the command line — as Markdown, CSV, LaTeX, JSON or one
// self-contained HTML page. The same file always gives byte-identical output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/results_reader.h"

namespace trm::storage {

enum class ExportFormat { md, csv, latex, json, html };

// "md" -> ExportFormat::md, ...; ConfigError listing the valid formats.
ExportFormat parse_export_format(std::string_view name);

// One table to build: a [[table]] of the spec (sweep::TableSpec without its location) or one
// described on the command line.
struct TableRequest {
  std::string name;                       // title and label; "" = the kind
  std::string kind;                       // ablation | grid | raw
  std::string rows, cols;                 // grid: two config keys that vary in the sweep
  std::string metric = "exact_accuracy";  // one of sweep::table_metrics()
};

// The [[table]]s of the spec stored in the file, in spec order. A spec without any gets one
// default: the ablation table when it has variants, else the raw table.
std::vector<TableRequest> spec_tables(const ResultsReader& reader);

// The spec's tables called `names`, in that order, each once (a repeated name is ignored);
// ConfigError listing the table names.
std::vector<TableRequest> find_spec_tables(const ResultsReader& reader,
                                           const std::vector<std::string>& names);

// Builds and renders `tables`. ConfigError (one line) for an unknown kind or metric (listing the
// valid ones) or a grid axis the sweep does not vary (listing the axes it does). A table with no
// finished trial is rendered empty, with a note that says so. StorageError when the file cannot
// be read.
std::string export_tables(const ResultsReader& reader, const std::vector<TableRequest>& tables,
                          ExportFormat format);

// What `run` prints when a sweep ends: the spec's first ablation table (else its first table).
std::string format_spec_tables(const ResultsReader& reader, ExportFormat format = ExportFormat::md);

}  // namespace trm::storage
