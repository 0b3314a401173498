// A JSON reader (RFC 8259) for the data sets' small metadata files: ARC's identifiers.json and
// test_puzzles.json, and each split's dataset.json. Hand-written because core builds where
// LibTorch is the only library (a GPU machine's CUDA LibTorch). Iterative where input can be long
// (strings, numbers, whitespace: no recursion per character), recursive only per nesting level,
// which is bounded. Objects keep their members in the file's order, as Python's json.load does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trm::core {

struct Json {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  double number = 0;
  std::string text;         // a string's value; a number's text as written (for exact integers)
  std::vector<Json> items;  // array elements
  std::vector<std::pair<std::string, Json>> fields;  // object members, in order
  size_t at = 0;                                     // byte offset where the value starts
};

// An object's member of that name: the last one when the name is there twice, as Python's
// json.load keeps; nullptr when there is none (or `object` is not an object).
const Json* member(const Json& object, const char* name);

class JsonParser {
 public:
  // `text` and `path` must outlive the parser; `path` names the file in errors.
  JsonParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  // The whole text as one JSON value; throws trm::DataError "PATH:LINE:COL: what" otherwise.
  Json parse();

  // Throws trm::DataError naming PATH:LINE:COL of byte offset `at` and `what`.
  [[noreturn]] void fail(size_t at, const std::string& what) const;

  static std::string where(const std::string& s, const std::string& path, size_t at);

 private:
  void space();
  Json value(int depth);
  bool peek(char c);
  void expect(char c);
  bool word(const char* w);
  static void utf8(std::string& out, uint32_t cp);
  uint32_t hex4();
  std::string string();

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

}  // namespace trm::core
