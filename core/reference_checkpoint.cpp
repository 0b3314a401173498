#include "core/reference_checkpoint.h"

#include <ATen/core/ivalue.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/crc32.h"
#include "core/errors.h"

namespace trm::core {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw trm::DataError("cannot read torch.save file '" + path + "': " + what);
}

// Pickle opcodes (Python's pickle module, protocols 0 to 5).
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kFloat = 'F',
  kInt = 'I',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kLong = 'L',
  kBinInt2 = 'M',
  kNone = 'N',
  kPersId = 'P',
  kBinPersId = 'Q',
  kReduce = 'R',
  kString = 'S',
  kBinString = 'T',
  kShortBinString = 'U',
  kUnicode = 'V',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kGet = 'g',
  kBinGet = 'h',
  kInst = 'i',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kObj = 'o',
  kPut = 'p',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kProto = 0x80,
  kNewObj = 0x81,
  kExt1 = 0x82,
  kExt2 = 0x83,
  kExt4 = 0x84,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kNewObjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  kByteArray8 = 0x96,
  kNextBuffer = 0x97,
  kReadonlyBuffer = 0x98,
};

// Names as Python's pickletools prints them, so an error names the opcode a user can look up.
const char* opcode_name(uint8_t code) {
  switch (code) {
    case kMark: return "MARK";
    case kStop: return "STOP";
    case kPop: return "POP";
    case kPopMark: return "POP_MARK";
    case kDup: return "DUP";
    case kFloat: return "FLOAT";
    case kInt: return "INT";
    case kBinInt: return "BININT";
    case kBinInt1: return "BININT1";
    case kLong: return "LONG";
    case kBinInt2: return "BININT2";
    case kNone: return "NONE";
    case kPersId: return "PERSID";
    case kBinPersId: return "BINPERSID";
    case kReduce: return "REDUCE";
    case kString: return "STRING";
    case kBinString: return "BINSTRING";
    case kShortBinString: return "SHORT_BINSTRING";
    case kUnicode: return "UNICODE";
    case kBinUnicode: return "BINUNICODE";
    case kAppend: return "APPEND";
    case kBuild: return "BUILD";
    case kGlobal: return "GLOBAL";
    case kDict: return "DICT";
    case kEmptyDict: return "EMPTY_DICT";
    case kAppends: return "APPENDS";
    case kGet: return "GET";
    case kBinGet: return "BINGET";
    case kInst: return "INST";
    case kLongBinGet: return "LONG_BINGET";
    case kList: return "LIST";
    case kEmptyList: return "EMPTY_LIST";
    case kObj: return "OBJ";
    case kPut: return "PUT";
    case kBinPut: return "BINPUT";
    case kLongBinPut: return "LONG_BINPUT";
    case kSetItem: return "SETITEM";
    case kTuple: return "TUPLE";
    case kEmptyTuple: return "EMPTY_TUPLE";
    case kSetItems: return "SETITEMS";
    case kBinFloat: return "BINFLOAT";
    case kProto: return "PROTO";
    case kNewObj: return "NEWOBJ";
    case kExt1: return "EXT1";
    case kExt2: return "EXT2";
    case kExt4: return "EXT4";
    case kTuple1: return "TUPLE1";
    case kTuple2: return "TUPLE2";
    case kTuple3: return "TUPLE3";
    case kNewTrue: return "NEWTRUE";
    case kNewFalse: return "NEWFALSE";
    case kLong1: return "LONG1";
    case kLong4: return "LONG4";
    case kBinBytes: return "BINBYTES";
    case kShortBinBytes: return "SHORT_BINBYTES";
    case kShortBinUnicode: return "SHORT_BINUNICODE";
    case kBinUnicode8: return "BINUNICODE8";
    case kBinBytes8: return "BINBYTES8";
    case kEmptySet: return "EMPTY_SET";
    case kAddItems: return "ADDITEMS";
    case kFrozenSet: return "FROZENSET";
    case kNewObjEx: return "NEWOBJ_EX";
    case kStackGlobal: return "STACK_GLOBAL";
    case kMemoize: return "MEMOIZE";
    case kFrame: return "FRAME";
    case kByteArray8: return "BYTEARRAY8";
    case kNextBuffer: return "NEXT_BUFFER";
    case kReadonlyBuffer: return "READONLY_BUFFER";
    default: return "(not a pickle opcode)";
  }
}

