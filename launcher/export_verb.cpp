#include "launcher/export_verb.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "storage/export.h"
#include "storage/results_writer.h"

namespace trm::launcher {

namespace {

// Each --table once, in the order first given: `--table t --table t` is one table, not two.
std::vector<std::string> unique_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

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
    // A title that is a table the spec declares as another kind: that table is not what the
    // user gets, so say so rather than export a table of another kind under its name.
    // One of the same kind is the starting point: its axes and metric hold unless the command
    // line gives others (they were dropped for the defaults).
    for (const auto& declared : storage::spec_tables(reader)) {
      if (o.tables.empty() || declared.name != r.name) continue;
      if (declared.kind != r.kind) {
        throw ConfigError("--table " + r.name + " --kind " + o.kind + ": the spec declares " +
                          r.name + " as a " + declared.kind + " table; drop --kind to export it " +
                          "as declared, or give another --table name for the " + o.kind + " one");
      }
      r = declared;
    }
    if (!o.rows.empty()) r.rows = o.rows;
    if (!o.cols.empty()) r.cols = o.cols;
    if (r.kind == "grid" && !r.rows.empty() && r.rows == r.cols)
      throw ConfigError("--rows and --cols are both " + r.rows +
                        ": a grid needs two different axes");
    tables.push_back(r);
  } else if (!o.tables.empty()) {
    tables = storage::find_spec_tables(reader, unique_names(o.tables));
  } else {
    tables = storage::spec_tables(reader);
  }
  if (!o.metric.empty()) {
    for (auto& t : tables) t.metric = o.metric;
  }
  return tables;
}

// The format -o's extension names ("" when none does).
std::string format_of_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".md") return "md";
  if (ext == ".csv") return "csv";
  if (ext == ".json") return "json";
  if (ext == ".tex") return "latex";
  if (ext == ".html" || ext == ".htm") return "html";
  return "";
}

// The first bytes of the files -o must never replace, even with --force: an HDF5 file (a results
// file?) and a sweep's journal (storage/journal.h), whose loss makes a results file unrecoverable.
constexpr std::string_view kHdf5Signature("\x89HDF\r\n\x1a\n", 8);
// "TRMJRNL" and the format's digit (1 and 2 so far).
constexpr std::string_view kJournalSignature("TRMJRNL", 7);

// Where -o's bytes go: a new or regular file (written atomically, through a symlink to its
// target), a device, pipe or FIFO (opened and written as is), or a descriptor the shell opened
// (/dev/stdout, /dev/fd/3: written through it, so `>>` appends).
struct Output {
  enum class Kind { file, stream, descriptor } kind = Kind::file;
  std::string path;
  int fd = -1;
};

// N for /dev/stdout (1), /dev/stderr (2), /dev/fd/N and /proc/self/fd/N; -1 for any other path.
int descriptor_of(const std::string& path) {
  if (path == "/dev/stdout") return 1;
  if (path == "/dev/stderr") return 2;
  for (const std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (path.rfind(prefix, 0) != 0) continue;
    const std::string digits = path.substr(prefix.size());
    if (digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      return -1;
    return std::stoi(digits);
  }
  return -1;
}

// The file -o names must not be the results file, its journal, an HDF5 file or a sweep journal.
void refuse_sweep_files(const ExportCli& o, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& own : {o.results, storage::journal_path(o.results)}) {
    if (fs::equivalent(o.out, own, ec)) {
      throw ConfigError(what + "is " +
                        (own == o.results ? "the results file" : "the results file's journal") +
                        " being exported; write the tables to another file");
    }
  }
  std::ifstream in(o.out, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof head);
  const std::string_view signature(head, static_cast<size_t>(in.gcount()));
  if (signature == kHdf5Signature)
    throw ConfigError(what + "is an HDF5 file (a results file?); write the tables to another file");
  if (signature.size() == 8 && signature.substr(0, 7) == kJournalSignature && signature[7] >= '1' &&
      signature[7] <= '9') {
    throw ConfigError(what +
                      "is a sweep's journal (a results file's .journal); write the tables to "
                      "another file");
  }
}

// -o never lands on a results file, its journal (or any HDF5 file or journal) or a folder, and
// replaces an existing regular file only with --force: `export r.h5 -o r.h5` used to leave 1 KB
// of Markdown where the results were. Only a regular file is read for its signature: reading a
// pipe or FIFO (`-o /dev/stdout | cat`) blocks, and writing there replaces nothing.
Output check_output(const ExportCli& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto target = fs::status(o.out, ec);
  const std::string what = "-o " + o.out + ": ";
  if (const int fd = descriptor_of(o.out); fd >= 0) {
    // Opened by the shell (`-o /dev/stdout > t.md`): its file was chosen on purpose, but is
    // never a results file or journal (`>> r.h5`).
    if (fs::is_regular_file(target)) refuse_sweep_files(o, what);
    return {Output::Kind::descriptor, o.out, fd};
  }
  if (!fs::exists(target)) {
    const fs::path folder = fs::path(o.out).parent_path();
    if (!folder.empty() && !fs::is_directory(folder))
      throw ConfigError(what + "the folder " + folder.string() + " does not exist");
    return {Output::Kind::file, o.out};
  }
  if (fs::is_directory(target)) throw ConfigError(what + "is a folder; give a file name");
  if (fs::is_character_file(target) || fs::is_fifo(target)) return {Output::Kind::stream, o.out};
  if (!fs::is_regular_file(target))
    throw ConfigError(what + "is not a regular file, character device or FIFO; give a file name");
  refuse_sweep_files(o, what);
  if (!o.force) throw ConfigError(what + "already exists; add --force to replace it");
  // The rename would replace a symlink itself, not the file it points to: write that file.
  const bool link = fs::is_symlink(fs::symlink_status(o.out, ec));
  return {Output::Kind::file, link ? fs::canonical(o.out).string() : o.out};
}

// Writes all of `text` to `fd`; DataError naming `path` when it cannot.
void write_all(int fd, const std::string& path, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw DataError("cannot write " + path + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void write_output(const Output& to, const std::string& text) {
  if (to.kind == Output::Kind::file) return core::write_file_atomically(to.path, text);
  if (to.kind == Output::Kind::descriptor) return write_all(to.fd, to.path, text);
  // A device, pipe or FIFO: nothing to rename over or truncate. A FIFO waits for its reader.
  const int fd = ::open(to.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw DataError("cannot open " + to.path + ": " + std::strerror(errno));
  try {
    write_all(fd, to.path, text);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw DataError("cannot write " + to.path + ": " + std::strerror(errno));
}

}  // namespace

std::string export_format_name(const ExportCli& options) {
  if (!options.format.empty()) return options.format;  // explicit wins over -o's extension
  const std::string inferred = format_of_extension(options.out);
  return inferred.empty() ? "md" : inferred;
}

int export_verb(const ExportCli& options, std::ostream& out) {
  if (!options.kind.empty() && unique_names(options.tables).size() > 1)
    throw ConfigError("--kind describes one table: give at most one --table NAME for its title");
  const auto format = storage::parse_export_format(export_format_name(options));
  const Output to = options.out.empty() ? Output{} : check_output(options);
  const storage::ResultsReader reader(options.results);
  const std::string text = storage::export_tables(reader, requests(options, reader), format);
  if (options.out.empty()) {
    out << text;
    out.flush();
    // A full disk or a closed standard output must not pass for a written table.
    if (!out) throw DataError("export: could not write the table to standard output");
  } else {
    write_output(to, text);
  }
  return 0;
}

}  // namespace trm::launcher
