// Tests read_torch_save on the parity fixtures, on copies of them, and on torch.save archives built
// here byte by byte (bfloat16, GPU-tagged storages, protocol 4, malformed pickles).
#include <ATen/ops/equal.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/reference_checkpoint.h"

#ifndef TRM_DEFAULT_FIXTURES_DIR
#define TRM_DEFAULT_FIXTURES_DIR "../shared/fixtures"
#endif

namespace trm::core {
namespace {

std::string fixture(const std::string& name) {
  const char* dir = std::getenv("TRM_FIXTURES_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : TRM_DEFAULT_FIXTURES_DIR) + "/" + name;
}

// A fresh directory under the test temp dir, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = testing::TempDir() + "trm_ref_ckpt_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::map<std::string, at::Tensor> by_name(const std::vector<NamedTensor>& entries) {
  std::map<std::string, at::Tensor> map;
  for (const auto& entry : entries) map[entry.name] = entry.value;
  return map;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Writes a torch.save-style zip: <stem>/data.pkl, <stem>/data/<key> and <stem>/version.
void write_archive(const std::string& path, const std::string& pickle,
                   const std::vector<std::pair<std::string, std::string>>& storages) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [key, bytes] : storages) {
    writer.writeRecord("data/" + key, bytes.data(), bytes.size());
  }
  writer.writeEndOfFile();
}

// Copies a torch.save archive with its pickle passed through `edit`.
void copy_archive(const std::string& from, const std::string& to,
                  const std::function<std::string(std::string)>& edit) {
  caffe2::serialize::PyTorchStreamReader reader(from);
  std::vector<std::pair<std::string, std::string>> storages;
  std::string pickle;
  for (const std::string& name : reader.getAllRecords()) {
    auto [data, size] = reader.getRecord(name);
    std::string bytes(static_cast<const char*>(data.get()), size);
    if (name == "data.pkl") {
      pickle = edit(std::move(bytes));
    } else if (name.rfind("data/", 0) == 0) {
      storages.emplace_back(name.substr(5), std::move(bytes));
    }
  }
  write_archive(to, pickle, storages);
}

// Builds pickle bytes opcode by opcode.
class Pickle {
 public:
  Pickle& op(uint8_t code) {
    bytes_.push_back(static_cast<char>(code));
    return *this;
  }
  Pickle& raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  Pickle& proto(uint8_t version) { return op(0x80).op(version); }
  Pickle& str(const std::string& s) {
    op('X');
    for (int i = 0; i < 4; ++i) op(static_cast<uint8_t>(s.size() >> (8 * i)));
    return raw(s);
  }
  Pickle& short_str(const std::string& s) {
    return op(0x8c).op(static_cast<uint8_t>(s.size())).raw(s);
  }
  Pickle& int1(uint8_t value) { return op('K').op(value); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  Pickle& put(uint8_t index) { return op('q').op(index); }
  Pickle& get(uint8_t index) { return op('h').op(index); }
  // _rebuild_tensor_v2((storage key, dtype, location, numel), 0, shape, stride, False, hooks)
  // with a 1-d or 2-d shape, expecting _rebuild_tensor_v2 in memo[rebuild] and
  // collections.OrderedDict in memo[ordered_dict].
  Pickle& tensor(uint8_t rebuild, uint8_t ordered_dict, const std::string& storage_type,
                 const std::string& key, const std::string& location,
                 const std::vector<uint8_t>& shape) {
    uint8_t numel = 1;
    for (uint8_t n : shape) numel *= n;
    get(rebuild).op('(');
    op('(').str("storage").global("torch", storage_type).str(key).str(location).int1(numel);
    op('t').op('Q').int1(0);
    if (shape.size() == 1) {
      int1(shape[0]).op(0x85).int1(1).op(0x85);
    } else {
      int1(shape[0]).int1(shape[1]).op(0x86).int1(shape[1]).int1(1).op(0x86);
    }
    return op(0x89).get(ordered_dict).op(')').op('R').op('t').op('R');
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

std::string bf16_bytes(const std::vector<uint16_t>& values) {
  std::string bytes;
  for (uint16_t v : values) {
    bytes.push_back(static_cast<char>(v & 0xff));
    bytes.push_back(static_cast<char>(v >> 8));
  }
  return bytes;
}

std::string f32_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

std::vector<float> as_floats(const at::Tensor& t) {
  at::Tensor f = t.to(at::kFloat).contiguous();
  return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
}

// Expects read_torch_save(path) to throw trm::DataError naming the path and containing `what`.
void expect_data_error(const std::string& path, const std::string& what) {
  try {
    read_torch_save(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const trm::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

void expect_plain_cpu_tensors(const std::vector<NamedTensor>& entries) {
  for (const auto& entry : entries) {
    const at::Tensor& t = entry.value;
    EXPECT_TRUE(t.device().is_cpu()) << entry.name;
    EXPECT_TRUE(t.is_contiguous()) << entry.name;
    EXPECT_EQ(t.storage_offset(), 0) << entry.name;
    EXPECT_EQ(t.storage().nbytes(), static_cast<size_t>(t.numel() * t.element_size()))
        << entry.name;
  }
}

// Checks a *_state_dict.pt against param/ of the matching full fixture.
void expect_state_dict_matches_params(const std::string& state_dict, const std::string& full) {
  const std::string prefix = "_orig_mod.model.inner.";
  std::vector<NamedTensor> entries = read_torch_save(fixture(state_dict));
  ASSERT_EQ(entries.size(), 15u);
  expect_plain_cpu_tensors(entries);
  EXPECT_EQ(entries[0].name, prefix + "H_init");
  EXPECT_EQ(entries[1].name, prefix + "L_init");
  std::map<std::string, at::Tensor> params = by_name(read_torch_save(fixture(full)));
  for (const auto& entry : entries) {
    ASSERT_EQ(entry.name.rfind(prefix, 0), 0u) << entry.name;
    const std::string param = "param/" + entry.name.substr(std::string("_orig_mod.").size());
    ASSERT_EQ(params.count(param), 1u) << param;
    EXPECT_TRUE(at::equal(entry.value, params[param])) << entry.name;
  }
}

TEST(ReferenceCheckpoint, ReadsAnOrderedDictWithMetadataAsTheReferenceWritesIt) {
  expect_state_dict_matches_params("mlp_state_dict.pt", "mlp.pt");
  expect_state_dict_matches_params("att_state_dict.pt", "att.pt");
}

TEST(ReferenceCheckpoint, ReadsThePlainDictFixturesInFileOrder) {
  std::vector<NamedTensor> mlp = read_torch_save(fixture("mlp.pt"));
  ASSERT_EQ(mlp.size(), 120u);
  expect_plain_cpu_tensors(mlp);
  EXPECT_EQ(mlp[0].name, "param/model.inner.H_init");
  EXPECT_EQ(mlp[1].name, "param/model.inner.L_init");
  std::map<std::string, at::Tensor> m = by_name(mlp);
  EXPECT_EQ(m.at("param/model.inner.L_level.layers.0.mlp_t.gate_up_proj.weight").sizes(),
            (std::vector<int64_t>{1024, 97}));
  EXPECT_EQ(m.at("batch/inputs").scalar_type(), at::kInt);
  EXPECT_EQ(m.at("config/hidden_size").item<int64_t>(), 64);

  std::vector<NamedTensor> att = read_torch_save(fixture("att.pt"));
  ASSERT_EQ(att.size(), 122u);
  expect_plain_cpu_tensors(att);
  std::map<std::string, at::Tensor> a = by_name(att);
  EXPECT_EQ(a.at("param/model.inner.L_level.layers.0.self_attn.qkv_proj.weight").sizes(),
            (std::vector<int64_t>{192, 64}));
  EXPECT_EQ(a.at("step1/lm_loss").scalar_type(), at::kDouble);
  EXPECT_EQ(a.at("step1/halted").scalar_type(), at::kBool);
}

TEST(ReferenceCheckpoint, LoadsStoragesSavedOnAGpuOntoTheCpu) {
  ScratchDir dir;
  const std::string cpu_tag = std::string(
      "X\x03\x00\x00\x00"
      "cpu",
      8);
  const std::string cuda_tag = std::string(
      "X\x06\x00\x00\x00"
      "cuda:0",
      11);
  int retagged = 0;
  copy_archive(fixture("att_state_dict.pt"), dir.file("att_cuda.pt"), [&](std::string pickle) {
    for (size_t at = pickle.find(cpu_tag); at != std::string::npos; at = pickle.find(cpu_tag)) {
      pickle.replace(at, cpu_tag.size(), cuda_tag);
      ++retagged;
    }
    return pickle;
  });
  ASSERT_GT(retagged, 0);
  std::vector<NamedTensor> original = read_torch_save(fixture("att_state_dict.pt"));
  std::vector<NamedTensor> moved = read_torch_save(dir.file("att_cuda.pt"));
  ASSERT_EQ(moved.size(), original.size());
  expect_plain_cpu_tensors(moved);
  for (size_t i = 0; i < moved.size(); ++i) {
    EXPECT_EQ(moved[i].name, original[i].name);
    EXPECT_TRUE(at::equal(moved[i].value, original[i].value)) << moved[i].name;
  }
}

TEST(ReferenceCheckpoint, ReadsBfloat16TensorsInAGpuCheckpointWithMetadata) {
  // What a bfloat16 run of the reference saves: OrderedDict, cuda:0 storages, bf16 H_init/L_init.
  Pickle p;
  p.proto(2).global("collections", "OrderedDict").put(0).op(')').op('R').put(1).op('(');
  p.str("H_init").global("torch._utils", "_rebuild_tensor_v2").put(2).op('0');  // POP
  p.tensor(2, 0, "BFloat16Storage", "0", "cuda:0", {4});
  p.str("W").tensor(2, 0, "FloatStorage", "1", "cuda:0", {2, 2});
  p.op('u');
  p.op('}').str("_metadata").get(0).op(')').op('R').str("").op('}').str("version").int1(1);
  p.op('s').op('s').op('s').op('b').op('.');
  ScratchDir dir;
  write_archive(dir.file("bf16.pt"), p.bytes(),
                {{"0", bf16_bytes({0x3f80, 0x4000, 0xbf00, 0x4040})},
                 {"1", f32_bytes({1.5f, -2.0f, 0.25f, 8.0f})}});
  std::vector<NamedTensor> entries = read_torch_save(dir.file("bf16.pt"));
  ASSERT_EQ(entries.size(), 2u);
  expect_plain_cpu_tensors(entries);
  EXPECT_EQ(entries[0].name, "H_init");
  EXPECT_EQ(entries[0].value.scalar_type(), at::kBFloat16);
  EXPECT_EQ(as_floats(entries[0].value), (std::vector<float>{1.0f, 2.0f, -0.5f, 3.0f}));
  EXPECT_EQ(entries[1].name, "W");
  EXPECT_EQ(entries[1].value.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(as_floats(entries[1].value), (std::vector<float>{1.5f, -2.0f, 0.25f, 8.0f}));
}

TEST(ReferenceCheckpoint, KeepsMemoReferencesIntoADroppedBuildStateValid) {
  // The first tensor's hooks are an OrderedDict whose BUILD state memoizes the string "b"; the
  // second key reuses it. Dropping the state must not break that reference.
  Pickle p;
  p.proto(2).op('}').put(0).op('(').str("a");
  p.global("torch._utils", "_rebuild_tensor_v2").put(1).op('(');
  p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(2).op('t');
  p.op('Q').int1(0).int1(2).op(0x85).int1(1).op(0x85).op(0x89);
  p.global("collections", "OrderedDict").put(2).op(')').op('R');
  p.op('}').str("_metadata").str("b").put(9).op('s').op('b');
  p.op('t').op('R');
  p.get(9).tensor(1, 2, "FloatStorage", "0", "cpu", {2});
  p.op('u').op('.');
  ScratchDir dir;
  write_archive(dir.file("memo.pt"), p.bytes(), {{"0", f32_bytes({3.0f, 4.0f})}});
  std::vector<NamedTensor> entries = read_torch_save(dir.file("memo.pt"));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "a");
  EXPECT_EQ(entries[1].name, "b");
  // Both keys name one storage; each gets a copy of its own.
  expect_plain_cpu_tensors(entries);
  EXPECT_NE(entries[0].value.data_ptr(), entries[1].value.data_ptr());
  EXPECT_EQ(as_floats(entries[1].value), (std::vector<float>{3.0f, 4.0f}));
}

TEST(ReferenceCheckpoint, ReadsAProtocol4PickleWithFramesAndStackGlobals) {
  Pickle p;
  p.proto(4).op(0x95).raw(std::string(8, '\0'));  // FRAME with a (ignored) length
  p.op('}').op(0x94).short_str("w").op(0x94);
  p.short_str("torch._utils").short_str("_rebuild_tensor_v2").op(0x93).op(0x94).op('(');
  p.op('(').short_str("storage").short_str("torch").short_str("DoubleStorage").op(0x93);
  p.short_str("k").short_str("cpu").int1(3).op('t').op('Q');
  p.int1(1).int1(2).op(0x85).int1(1).op(0x85).op(0x89);
  p.short_str("collections").short_str("OrderedDict").op(0x93).op(')').op('R');
  p.op('t').op('R').op('s').op('.');
  std::string doubles(4 * sizeof(double), '\0');
  const double values[] = {0.5, 1.5, 2.5};
  std::memcpy(doubles.data(), values, sizeof(values));
  ScratchDir dir;
  write_archive(dir.file("p4.pt"), p.bytes(), {{"k", doubles}});
  std::vector<NamedTensor> entries = read_torch_save(dir.file("p4.pt"));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "w");
  expect_plain_cpu_tensors(entries);  // the view at offset 1 was copied
  EXPECT_EQ(entries[0].value.scalar_type(), at::kDouble);
  EXPECT_EQ(as_floats(entries[0].value), (std::vector<float>{1.5f, 2.5f}));
}

TEST(ReferenceCheckpoint, RejectsAMissingFileNamingIt) {
  ScratchDir dir;
  expect_data_error(dir.file("no_such_checkpoint.pt"), "does not exist");
}

TEST(ReferenceCheckpoint, RejectsAFileThatIsNotAZipArchive) {
  ScratchDir dir;
  write_file(dir.file("garbage.pt"), "this is not a checkpoint, just some text\n");
  expect_data_error(dir.file("garbage.pt"), "not a zip archive");
}

TEST(ReferenceCheckpoint, RejectsATruncatedCheckpoint) {
  ScratchDir dir;
  std::string bytes = read_file(fixture("mlp_state_dict.pt"));
  ASSERT_GT(bytes.size(), 1000u);
  write_file(dir.file("truncated.pt"), bytes.substr(0, bytes.size() / 2));
  expect_data_error(dir.file("truncated.pt"), "LibTorch could not read it");
}

TEST(ReferenceCheckpoint, RejectsAStorageRecordShorterThanItsTensor) {
  Pickle p;
  p.proto(2).op('}').str("a").global("torch._utils", "_rebuild_tensor_v2").put(0).op('0');
  p.global("collections", "OrderedDict").put(1).op('0');  // POP: only the memo entries matter
  p.tensor(0, 1, "FloatStorage", "0", "cpu", {4}).op('s').op('.');
  ScratchDir dir;
  write_archive(dir.file("short.pt"), p.bytes(), {{"0", f32_bytes({1.0f, 2.0f})}});
  expect_data_error(dir.file("short.pt"), "record data/0 holds 8 bytes but its storage needs 16");
}

TEST(ReferenceCheckpoint, RejectsATensorThatReachesPastItsStorage) {
  Pickle p;
  p.proto(2).op('}').str("a").global("torch._utils", "_rebuild_tensor_v2").op('(');
  p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(2).op('t');
  p.op('Q').int1(0).int1(4).op(0x85).int1(1).op(0x85).op(0x89).op('N').op('t').op('R');
  p.op('s').op('.');
  ScratchDir dir;
  write_archive(dir.file("past.pt"), p.bytes(), {{"0", f32_bytes({1.0f, 2.0f})}});
  expect_data_error(dir.file("past.pt"), "tensor 'a' reaches past the end of its storage");
}

TEST(ReferenceCheckpoint, RejectsAPickleThatIsNotADict) {
  ScratchDir dir;
  write_archive(dir.file("list.pt"), Pickle().proto(2).op(']').op('.').bytes(), {});
  expect_data_error(dir.file("list.pt"), "holds a list, not a dict of tensors");
}

TEST(ReferenceCheckpoint, RejectsADictWhoseValueIsNotATensor) {
  ScratchDir dir;
  write_archive(dir.file("ints.pt"),
                Pickle().proto(2).op('}').str("step").int1(7).op('s').op('.').bytes(), {});
  expect_data_error(dir.file("ints.pt"), "the value of 'step' is an int, not a tensor");
}

TEST(ReferenceCheckpoint, RejectsAnUnsupportedOpcodeNamingIt) {
  ScratchDir dir;
  write_archive(dir.file("ext.pt"), Pickle().proto(2).op('}').op(0x82).op(1).op('.').bytes(), {});
  expect_data_error(dir.file("ext.pt"), "unsupported pickle opcode EXT1 (0x82)");
}

TEST(ReferenceCheckpoint, RejectsAnArbitraryPythonObject) {
  ScratchDir dir;
  write_archive(
      dir.file("obj.pt"),
      Pickle().proto(2).global("os", "system").str("true").op(0x85).op('R').op('.').bytes(), {});
  expect_data_error(dir.file("obj.pt"), "unsupported Python object os.system");
}

}  // namespace
}  // namespace trm::core
