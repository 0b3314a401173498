// `trm-sweep export RESULTS.h5`: the sweep's tables (the spec's [[table]]s, some of them by name,
// or one described on the command line) as md, csv, latex, json or an HTML report.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace trm::launcher {

struct ExportCli {
  std::string results;              // results file (HDF5)
  std::vector<std::string> tables;  // --table NAME (repeatable); none = every table of the spec
  std::string kind;                 // --kind ablation|grid|raw: a table not in the spec
  std::string rows, cols;           // --rows, --cols: the grid's axes (config keys)
  std::string metric;               // --metric: overrides the tables' metric
  bool metric_given = false;        // --metric was on the command line (even as "")
  std::string format = "md";        // md | csv | latex | json | html
  std::string out;                  // -o FILE; "" = stdout
  bool force = false;               // --force: -o may replace an existing file
};

// Writes the tables to `out` (or to options.out, atomically). ConfigError for a bad format,
// table name, kind, axis or metric, and for an -o that exists (without --force), is a folder,
// the results file or its journal, or any HDF5 file; StorageError for a missing or unreadable
// results file.
int export_verb(const ExportCli& options, std::ostream& out);

}  // namespace trm::launcher