// torch.<Name>Storage globals that a state dict can hold. Quantized storages are left out: their
// tensors need _rebuild_qtensor, which a checkpoint of this project never contains.
bool storage_scalar_type(const std::string& class_name, c10::ScalarType* type) {
  static const std::pair<const char*, c10::ScalarType> kStorages[] = {
      {"FloatStorage", c10::kFloat},
      {"DoubleStorage", c10::kDouble},
      {"HalfStorage", c10::kHalf},
      {"BFloat16Storage", c10::kBFloat16},
      {"LongStorage", c10::kLong},
      {"IntStorage", c10::kInt},
      {"ShortStorage", c10::kShort},
      {"CharStorage", c10::kChar},
      {"ByteStorage", c10::kByte},
      {"BoolStorage", c10::kBool},
      {"ComplexFloatStorage", c10::kComplexFloat},
      {"ComplexDoubleStorage", c10::kComplexDouble},
  };
  for (const auto& [name, scalar_type] : kStorages) {
    if (class_name == name) {
      *type = scalar_type;
      return true;
    }
  }
  return false;
}

// A value of the pickle, as far as the rewrite needs to know it. A memo reference becomes a second
// pointer to the same node, so dropping a subtree never leaves a dangling memo index behind: the
// writer memoizes whatever is still referenced twice, under fresh indices.
struct Node {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kGlobal,
    kTuple,
    kList,
    kDict,
    kCall,
    kPersistentId
  };
  Kind kind = Kind::kNone;
  int64_t int_value = 0;  // kInt, kBool
  std::string text;       // kString: the UTF-8 bytes; kGlobal: module; kFloat: BINFLOAT's 8 bytes
  std::string name;       // kGlobal: attribute name
  // kTuple/kList: elements; kDict: key, value, key, value, ...; kCall: callable, argument tuple;
  // kPersistentId: the id tuple.
  std::vector<Node*> items;
};

// The kind of a value as an error message names it.
const char* describe(Node::Kind kind) {
  switch (kind) {
    case Node::Kind::kNone: return "None";
    case Node::Kind::kBool: return "a bool";
    case Node::Kind::kInt: return "an int";
    case Node::Kind::kFloat: return "a float";
    case Node::Kind::kString: return "a str";
    case Node::Kind::kGlobal: return "a Python global";
    case Node::Kind::kTuple: return "a tuple";
    case Node::Kind::kList: return "a list";
    case Node::Kind::kDict: return "a dict";
    case Node::Kind::kCall: return "a tensor";
    case Node::Kind::kPersistentId: return "a storage";
  }
  return "a value";
}

// Deep enough for any state dict; bounds the recursion on a hostile file.
constexpr int kMaxDepth = 1000;

// Parses a torch.save pickle into Nodes and writes it back as the protocol-2 subset that LibTorch
// 1.13's Unpickler reads: collections.OrderedDict() becomes a plain dict, BUILD states are dropped,
// storage locations become "cpu", Parameters become their tensors, and memo indices are
// renumbered. It also learns how many bytes each storage record must hold.
class PickleRewriter {
 public:
  // With `script_module`, also the pickle of a TorchScript archive (torch::serialize::
  // OutputArchive: a __torch__ object built by NEWOBJ, its attributes set by BUILD), for checking.
  PickleRewriter(std::string_view pickle, const std::string& path, bool script_module = false)
      : in_(pickle), path_(path), script_module_(script_module) {}

