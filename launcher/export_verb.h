// `trm-sweep export RESULTS.h5`: the sweep's tables (the spec's [[table]]s, some of them by name,
// or one described on the command line) as md, csv, latex, json or an HTML report.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace trm::launcher {

struct ExportCli {
  std::string results;              // results file (HDF5)
  std::vector<std::string> tables;  // --table NAME (repeatable, a repeat ignored); none = all
  std::string kind;                 // --kind ablation|grid|raw: a table not in the spec
  std::string rows, cols;           // --rows, --cols: the grid's axes (config keys)
  std::string metric;               // --metric: overrides the tables' metric
  bool metric_given = false;        // --metric was on the command line (even as "")
  std::string format;               // md | csv | latex | json | html; "" = from -o's extension
  std::string out;                  // -o FILE; "" = stdout
  bool force = false;               // --force: -o may replace an existing file
};

// The format to write: --format when given, else the one -o's extension names (.md, .csv,
// .json, .tex, .html, .htm), else md. ConfigError for an unknown --format.
std::string export_format_name(const ExportCli& options);

// Writes the tables to `out`, or to options.out: a new or regular file atomically, a character
// device, pipe or FIFO (/dev/stdout, /dev/null) as is. ConfigError for a bad format, table name,
// kind, axis or metric, and for an -o that is a regular file that exists (without --force), a
// folder, the results file or its journal, any HDF5 file or sweep journal, or a block device or
// socket; StorageError for a missing or unreadable results file; DataError when -o cannot be
// written.
int export_verb(const ExportCli& options, std::ostream& out);

}  // namespace trm::launcher
