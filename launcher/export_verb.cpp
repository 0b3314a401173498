#include "launcher/export_verb.h"

#include <filesystem>
#include <fstream>
#include <string_view>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "storage/export.h"
#include "storage/results_writer.h"

namespace trm::launcher {

namespace {

// What the command line asks for: an ad hoc table (--kind), the spec's tables by name, or all.
std::vector<storage::TableRequest> requests(const ExportCli& o,
                                            const storage::ResultsReader& reader) {
  if ((!o.rows.empty() || !o.cols.empty()) && o.kind != "grid")
    throw ConfigError("--rows and --cols describe a grid table: add --kind grid");
  if (o.kind == "grid" && !o.rows.empty() && o.rows == o.cols)
    throw ConfigError("--rows and --cols are both " + o.rows + ": a grid needs two different axes");
  if (o.metric_given && o.metric.empty())
    throw ConfigError("--metric is empty: give a metric, e.g. --metric exact_accuracy");
  if (o.kind == "raw" && !o.metric.empty())
    throw ConfigError("--metric " + o.metric + ": a raw table lists every metric; drop --metric");
  std::vector<storage::TableRequest> tables;
  if (!o.kind.empty()) {
    storage::TableRequest r;
    r.kind = o.kind;
    r.name = o.tables.empty() ? o.kind : o.tables.front();
    r.rows = o.rows;
    r.cols = o.cols;
    tables.push_back(r);
  } else if (!o.tables.empty()) {
    tables = storage::find_spec_tables(reader, o.tables);
  } else {
    tables = storage::spec_tables(reader);
  }
  if (!o.metric.empty()) {
    for (auto& t : tables) t.metric = o.metric;
  }
  return tables;
}

// -o never lands on a results file, its journal or a folder, and replaces an existing file only
// with --force: `export r.h5 -o r.h5` used to leave 1 KB of Markdown where the results were.
void check_output(const ExportCli& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto target = fs::status(o.out, ec);
  if (!fs::exists(target)) return;
  const std::string what = "-o " + o.out + ": ";
  if (fs::is_directory(target)) throw ConfigError(what + "is a folder; give a file name");
  for (const auto& own : {o.results, storage::journal_path(o.results)}) {
    if (fs::equivalent(o.out, own, ec)) {
      throw ConfigError(what + "is " +
                        (own == o.results ? "the results file" : "the results file's journal") +
                        " being exported; write the tables to another file");
    }
  }
  std::ifstream in(o.out, std::ios::binary);
  char signature[8] = {};
  in.read(signature, sizeof signature);
  if (in.gcount() == 8 &&
      std::string_view(signature, 8) == std::string_view("\x89HDF\r\n\x1a\n", 8)) {
    throw ConfigError(what + "is an HDF5 file (a results file?); write the tables to another file");
  }
  if (!o.force) throw ConfigError(what + "already exists; add --force to replace it");
}

}  // namespace

int export_verb(const ExportCli& options, std::ostream& out) {
  if (!options.kind.empty() && options.tables.size() > 1)
    throw ConfigError("--kind describes one table: give at most one --table NAME for its title");
  const auto format = storage::parse_export_format(options.format);
  if (!options.out.empty()) check_output(options);
  const storage::ResultsReader reader(options.results);
  const std::string text = storage::export_tables(reader, requests(options, reader), format);
  if (options.out.empty()) {
    out << text;
  } else {
    core::write_file_atomically(options.out, text);
  }
  return 0;
}

}  // namespace trm::launcher