  std::string rewrite() {
    Node* root = parse();
    if (root->kind != Node::Kind::kDict) {
      fail(path_,
           std::string("the pickle holds ") + describe(root->kind) + ", not a dict of tensors");
    }
    // Checked here, before any storage is read, to name the offending key in Python's terms.
    for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
      const Node* key = root->items[i];
      const Node* value = root->items[i + 1];
      if (key->kind != Node::Kind::kString) {
        fail(path_, std::string("a key of the dict is ") + describe(key->kind) + ", not a str");
      }
      if (value->kind != Node::Kind::kCall) {
        fail(path_,
             "the value of '" + key->text + "' is " + describe(value->kind) + ", not a tensor");
      }
    }
    count_references(root, 0);
    out_.push_back(static_cast<char>(kProto));
    out_.push_back(2);
    emit(root, 0);
    out_.push_back(static_cast<char>(kStop));
    return std::move(out_);
  }

  // Parses the pickle and checks every tensor it builds against its storage, and every storage
  // against the size of its record (record_bytes: the bytes of record data/<key>, or nothing).
  using RecordBytes = std::function<std::optional<uint64_t>(const std::string&)>;
  void check_tensors(const RecordBytes& record_bytes) {
    parse();
    for (const auto& node : nodes_) {
      if (node->kind != Node::Kind::kCall) continue;
      // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, ...)
      const auto& a = node->items[1]->items;
      if (a.size() < 4 || a[0]->kind != Node::Kind::kPersistentId ||
          a[1]->kind != Node::Kind::kInt || a[2]->kind != Node::Kind::kTuple ||
          a[3]->kind != Node::Kind::kTuple || a[2]->items.size() != a[3]->items.size()) {
        fail(path_, "a tensor whose arguments are not (storage, offset, size, stride)");
      }
      const auto& id = a[0]->items[0]->items;  // ('storage', class, key, location, numel)
      int64_t last = a[1]->int_value;
      bool ok = last >= 0, empty = false;
      for (size_t d = 0; ok && d < a[2]->items.size(); ++d) {
        const Node* size = a[2]->items[d];
        const Node* stride = a[3]->items[d];
        ok = size->kind == Node::Kind::kInt && stride->kind == Node::Kind::kInt &&
             size->int_value >= 0 && stride->int_value >= 0;
        if (!ok || size->int_value == 0) {
          empty = empty || ok;
          continue;
        }
        int64_t reach = 0;
        ok = !__builtin_mul_overflow(size->int_value - 1, stride->int_value, &reach) &&
             !__builtin_add_overflow(last, reach, &last);
      }
      if (!ok || (!empty && last >= id[4]->int_value)) {
        fail(path_, "a tensor of storage data/" + id[2]->text +
                        " reaches past the end of its storage (" +
                        std::to_string(id[4]->int_value) + " elements)");
      }
    }
    for (const auto& [key, bytes] : storage_bytes_) {
      const auto have = record_bytes(key);
      if (!have) fail(path_, "record data/" + key + " is missing");
      if (*have < bytes) {
        fail(path_, "record data/" + key + " holds " + std::to_string(*have) +
                        " bytes but its storage needs " + std::to_string(bytes));
      }
    }
  }

  // Bytes that record data/<key> must hold at least.
  uint64_t storage_bytes(const std::string& key) const {
    auto it = storage_bytes_.find(key);
    if (it == storage_bytes_.end()) {
      fail(path_, "the pickle asks for storage record data/" + key + " that it never declared");
    }
    return it->second;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_, "data.pkl at byte " + std::to_string(opcode_pos_) + ": " + what);
  }

  // ---- reading ----

  void need(uint64_t n) const {
    if (n > in_.size() - pos_) bad("the pickle ends in the middle of an opcode");
  }
  uint8_t read_u8() {
    need(1);
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t read_le(int n) {
    need(n);
    uint64_t value = 0;
    for (int i = 0; i < n; ++i) value |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += n;
    return value;
  }
  std::string read_bytes(uint64_t n) {
    need(n);
    std::string bytes(in_.substr(pos_, n));
    pos_ += n;
    return bytes;
  }
  std::string read_line() {
    size_t end = in_.find('\n', pos_);
    if (end == std::string_view::npos) bad("the pickle ends inside a GLOBAL name");
    std::string line(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  // ---- the value stack ----

  Node* make(Node::Kind kind) {
    nodes_.push_back(std::make_unique<Node>());
    nodes_.back()->kind = kind;
    return nodes_.back().get();
  }
  size_t stack_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Node* top() const {
    if (stack_.size() <= stack_floor()) bad("an opcode needs a value but the stack is empty");
    return stack_.back();
  }
  Node* pop() {
    Node* node = top();
    stack_.pop_back();
    return node;
  }
  std::vector<Node*> pop_to_mark() {
    if (marks_.empty()) bad("an opcode needs a MARK but there is none");
    size_t start = marks_.back();
    marks_.pop_back();
    std::vector<Node*> items(stack_.begin() + start, stack_.end());
    stack_.resize(start);
    return items;
  }
  Node* container_on_top(Node::Kind kind, uint8_t code) {
    Node* node = top();
    if (node->kind != kind) {
      bad(std::string(opcode_name(code)) + " on " + describe(node->kind));
    }
    return node;
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) bad("memo index " + std::to_string(index) + " was never stored");
    stack_.push_back(it->second);
  }
  void push_int(int64_t value) {
    Node* node = make(Node::Kind::kInt);
    node->int_value = value;
    stack_.push_back(node);
  }
  void push_string(std::string value) {
    Node* node = make(Node::Kind::kString);
    node->text = std::move(value);
    stack_.push_back(node);
  }
  void push_tuple(std::vector<Node*> items) {
    Node* node = make(Node::Kind::kTuple);
    node->items = std::move(items);
    stack_.push_back(node);
  }

  // Two's complement, little endian, as LONG1/LONG4 store it; the Unpickler only takes 8 bytes.
  void push_long(uint64_t n) {
    if (n > 8) bad("an integer wider than 64 bits");
    uint64_t value = read_le(static_cast<int>(n));
    if (n > 0 && n < 8 && (value >> (8 * n - 1)) != 0) value |= ~uint64_t{0} << (8 * n);
    push_int(static_cast<int64_t>(value));
  }

  void push_global(std::string module, std::string name) {
    c10::ScalarType unused;
    const bool script_class =
        script_module_ && (module == "__torch__" || module.rfind("__torch__.", 0) == 0);
    bool known = script_class ||
                 (module == "collections" && name == "OrderedDict") ||
                 (module == "torch._utils" &&
                  (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter" ||
                   name == "_rebuild_parameter_with_state")) ||
                 (module == "torch" && storage_scalar_type(name, &unused));
    if (!known) {
      bad("unsupported Python object " + module + "." + name +
          " (only tensors, storages and OrderedDict can be read)");
    }
    Node* node = make(Node::Kind::kGlobal);
    node->text = std::move(module);
    node->name = std::move(name);
    stack_.push_back(node);
  }

  void reduce() {
    Node* args = pop();
    Node* callable = pop();
    if (callable->kind != Node::Kind::kGlobal || args->kind != Node::Kind::kTuple) {
      bad(std::string("REDUCE of ") + describe(callable->kind) + " with " + describe(args->kind));
    }
    const std::string qualified = callable->text + "." + callable->name;
    if (qualified == "collections.OrderedDict") {
      // LibTorch 1.13 turns OrderedDict() into None; a plain dict keeps the items and their order.
      if (!args->items.empty()) bad("OrderedDict built from arguments is not supported");
      stack_.push_back(make(Node::Kind::kDict));
    } else if (qualified == "torch._utils._rebuild_parameter" ||
               qualified == "torch._utils._rebuild_parameter_with_state") {
      // A Parameter (state_dict(keep_vars=True)) is its tensor for our purposes.
      if (args->items.empty()) bad(qualified + " without arguments");
      stack_.push_back(args->items[0]);
    } else if (qualified == "torch._utils._rebuild_tensor_v2") {
      Node* call = make(Node::Kind::kCall);
      call->items = {callable, args};
      stack_.push_back(call);
    } else {
      bad("REDUCE of " + qualified + " is not supported");
    }
  }

  // torch.save's persistent id: ('storage', torch.<T>Storage, key, location, numel).
  void persistent_id() {
    Node* id = pop();
    const auto& f = id->items;
    c10::ScalarType scalar_type;
    if (id->kind != Node::Kind::kTuple || f.size() != 5 || f[0]->kind != Node::Kind::kString ||
        f[0]->text != "storage" || f[1]->kind != Node::Kind::kGlobal || f[1]->text != "torch" ||
        !storage_scalar_type(f[1]->name, &scalar_type) || f[2]->kind != Node::Kind::kString ||
        f[3]->kind != Node::Kind::kString || f[4]->kind != Node::Kind::kInt ||
        f[4]->int_value < 0) {
      bad("a persistent id that is not a torch.save storage reference");
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(f[4]->int_value),
                               static_cast<uint64_t>(c10::elementSize(scalar_type)), &bytes)) {
      bad("storage data/" + f[2]->text + " is impossibly large");
    }
    uint64_t& known = storage_bytes_[f[2]->text];
    known = std::max(known, bytes);
    // Every storage goes to the CPU; the Unpickler is also told so, but would still parse the
    // original location string first.
    Node* cpu = make(Node::Kind::kString);
    cpu->text = "cpu";
    Node* tuple = make(Node::Kind::kTuple);
    tuple->items = {f[0], f[1], f[2], cpu, f[4]};
    Node* node = make(Node::Kind::kPersistentId);
    node->items = {tuple};
    stack_.push_back(node);
  }

  Node* parse() {
    while (true) {
      opcode_pos_ = pos_;
      uint8_t code = read_u8();
      switch (code) {
        case kProto: {
          uint8_t protocol = read_u8();
          if (protocol < 2 || protocol > 4) {
            bad("pickle protocol " + std::to_string(protocol) + " is not supported (2 to 4 are)");
          }
          break;
        }
        case kFrame: read_le(8); break;  // framing only groups opcodes
        case kStop: {
          if (!marks_.empty() || stack_.size() != 1) bad("STOP with an unbalanced stack");
          return stack_.back();
        }
        case kMark: marks_.push_back(stack_.size()); break;
        case kPop:
          if (!marks_.empty() && marks_.back() == stack_.size()) {
            marks_.pop_back();
          } else {
            pop();
          }
          break;
        case kPopMark: pop_to_mark(); break;
        case kDup: stack_.push_back(top()); break;
        case kNone: stack_.push_back(make(Node::Kind::kNone)); break;
        case kNewTrue:
        case kNewFalse: {
          Node* node = make(Node::Kind::kBool);
          node->int_value = code == kNewTrue ? 1 : 0;
          stack_.push_back(node);
          break;
        }
        case kBinInt1: push_int(read_le(1)); break;
        case kBinInt2: push_int(read_le(2)); break;
        case kBinInt: push_int(static_cast<int32_t>(read_le(4))); break;
        case kLong1: push_long(read_le(1)); break;
        case kLong4: push_long(read_le(4)); break;
        case kBinFloat: {
          Node* node = make(Node::Kind::kFloat);
          node->text = read_bytes(8);
          stack_.push_back(node);
          break;
        }
        case kShortBinUnicode: push_string(read_bytes(read_le(1))); break;
        case kBinUnicode: push_string(read_bytes(read_le(4))); break;
        case kBinUnicode8: push_string(read_bytes(read_le(8))); break;
        case kEmptyTuple: push_tuple({}); break;
        case kTuple: push_tuple(pop_to_mark()); break;
        case kTuple1:
        case kTuple2:
        case kTuple3: {
          std::vector<Node*> items(code - kTuple1 + 1);
          for (size_t i = items.size(); i-- > 0;) items[i] = pop();
          push_tuple(std::move(items));
          break;
        }
        case kEmptyList: stack_.push_back(make(Node::Kind::kList)); break;
        case kList: {
          Node* list = make(Node::Kind::kList);
          list->items = pop_to_mark();
          stack_.push_back(list);
          break;
        }
        case kAppend: {
          Node* item = pop();
          container_on_top(Node::Kind::kList, code)->items.push_back(item);
          break;
        }
        case kAppends: {
          std::vector<Node*> items = pop_to_mark();
          auto& list = container_on_top(Node::Kind::kList, code)->items;
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case kEmptyDict: stack_.push_back(make(Node::Kind::kDict)); break;
        case kDict:
        case kSetItems: {
          std::vector<Node*> items = pop_to_mark();
          if (items.size() % 2 != 0)
            bad(std::string(opcode_name(code)) + " with a key and no value");
          Node* dict =
              code == kDict ? make(Node::Kind::kDict) : container_on_top(Node::Kind::kDict, code);
          dict->items.insert(dict->items.end(), items.begin(), items.end());
          if (code == kDict) stack_.push_back(dict);
          break;
        }
        case kSetItem: {
          Node* value = pop();
          Node* key = pop();
          Node* dict = container_on_top(Node::Kind::kDict, code);
          dict->items.push_back(key);
          dict->items.push_back(value);
          break;
        }
        case kGlobal: {
          std::string module = read_line();
          push_global(std::move(module), read_line());
          break;
        }
        case kStackGlobal: {
          Node* name = pop();
          Node* module = pop();
          if (name->kind != Node::Kind::kString || module->kind != Node::Kind::kString) {
            bad("STACK_GLOBAL of values that are not strings");
          }
          push_global(module->text, name->text);
          break;
        }
        case kReduce: reduce(); break;
        case kNewObj: {  // a TorchScript object: its attributes come with BUILD
          if (!script_module_) unsupported(code);
          Node* args = pop();
          Node* cls = pop();
          if (cls->kind != Node::Kind::kGlobal || args->kind != Node::Kind::kTuple ||
              cls->text.rfind("__torch__", 0) != 0) {
            bad(std::string("NEWOBJ of ") + describe(cls->kind) + " with " + describe(args->kind));
          }
          stack_.push_back(make(Node::Kind::kDict));
          break;
        }
        case kBuild:  // drops the object's state (an OrderedDict's _metadata)
          pop();
          top();
          break;
        case kBinPersId: persistent_id(); break;
        case kBinPut: memo_put(read_le(1)); break;
        case kLongBinPut: memo_put(read_le(4)); break;
        case kMemoize: memo_put(memo_.size()); break;
        case kBinGet: memo_get(read_le(1)); break;
        case kLongBinGet: memo_get(read_le(4)); break;
        default: unsupported(code);
      }
    }
  }

  [[noreturn]] void unsupported(uint8_t code) const {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", code);
    bad(std::string("unsupported pickle opcode ") + opcode_name(code) + " (" + hex + ")");
  }

  // ---- writing ----

  void count_references(Node* node, int depth) {
    if (depth > kMaxDepth) fail(path_, "the pickle is nested too deeply");
    if (++references_[node] > 1) return;
    for (Node* item : node->items) count_references(item, depth + 1);
  }

  void write_le(uint64_t value, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  void write_op(uint8_t code) { out_.push_back(static_cast<char>(code)); }

  // The Unpickler reads BININT1/BININT2 as unsigned, BININT as signed and LONG1 only with 8 bytes.
  void write_int(int64_t value) {
    if (value >= 0 && value < 0x100) {
      write_op(kBinInt1);
      write_le(value, 1);
    } else if (value >= 0 && value < 0x10000) {
      write_op(kBinInt2);
      write_le(value, 2);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      write_op(kBinInt);
      write_le(static_cast<uint32_t>(value), 4);
    } else {
      write_op(kLong1);
      write_le(8, 1);
      write_le(static_cast<uint64_t>(value), 8);
    }
  }

  void emit(Node* node, int depth) {
    if (depth > kMaxDepth) fail(path_, "the pickle is nested too deeply");
    auto memoized = memo_out_.find(node);
    if (memoized != memo_out_.end()) {
      write_op(memoized->second < 0x100 ? kBinGet : kLongBinGet);
      write_le(memoized->second, memoized->second < 0x100 ? 1 : 4);
      return;
    }
    if (!in_progress_.insert(node).second) fail(path_, "the pickle contains a reference cycle");
    switch (node->kind) {
      case Node::Kind::kNone: write_op(kNone); break;
      case Node::Kind::kBool: write_op(node->int_value ? kNewTrue : kNewFalse); break;
      case Node::Kind::kInt: write_int(node->int_value); break;
      case Node::Kind::kFloat:
        write_op(kBinFloat);
        out_ += node->text;
        break;
      case Node::Kind::kString:
        if (node->text.size() > UINT32_MAX) fail(path_, "a string longer than 4 GiB");
        write_op(kBinUnicode);
        write_le(node->text.size(), 4);
        out_ += node->text;
        break;
      case Node::Kind::kGlobal:
        write_op(kGlobal);
        out_ += node->text + "\n" + node->name + "\n";
        break;
      case Node::Kind::kTuple: {
        size_t n = node->items.size();
        if (n == 0) {
          write_op(kEmptyTuple);
          break;
        }
        if (n > 3) write_op(kMark);
        for (Node* item : node->items) emit(item, depth + 1);
        write_op(n == 1 ? kTuple1 : n == 2 ? kTuple2 : n == 3 ? kTuple3 : kTuple);
        break;
      }
      case Node::Kind::kList:
      case Node::Kind::kDict: {
        bool list = node->kind == Node::Kind::kList;
        write_op(list ? kEmptyList : kEmptyDict);
        if (node->items.empty()) break;
        write_op(kMark);
        for (Node* item : node->items) emit(item, depth + 1);
        write_op(list ? kAppends : kSetItems);
        break;
      }
      case Node::Kind::kCall:
        emit(node->items[0], depth + 1);
        emit(node->items[1], depth + 1);
        write_op(kReduce);
        break;
      case Node::Kind::kPersistentId:
        emit(node->items[0], depth + 1);
        write_op(kBinPersId);
        break;
    }
    in_progress_.erase(node);
    if (references_[node] > 1) {
      // The Unpickler requires memo indices to be handed out 0, 1, 2, ...
      uint64_t index = memo_out_.size();
      memo_out_[node] = index;
      write_op(index < 0x100 ? kBinPut : kLongBinPut);
      write_le(index, index < 0x100 ? 1 : 4);
    }
  }

  std::string_view in_;
  const std::string& path_;
  bool script_module_ = false;
  size_t pos_ = 0;
  size_t opcode_pos_ = 0;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Node*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Node*> memo_;
  std::unordered_map<std::string, uint64_t> storage_bytes_;

  std::string out_;
  std::unordered_map<Node*, int> references_;
  std::unordered_map<Node*, uint64_t> memo_out_;
  std::unordered_set<Node*> in_progress_;
};

// The first bytes tell a zip archive from the pre-1.6 torch.save format and from anything else,
// which gives a clearer message than the zip reader's.
void check_file_kind(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) fail(path, "the file does not exist");
  if (std::filesystem::is_directory(path, error)) fail(path, "it is a directory, not a file");
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, "the file cannot be opened");
  char magic[4] = {0, 0, 0, 0};
  file.read(magic, sizeof(magic));
  if (file.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0) return;
  if (file.gcount() >= 2 && static_cast<uint8_t>(magic[0]) == kProto) {
    fail(path,
         "this is the legacy (non-zip) torch.save format, which is not supported; "
         "re-save it with a PyTorch >= 1.6 torch.save");
  }
  fail(path, "not a torch.save file (it is not a zip archive)");
}

