#include "core/reference_data.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <vector>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/json.h"

namespace trm::core {

namespace {

namespace fs = std::filesystem;

// ---- dataset.json: a flat object of numbers, null and one list of strings ----
// (PuzzleDatasetMetadata, written by pydantic's model_dump_json or json.dump.)

struct Metadata {
  std::string path;
  int64_t seq_len = 0, vocab_size = 0, num_puzzle_identifiers = 0;
  std::optional<int64_t> ignore_label_id;
  std::vector<std::string> sets;
};

std::string read_text(const std::string& path, const char* what) {
  if (const std::string why = why_not_a_file(path); !why.empty()) {
    throw DataError(path + ": " + why + " (" + what + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot read it (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An integer member of dataset.json: nullopt when absent or null (with `required`, an error).
// A number written with a fraction or exponent counts when its value is a whole number, as
// pydantic's int fields take 16.0; anything else (16.5, "16", true) is refused by name.
std::optional<int64_t> integer_member(const Json& root, const JsonParser& parser,
                                      const std::string& path, const char* key, bool required) {
  const Json* v = member(root, key);
  if (v == nullptr || v->kind == Json::Kind::null) {
    if (required) {
      throw DataError(path + ": no integer field '" + key +
                      "' (is this a dataset.json of the reference's format?)");
    }
    return std::nullopt;
  }
  const std::string shown = v->kind == Json::Kind::string ? "\"" + v->text + "\"" : v->text;
  if (v->kind != Json::Kind::number) {
    parser.fail(v->at, std::string(key) + ": expected an integer, not " +
                           (v->kind == Json::Kind::string    ? "a string"
                            : v->kind == Json::Kind::boolean ? "a boolean"
                            : v->kind == Json::Kind::array   ? "a list"
                                                             : "an object"));
  }
  if (v->text.find_first_of(".eEIN") == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    const long long n = std::strtoll(v->text.c_str(), &end, 10);
    if (errno == ERANGE || end != v->text.c_str() + v->text.size()) {
      parser.fail(v->at, std::string(key) + " = " + shown + ": out of range");
    }
    return static_cast<int64_t>(n);
  }
  if (!std::isfinite(v->number) || v->number != std::floor(v->number)) {
    parser.fail(v->at, std::string(key) + " = " + shown + ": expected an integer");
  }
  if (std::fabs(v->number) >= 9.0e15)
    parser.fail(v->at, std::string(key) + " = " + shown + ": out of range");
  return static_cast<int64_t>(v->number);
}

Metadata read_metadata(const std::string& split_dir) {
  Metadata m;
  m.path = split_dir + "/dataset.json";
  const std::string text =
      read_text(m.path, "the split's metadata, as the reference's dataset builders write it");
  JsonParser parser(text, m.path);
  const Json root = parser.parse();
  if (root.kind != Json::Kind::object) {
    parser.fail(root.at, "not a JSON object (the reference writes one of named fields)");
  }
  auto integer = [&](const char* key, int64_t lo) {
    const int64_t n = *integer_member(root, parser, m.path, key, /*required=*/true);
    if (n < lo) {
      throw DataError(m.path + ": " + key + " = " + std::to_string(n) +
                      ": must be >= " + std::to_string(lo));
    }
    return n;
  };
  m.seq_len = integer("seq_len", 1);
  m.vocab_size = integer("vocab_size", 1);
  m.num_puzzle_identifiers = integer("num_puzzle_identifiers", 1);
  if (m.vocab_size > 256) {
    throw DataError(m.path + ": vocab_size = " + std::to_string(m.vocab_size) +
                    ": at most 256 tokens are supported (the examples are stored as bytes)");
  }
  // Token 0 is the padding (inputs and labels), the ignored label and puzzle id 0 the blank
  // identifier in every reference data set, and the trainer pads with them: other values are
  // refused rather than silently trained on.
  for (const char* key : {"ignore_label_id", "pad_id", "blank_identifier_id"}) {
    const auto value = integer_member(root, parser, m.path, key, /*required=*/false);
    if (!value) continue;
    if (*value != 0) {
      throw DataError(m.path + ": " + key + " = " + std::to_string(*value) +
                      ": only 0 (or null) is supported, as every reference data set writes it");
    }
    if (std::string(key) == "ignore_label_id") m.ignore_label_id = 0;
  }
  // The counts the reader does not need are still checked for their type, as the reference's
  // pydantic model does.
  for (const char* key : {"total_groups", "total_puzzles"})
    (void)integer_member(root, parser, m.path, key, /*required=*/false);
  if (const Json* mean = member(root, "mean_puzzle_examples");
      mean != nullptr && mean->kind != Json::Kind::number && mean->kind != Json::Kind::null) {
    parser.fail(mean->at, "mean_puzzle_examples: expected a number");
  }
  const Json* sets = member(root, "sets");
  if (sets == nullptr || sets->kind != Json::Kind::array || sets->items.empty()) {
    throw DataError(m.path +
                    ": no \"sets\" list naming the arrays' sets (the reference writes "
                    "\"sets\": [\"all\"])");
  }
  for (const Json& set : sets->items) {
    if (set.kind != Json::Kind::string || set.text.empty() ||
        set.text.find_first_of("/\\") != std::string::npos || set.text.size() > 200) {
      parser.fail(set.at,
                  "sets: each set is a file-name prefix in quotes (such as \"all\"), at most "
                  "200 characters, without '/' or '\\'");
    }
    m.sets.push_back(set.text);
  }
  return m;
}

// ---- .npy (NumPy's format, versions 1-3): little-endian integer arrays in C order ----

struct NpyHeader {
  std::string path;
  char kind = 0;  // 'i' signed, 'u' unsigned, 'b' boolean
  int64_t item_bytes = 0;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;

  int64_t count() const {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    return n;
  }
  std::string shape_text() const {
    std::string s = "(";
    for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + (shape.size() == 1 ? ",)" : ")");
  }
};

// The header's Python dict literal, as NumPy writes it: {'descr': '<i4', 'fortran_order':
// False, 'shape': (15, 16), } (keys in either quotes, any order, spaces anywhere). Read by hand,
// one character at a time: the header can be up to a MiB long.
struct NpyDict {
  std::optional<std::string> descr;
  bool fortran_order = false;
  std::optional<std::vector<int64_t>> shape;
};

NpyDict parse_npy_dict(const std::string& h, const std::string& path) {
  size_t i = 0;
  auto bad = [&](const std::string& what) -> void {
    throw DataError(path + ": damaged .npy header at byte " + std::to_string(i) + ": " + what);
  };
  auto space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\n' || h[i] == '\t' || h[i] == '\r')) ++i;
  };
  auto take = [&](char c) {
    space();
    if (i < h.size() && h[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  auto quoted = [&]() -> std::string {
    space();
    if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) bad("expected a quoted string");
    const char q = h[i++];
    const size_t start = i;
    while (i < h.size() && h[i] != q) ++i;
    if (i >= h.size()) bad("a string that never ends");
    return h.substr(start, i++ - start);
  };
  auto integer = [&]() -> int64_t {
    space();
    if (i < h.size() && h[i] == '-') bad("a negative dimension in 'shape'");
    if (i >= h.size() || h[i] < '0' || h[i] > '9') bad("expected a dimension in 'shape'");
    if (h[i] == '0' && i + 1 < h.size() && h[i + 1] >= '0' && h[i + 1] <= '9')
      bad("a dimension of 'shape' with a leading zero");
    int64_t n = 0;
    while (i < h.size() && h[i] >= '0' && h[i] <= '9') {
      if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, h[i] - '0', &n))
        bad("a dimension of 'shape' out of range");
      ++i;
    }
    if (i < h.size() && h[i] == 'L') ++i;  // Python 2's long
    return n;
  };
  NpyDict d;
  bool fortran_given = false;
  if (!take('{')) bad("expected '{'");
  while (!take('}')) {
    const std::string key = quoted();
    if (!take(':')) bad("expected ':' after '" + key + "'");
    if (key == "descr") {
      d.descr = quoted();
    } else if (key == "fortran_order") {
      fortran_given = true;
      space();
      if (h.compare(i, 4, "True") == 0) {
        d.fortran_order = true;
        i += 4;
      } else if (h.compare(i, 5, "False") == 0) {
        i += 5;
      } else {
        bad("'fortran_order' is neither True nor False");
      }
    } else if (key == "shape") {
      if (!take('(')) bad("'shape' is not a tuple");
      std::vector<int64_t> dims;
      while (!take(')')) {
        dims.push_back(integer());
        if (!take(',')) {
          if (!take(')')) bad("expected ',' or ')' in 'shape'");
          break;
        }
      }
      d.shape = std::move(dims);
    } else {
      bad("unexpected key '" + key + "' (a .npy header has descr, fortran_order and shape)");
    }
    if (!take(',')) {
      if (!take('}')) bad("expected ',' or '}'");
      break;
    }
  }
  space();
  if (i != h.size()) bad("text after the header's dict");
  if (!fortran_given) bad("no 'fortran_order' (NumPy's header has descr, fortran_order and shape)");
  return d;
}

NpyHeader read_npy_header(const std::string& path, std::ifstream& in) {
  NpyHeader h;
  h.path = path;
  std::error_code ec;
  if (const std::string why = why_not_a_file(path); !why.empty()) {
    throw DataError(path + ": " + why + " (an array of the reference's data format)");
  }
  in.open(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot read it (" + std::strerror(errno) + ")");
  std::array<char, 12> lead{};
  in.read(lead.data(), 10);
  if (in.gcount() != 10 || std::memcmp(lead.data(), "\x93NUMPY", 6) != 0) {
    throw DataError(path + ": not a NumPy .npy file (no \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(lead[6]);
  int64_t header_len = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(lead[8]) | (static_cast<unsigned char>(lead[9]) << 8);
    h.data_offset = 10 + header_len;
  } else if (major == 2 || major == 3) {
    in.read(lead.data() + 10, 2);
    if (in.gcount() != 2) throw DataError(path + ": truncated .npy header");
    for (int k = 3; k >= 0; --k)
      header_len = header_len << 8 | static_cast<unsigned char>(lead[8 + k]);
    h.data_offset = 12 + header_len;
  } else {
    throw DataError(path + ": .npy format version " + std::to_string(major) +
                    " (versions 1 to 3 are read)");
  }
  if (header_len <= 0 || header_len > (1 << 20)) throw DataError(path + ": damaged .npy header");
  std::string header(static_cast<size_t>(header_len), '\0');
  in.read(header.data(), header_len);
  if (in.gcount() != header_len) throw DataError(path + ": truncated .npy header");

  const NpyDict dict = parse_npy_dict(header, path);
  if (!dict.descr) throw DataError(path + ": .npy header without 'descr'");
  // A byte order may be left out ('u1', '<i4' written 'i4'): the machine's, little-endian here.
  const std::string descr = dict.descr->size() == 2 ? "=" + *dict.descr : *dict.descr;
  if (descr.size() != 3 || std::string("<>|=").find(descr[0]) == std::string::npos ||
      std::string("iub").find(descr[1]) == std::string::npos ||
      std::string("1248").find(descr[2]) == std::string::npos) {
    throw DataError(
        path + ": dtype '" + descr +
        "': the reference's arrays are integers (such as uint8, int32, int64: '|u1', '<i4', "
        "'<i8'); this one is not");
  }
  h.kind = descr[1];
  h.item_bytes = descr[2] - '0';
  if (descr[0] == '>' && h.item_bytes > 1) {
    throw DataError(path + ": dtype '" + descr + "' is big-endian; save it little-endian");
  }
  if (dict.fortran_order) {
    // Only a problem for more than one dimension with more than one row and column; refuse all.
    throw DataError(path + ": stored in Fortran order; save it in C order (np.ascontiguousarray)");
  }
  if (!dict.shape) throw DataError(path + ": .npy header without 'shape'");
  h.shape = *dict.shape;
  int64_t bytes = h.item_bytes;
  for (const int64_t d : h.shape) {
    if (d > (int64_t{1} << 40) || __builtin_mul_overflow(bytes, d, &bytes) ||
        bytes > (int64_t{1} << 50)) {
      throw DataError(path + ": shape " + h.shape_text() + ": too large");
    }
  }
  const auto size = fs::file_size(path, ec);
  if (ec || static_cast<int64_t>(size) < h.data_offset + h.count() * h.item_bytes) {
    throw DataError(path + ": truncated: shape " + h.shape_text() + " of " +
                    std::to_string(h.item_bytes) + "-byte items needs " +
                    std::to_string(h.data_offset + h.count() * h.item_bytes) +
                    " bytes, the file has " + std::to_string(ec ? 0 : size));
  }
  return h;
}

NpyHeader npy_header(const std::string& path) {
  std::ifstream in;
  return read_npy_header(path, in);
}

// The whole array as T, each value checked to lie in [lo, hi].
template <class T>
std::vector<T> read_npy(const std::string& path, int64_t lo, int64_t hi, const char* what,
                        NpyHeader* header_out = nullptr) {
  std::ifstream in;
  const NpyHeader h = read_npy_header(path, in);
  const int64_t n = h.count();
  std::vector<T> out(static_cast<size_t>(n));
  std::vector<char> chunk;
  const int64_t per_chunk = std::max<int64_t>(1, (int64_t{1} << 22) / h.item_bytes);
  for (int64_t first = 0; first < n; first += per_chunk) {
    const int64_t count = std::min(per_chunk, n - first);
    chunk.resize(static_cast<size_t>(count * h.item_bytes));
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (in.gcount() != static_cast<std::streamsize>(chunk.size()))
      throw DataError(path + ": truncated");
    for (int64_t k = 0; k < count; ++k) {
      const unsigned char* p =
          reinterpret_cast<const unsigned char*>(chunk.data()) + k * h.item_bytes;
      uint64_t bits = 0;
      for (int64_t b = h.item_bytes - 1; b >= 0; --b) bits = bits << 8 | p[b];
      int64_t value = 0;
      bool fits = true;
      if (h.kind == 'i' && h.item_bytes < 8) {
        const uint64_t sign = uint64_t{1} << (8 * h.item_bytes - 1);
        value = static_cast<int64_t>((bits ^ sign) - sign);
      } else if (h.kind == 'u' && h.item_bytes == 8) {
        fits = bits <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        value = static_cast<int64_t>(bits);
      } else {
        value = static_cast<int64_t>(bits);
      }
      if (!fits || value < lo || value > hi) {
        throw DataError(path + ": element " + std::to_string(first + k) + " = " +
                        (fits ? std::to_string(value) : std::to_string(bits)) + ": " + what +
                        " must lie in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      }
      out[static_cast<size_t>(first + k)] = static_cast<T>(value);
    }
  }
  if (header_out != nullptr) *header_out = h;
  return out;
}

// CSR offsets: start at 0, never decrease (with `strict`, always increase: no empty entry),
// end at `end`.
void check_offsets(const std::string& path, const std::vector<int32_t>& v, int64_t end,
                   const std::string& end_what, bool strict) {
  if (v.empty() || v.front() != 0) throw DataError(path + ": the offsets must start at 0");
  for (size_t k = 1; k < v.size(); ++k) {
    if (v[k] < v[k - 1] || (strict && v[k] == v[k - 1])) {
      throw DataError(path + ": element " + std::to_string(k) + " = " + std::to_string(v[k]) +
                      " after element " + std::to_string(k - 1) + " = " + std::to_string(v[k - 1]) +
                      (strict ? ": the offsets must increase (a group holds at least one puzzle)"
                              : ": the offsets must not decrease"));
    }
  }
  if (v.back() != end) {
    throw DataError(path + ": the last offset is " + std::to_string(v.back()) + ", but " +
                    end_what + " has " + std::to_string(end));
  }
}

std::string array_path(const std::string& split_dir, const std::string& set, const char* name) {
  return split_dir + "/" + set + "__" + name + ".npy";
}

ReferenceSplitShape split_shape(const std::string& split_dir) {
  const Metadata m = read_metadata(split_dir);
  ReferenceSplitShape s;
  s.seq_len = m.seq_len;
  s.vocab_size = m.vocab_size;
  s.num_puzzle_identifiers = m.num_puzzle_identifiers;
  for (const auto& set : m.sets) {
    const NpyHeader inputs = npy_header(array_path(split_dir, set, "inputs"));
    if (inputs.shape.size() != 2 || inputs.shape[1] != m.seq_len) {
      throw DataError(inputs.path + ": shape " + inputs.shape_text() + ", expected (examples, " +
                      std::to_string(m.seq_len) + ") as " + m.path + "'s seq_len says");
    }
    s.examples += inputs.shape[0];
    const NpyHeader puzzles = npy_header(array_path(split_dir, set, "puzzle_identifiers"));
    const NpyHeader groups = npy_header(array_path(split_dir, set, "group_indices"));
    if (puzzles.shape.size() != 1 || groups.shape.size() != 1 || groups.shape[0] < 1) {
      throw DataError(split_dir + ": " + set + "__puzzle_identifiers.npy and " + set +
                      "__group_indices.npy must be one-dimensional (shapes " +
                      puzzles.shape_text() + ", " + groups.shape_text() + ")");
    }
    s.puzzles += puzzles.shape[0];
    s.groups += groups.shape[0] - 1;
  }
  if (s.examples > std::numeric_limits<int32_t>::max()) {
    throw DataError(split_dir + ": " + std::to_string(s.examples) +
                    " examples: at most 2^31 - 1 are supported (int32 offsets, as the reference)");
  }
  return s;
}

// A .npy file (format 1.0) of one array in C order.
template <class T>
void write_npy(const std::string& path, const char* descr, const std::vector<int64_t>& shape,
               const std::vector<T>& values) {
  std::string dims;
  for (size_t k = 0; k < shape.size(); ++k) dims += (k ? ", " : "") + std::to_string(shape[k]);
  if (shape.size() == 1) dims += ",";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // The data starts at a multiple of 64 bytes; the header ends with a newline.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  for (const T v : values) {  // little-endian
    auto bits = static_cast<std::make_unsigned_t<T>>(v);
    for (size_t b = 0; b < sizeof(T); ++b, bits = static_cast<decltype(bits)>(bits >> 4 >> 4))
      bytes += static_cast<char>(bits & 0xFF);
  }
  write_file_atomically(path, bytes);
}

void write_split(const PuzzleArrays& a, const std::string& split_dir) {
  std::error_code ec;
  fs::create_directories(split_dir, ec);
  if (ec) throw DataError(split_dir + ": cannot create this folder (" + ec.message() + ")");
  const std::vector<int64_t> grid{a.num_examples(), a.seq_len};
  write_npy(split_dir + "/all__inputs.npy", "|u1", grid, a.inputs);
  write_npy(split_dir + "/all__labels.npy", "|u1", grid, a.labels);
  write_npy(split_dir + "/all__puzzle_identifiers.npy", "<i4", {a.num_puzzles()},
            a.puzzle_identifiers);
  write_npy(split_dir + "/all__puzzle_indices.npy", "<i4",
            {static_cast<int64_t>(a.puzzle_indices.size())}, a.puzzle_indices);
  write_npy(split_dir + "/all__group_indices.npy", "<i4",
            {static_cast<int64_t>(a.group_indices.size())}, a.group_indices);
  int32_t max_id = 0;
  for (const int32_t id : a.puzzle_identifiers) max_id = std::max(max_id, id);
  const double mean_examples = a.num_puzzles() > 0 ? static_cast<double>(a.num_examples()) /
                                                         static_cast<double>(a.num_puzzles())
                                                   : 0.0;
  std::ostringstream json;
  json.precision(17);
  json << "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, "
       << "\"vocab_size\": " << a.vocab_size << ", \"seq_len\": " << a.seq_len
       << ", \"num_puzzle_identifiers\": " << max_id + 1 << ", \"total_groups\": " << a.num_groups()
       << ", \"mean_puzzle_examples\": " << mean_examples
       << ", \"total_puzzles\": " << a.num_puzzles() << ", \"sets\": [\"all\"]}";
  write_file_atomically(split_dir + "/dataset.json", json.str());
}

}  // namespace

void write_reference_data(const PuzzleArrays& train, const PuzzleArrays& test,
                          const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw DataError(dir + ": a file has this name; give a folder");
    if (!fs::is_empty(dir, ec)) {
      throw DataError(dir + ": not empty; give a new or empty folder (nothing is overwritten)");
    }
  }
  fs::create_directories(dir, ec);
  if (ec) throw DataError(dir + ": cannot create this folder (" + ec.message() + ")");
  write_split(train, dir + "/train");
  write_split(test, dir + "/test");
  int32_t max_id = 0;
  for (const auto* a : {&train, &test})
    for (const int32_t id : a->puzzle_identifiers) max_id = std::max(max_id, id);
  std::string ids = "[\"<blank>\"";
  for (int32_t k = 1; k <= max_id; ++k) ids += ", \"puzzle_" + std::to_string(k) + "\"";
  write_file_atomically(dir + "/identifiers.json", ids + "]");
}

ReferenceDataShape reference_data_shape(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError(dir + ": " + (fs::exists(dir, ec) ? "not a folder" : "no such folder") +
                    " (a data set in the reference's format: train/ and test/ with "
                    "dataset.json and the .npy arrays)");
  }
  ReferenceDataShape shape{split_shape(dir + "/train"), split_shape(dir + "/test")};
  const auto& a = shape.train;
  const auto& b = shape.test;
  if (a.seq_len != b.seq_len || a.vocab_size != b.vocab_size) {
    throw DataError(dir + ": train/ has seq_len " + std::to_string(a.seq_len) + " and vocab_size " +
                    std::to_string(a.vocab_size) + ", test/ " + std::to_string(b.seq_len) +
                    " and " + std::to_string(b.vocab_size) + ": the splits must agree");
  }
  if (a.examples < 1 || a.groups < 1) throw DataError(dir + "/train: the split has no examples");
  if (b.examples < 1) throw DataError(dir + "/test: the split has no examples");
  return shape;
}

PuzzleArrays load_reference_split(const std::string& split_dir, const std::function<bool()>& stop) {
  const Metadata m = read_metadata(split_dir);
  auto check_stop = [&] {
    if (stop && stop()) throw Stopped("stopped while reading the data set");
  };
  PuzzleArrays out;
  out.seq_len = m.seq_len;
  out.vocab_size = m.vocab_size;
  out.puzzle_indices = {0};
  out.group_indices = {0};
  const int64_t max_token = m.vocab_size - 1;
  for (const auto& set : m.sets) {
    check_stop();
    NpyHeader shape;
    auto inputs = read_npy<uint8_t>(array_path(split_dir, set, "inputs"), 0, max_token,
                                    "a token (dataset.json's vocab_size bounds it)", &shape);
    if (shape.shape.size() != 2 || shape.shape[1] != m.seq_len) {
      throw DataError(shape.path + ": shape " + shape.shape_text() + ", expected (examples, " +
                      std::to_string(m.seq_len) + ") as " + m.path + "'s seq_len says");
    }
    const int64_t examples = shape.shape[0];
    check_stop();
    NpyHeader label_shape;
    auto labels =
        read_npy<uint8_t>(array_path(split_dir, set, "labels"), 0, max_token,
                          "a label token (dataset.json's vocab_size bounds it)", &label_shape);
    if (label_shape.shape != shape.shape) {
      throw DataError(label_shape.path + ": shape " + label_shape.shape_text() +
                      ", but the inputs' is " + shape.shape_text());
    }
    if (!m.ignore_label_id && std::find(labels.begin(), labels.end(), 0) != labels.end()) {
      // Label 0 is "ignore" here, as in every reference data set; with ignore_label_id null
      // the reference would supervise it.
      throw DataError(label_shape.path + ": labels of 0 with " + m.path +
                      "'s ignore_label_id null: 0 is read as \"ignore\"; set ignore_label_id to 0");
    }
    check_stop();
    NpyHeader ids_shape, pi_shape, gi_shape;
    const auto ids = read_npy<int32_t>(
        array_path(split_dir, set, "puzzle_identifiers"), 0, m.num_puzzle_identifiers - 1,
        "a puzzle id (dataset.json's num_puzzle_identifiers bounds it)", &ids_shape);
    const auto puzzle_indices =
        read_npy<int32_t>(array_path(split_dir, set, "puzzle_indices"), 0,
                          std::numeric_limits<int32_t>::max(), "an offset", &pi_shape);
    const auto group_indices =
        read_npy<int32_t>(array_path(split_dir, set, "group_indices"), 0,
                          std::numeric_limits<int32_t>::max(), "an offset", &gi_shape);
    for (const NpyHeader* one : {&ids_shape, &pi_shape, &gi_shape}) {
      if (one->shape.size() != 1) {
        throw DataError(one->path + ": shape " + one->shape_text() +
                        ": must be one-dimensional, as the reference writes it");
      }
    }
    const std::string pi_path = array_path(split_dir, set, "puzzle_indices");
    const std::string gi_path = array_path(split_dir, set, "group_indices");
    if (puzzle_indices.size() != ids.size() + 1) {
      throw DataError(pi_path + ": " + std::to_string(puzzle_indices.size()) +
                      " offsets, but there are " + std::to_string(ids.size()) +
                      " puzzle identifiers: expected one more offset than puzzles");
    }
    check_offsets(pi_path, puzzle_indices, examples, set + "__inputs.npy", false);
    check_offsets(gi_path, group_indices, static_cast<int64_t>(ids.size()),
                  set + "__puzzle_identifiers.npy", true);
    // Joined after the sets before: offsets move by what those held.
    const auto example_base = static_cast<int32_t>(out.num_examples());
    const auto puzzle_base = static_cast<int32_t>(out.puzzle_identifiers.size());
    for (size_t k = 1; k < puzzle_indices.size(); ++k)
      out.puzzle_indices.push_back(puzzle_indices[k] + example_base);
    for (size_t k = 1; k < group_indices.size(); ++k)
      out.group_indices.push_back(group_indices[k] + puzzle_base);
    out.puzzle_identifiers.insert(out.puzzle_identifiers.end(), ids.begin(), ids.end());
    if (out.inputs.empty()) {
      out.inputs = std::move(inputs);
      out.labels = std::move(labels);
    } else {
      out.inputs.insert(out.inputs.end(), inputs.begin(), inputs.end());
      out.labels.insert(out.labels.end(), labels.begin(), labels.end());
    }
  }
  return out;
}

}  // namespace trm::core
