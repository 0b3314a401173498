#include "core/json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/errors.h"

namespace trm::core {

const Json* member(const Json& object, const char* name) {
  const Json* found = nullptr;
  for (const auto& [key, value] : object.fields) {
    if (key == name) found = &value;
  }
  return found;
}

Json JsonParser::parse() {
  if (s_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    fail(0,
         "a UTF-8 byte-order mark at the start (Python's json.load refuses it too); save the "
         "file without one");
  }
  Json v = value(0);
  space();
  if (i_ != s_.size()) fail(i_, "text after the JSON value");
  return v;
}

void JsonParser::fail(size_t at, const std::string& what) const {
  throw DataError(where(s_, path_, at) + ": " + what);
}

std::string JsonParser::where(const std::string& s, const std::string& path, size_t at) {
  int64_t line = 1, col = 1;
  for (size_t k = 0; k < at && k < s.size(); ++k) {
    if (s[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return path + ":" + std::to_string(line) + ":" + std::to_string(col);
}

void JsonParser::space() {
  while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
    ++i_;
}

Json JsonParser::value(int depth) {
  if (depth > 64) fail(i_, "nested deeper than 64 levels");
  space();
  if (i_ >= s_.size()) fail(i_, "the file ends where a value should be");
  Json v;
  v.at = i_;
  const char c = s_[i_];
  if (c == '{') {
    v.kind = Json::Kind::object;
    ++i_;
    space();
    if (peek('}')) return v;
    for (;;) {
      space();
      if (i_ >= s_.size() || s_[i_] != '"') fail(i_, "expected a member name in quotes");
      std::string name = string();
      space();
      expect(':');
      v.fields.emplace_back(std::move(name), value(depth + 1));
      space();
      if (peek('}')) return v;
      expect(',');
    }
  }
  if (c == '[') {
    v.kind = Json::Kind::array;
    ++i_;
    space();
    if (peek(']')) return v;
    for (;;) {
      v.items.push_back(value(depth + 1));
      space();
      if (peek(']')) return v;
      expect(',');
    }
  }
  if (c == '"') {
    v.kind = Json::Kind::string;
    v.text = string();
    return v;
  }
  if (word("true") || word("false")) {
    v.kind = Json::Kind::boolean;
    v.number = s_[v.at] == 't';
    return v;
  }
  if (word("null")) return v;
  // Python's json.dump writes these for non-finite floats, and json.load reads them.
  if (word("NaN") || word("Infinity") || word("-Infinity")) {
    v.kind = Json::Kind::number;
    v.text = s_.substr(v.at, i_ - v.at);
    v.number = s_[v.at] == 'N'   ? std::numeric_limits<double>::quiet_NaN()
               : s_[v.at] == '-' ? -std::numeric_limits<double>::infinity()
                                 : std::numeric_limits<double>::infinity();
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    const size_t start = i_;
    if (s_[i_] == '-') ++i_;
    while (i_ < s_.size() && std::strchr("0123456789.eE+-", s_[i_]) != nullptr) ++i_;
    const std::string digits = s_.substr(start, i_ - start);
    // JSON's grammar: no leading zero before another digit ("016"), a digit after '-'.
    const size_t lead = digits[0] == '-' ? 1 : 0;
    const bool grammar = digits.size() > lead && digits[lead] >= '0' && digits[lead] <= '9' &&
                         !(digits[lead] == '0' && digits.size() > lead + 1 &&
                           digits[lead + 1] >= '0' && digits[lead + 1] <= '9');
    char* end = nullptr;
    v.number = std::strtod(digits.c_str(), &end);
    // Past the range of a double, Python's json reads inf (1e400) or 0 (1e-400): so does this.
    if (!grammar || end != digits.c_str() + digits.size()) {
      fail(start, "'" + (digits.size() > 40 ? digits.substr(0, 40) + "..." : digits) +
                      "' is not a number");
    }
    v.kind = Json::Kind::number;
    v.text = digits;
    return v;
  }
  fail(i_, std::string("unexpected character '") + c + "'");
}

bool JsonParser::peek(char c) {
  if (i_ < s_.size() && s_[i_] == c) {
    ++i_;
    return true;
  }
  return false;
}

void JsonParser::expect(char c) {
  if (!peek(c)) fail(i_, std::string("expected '") + c + "'");
}

bool JsonParser::word(const char* w) {
  const size_t n = std::strlen(w);
  if (s_.compare(i_, n, w) != 0) return false;
  i_ += n;
  return true;
}

void JsonParser::utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

uint32_t JsonParser::hex4() {
  if (i_ + 4 > s_.size()) fail(i_, "a \\u escape needs four hex digits");
  uint32_t cp = 0;
  for (int k = 0; k < 4; ++k) {
    const char h = s_[i_++];
    cp <<= 4;
    if (h >= '0' && h <= '9') {
      cp |= static_cast<uint32_t>(h - '0');
    } else if (h >= 'a' && h <= 'f') {
      cp |= static_cast<uint32_t>(h - 'a' + 10);
    } else if (h >= 'A' && h <= 'F') {
      cp |= static_cast<uint32_t>(h - 'A' + 10);
    } else {
      fail(i_ - 1, "a \\u escape needs four hex digits");
    }
  }
  return cp;
}

std::string JsonParser::string() {
  const size_t start = i_++;
  std::string out;
  for (;;) {
    if (i_ >= s_.size()) fail(start, "a string that never ends");
    const char c = s_[i_++];
    if (c == '"') return out;
    if (static_cast<unsigned char>(c) < 0x20) fail(i_ - 1, "a control character in a string");
    if (static_cast<unsigned char>(c) >= 0x80) {
      // UTF-8: a lead byte and its continuation bytes (Python reads the file as UTF-8).
      const auto b = static_cast<unsigned char>(c);
      size_t more = 0;
      if (b >= 0xC2 && b <= 0xDF) {
        more = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        more = 2;
      } else if (b >= 0xF0 && b <= 0xF4) {
        more = 3;
      } else {
        fail(i_ - 1, "a byte that is not UTF-8 in a string");
      }
      for (size_t k = 0; k < more; ++k) {
        if (i_ + k >= s_.size() || (static_cast<unsigned char>(s_[i_ + k]) & 0xC0) != 0x80)
          fail(i_ - 1, "a byte that is not UTF-8 in a string");
      }
      out.append(s_, i_ - 1, more + 1);
      i_ += more;
      continue;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i_ >= s_.size()) fail(start, "a string that never ends");
    const char e = s_[i_++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = hex4();
        if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(i_, 2, "\\u") == 0) {
          i_ += 2;
          const uint32_t low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) fail(i_ - 6, "an unpaired surrogate in \\u escapes");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        utf8(out, cp);
        break;
      }
      default:
        fail(i_ - 1, std::string("unknown escape '\\") + e + "'");
    }
  }
}

}  // namespace trm::core