// Checks that a tensor's view lies inside its storage: the Unpickler does not, and a corrupt
// file would otherwise make us read past the end of a buffer.
void check_view_in_storage(const std::string& path, const std::string& key, const at::Tensor& t) {
  if (t.numel() == 0) return;
  int64_t last = t.storage_offset();
  bool ok = last >= 0;
  for (int64_t d = 0; ok && d < t.dim(); ++d) {
    int64_t reach = 0;
    ok = t.stride(d) >= 0 && !__builtin_mul_overflow(t.size(d) - 1, t.stride(d), &reach) &&
         !__builtin_add_overflow(last, reach, &last);
  }
  int64_t storage_elements = static_cast<int64_t>(t.storage().nbytes()) / t.element_size();
  if (!ok || last >= storage_elements) {
    fail(path, "tensor '" + key + "' reaches past the end of its storage");
  }
}

std::vector<NamedTensor> read_archive(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader zip(path);
  if (!zip.hasRecord("data.pkl")) fail(path, "not a torch.save file (no data.pkl record)");
  auto [pickle_data, pickle_size] = zip.getRecord("data.pkl");
  PickleRewriter rewriter(
      std::string_view(static_cast<const char*>(pickle_data.get()), pickle_size), path);
  const std::string pickle = rewriter.rewrite();

  size_t pickle_pos = 0;
  auto read_pickle = [&pickle, &pickle_pos](char* buffer, size_t n) -> size_t {
    size_t count = std::min(n, pickle.size() - pickle_pos);
    std::memcpy(buffer, pickle.data() + pickle_pos, count);
    pickle_pos += count;
    return count;
  };
  auto read_record = [&zip, &rewriter, &path](const std::string& key) -> at::DataPtr {
    const std::string record = "data/" + key;
    if (!zip.hasRecord(record)) fail(path, "record " + record + " is missing");
    auto [data, size] = zip.getRecord(record);
    uint64_t needed = rewriter.storage_bytes(key);
    if (size < needed) {
      fail(path, "record " + record + " holds " + std::to_string(size) +
                     " bytes but its storage needs " + std::to_string(needed));
    }
    return std::move(data);
  };
  torch::jit::Unpickler unpickler(read_pickle, /*type_resolver=*/nullptr, /*obj_loader=*/nullptr,
                                  read_record, c10::Device(c10::kCPU));
  unpickler.set_version(zip.version());
  const c10::IValue root = unpickler.parse_ivalue();
  if (!root.isGenericDict()) fail(path, "the pickle does not hold a dict");

  std::vector<NamedTensor> entries;
  std::unordered_map<const void*, int> storage_users;
  // The rewriter has checked keys and values already; these guards cover what LibTorch built.
  for (const auto& entry : root.toGenericDict()) {
    if (!entry.key().isString()) {
      fail(path, std::string("a key of the dict is a ") + entry.key().tagKind() + ", not a str");
    }
    const std::string& key = entry.key().toStringRef();
    if (!entry.value().isTensor()) {
      fail(path, "the value of '" + key + "' is a " + entry.value().tagKind() + ", not a tensor");
    }
    at::Tensor value = entry.value().toTensor();
    check_view_in_storage(path, key, value);
    ++storage_users[value.storage().unsafeGetStorageImpl()];
    entries.push_back({key, std::move(value)});
  }
  // Callers keep and mutate these tensors independently, so each gets a storage of its own that
  // holds exactly its elements.
  for (NamedTensor& entry : entries) {
    at::Tensor& t = entry.value;
    if (t.requires_grad()) t = t.detach();
    bool owns = t.is_contiguous() && t.storage_offset() == 0 &&
                t.storage().nbytes() == static_cast<size_t>(t.numel()) * t.element_size() &&
                storage_users[t.storage().unsafeGetStorageImpl()] == 1;
    if (!owns) t = t.clone(at::MemoryFormat::Contiguous);
  }
  return entries;
}

}  // namespace

