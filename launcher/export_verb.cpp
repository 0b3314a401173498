#include "launcher/export_verb.h"

#include "core/atomic_file.h"
#include "core/errors.h"
#include "storage/export.h"

namespace trm::launcher {

namespace {

// What the command line asks for: an ad hoc table (--kind), the spec's tables by name, or all.
std::vector<storage::TableRequest> requests(const ExportCli& o,
                                            const storage::ResultsReader& reader) {
  if ((!o.rows.empty() || !o.cols.empty()) && o.kind != "grid")
    throw ConfigError("--rows and --cols describe a grid table: add --kind grid");
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

}  // namespace

int export_verb(const ExportCli& options, std::ostream& out) {
  if (!options.kind.empty() && options.tables.size() > 1)
    throw ConfigError("--kind describes one table: give at most one --table NAME for its title");
  const auto format = storage::parse_export_format(options.format);
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