std::string torch_archive_damage(std::string_view archive, bool* script) {
  *script = false;
  std::vector<ZipEntry> entries;
  if (auto damage = zip_entries(archive, &entries); !damage.empty()) return damage;
  // The pickle is <archive>/data.pkl; its storages are <archive>/data/<key>.
  const ZipEntry* pickle = nullptr;
  for (const ZipEntry& e : entries) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      pickle = &e;
  }
  if (pickle == nullptr) return "";
  const std::string_view data = archive.substr(pickle->offset, pickle->size);
  static constexpr std::string_view kScript = "\x80\x02" "c__torch__";
  if (pickle->method != 0 || data.substr(0, kScript.size()) != kScript) return "";
  *script = true;
  const std::string records = pickle->name.substr(0, pickle->name.size() - 8) + "data/";
  auto record_bytes = [&](const std::string& key) -> std::optional<uint64_t> {
    for (const ZipEntry& e : entries) {
      if (e.name.size() == records.size() + key.size() &&
          e.name.compare(0, records.size(), records) == 0 &&
          e.name.compare(records.size(), std::string::npos, key) == 0) {
        if (e.method != 0) return std::nullopt;  // LibTorch stores its records uncompressed
        return e.size;
      }
    }
    return std::nullopt;
  };
  const std::string name = pickle->name;
  try {
    PickleRewriter(data, name, /*script_module=*/true).check_tensors(record_bytes);
  } catch (const trm::DataError& e) {
    const std::string prefix = "cannot read torch.save file '" + name + "': ";
    std::string what = e.what();
    if (what.compare(0, prefix.size(), prefix) == 0) what = what.substr(prefix.size());
    return what;
  }
  return "";
}

std::vector<NamedTensor> read_torch_save(const std::string& path) {
  check_file_kind(path);
  try {
    return read_archive(path);
  } catch (const trm::DataError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const c10::Error& e) {
    fail(path, std::string("LibTorch could not read it: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(path, std::string("LibTorch could not read it: ") + e.what());
  }
}

}  // namespace trm::core
