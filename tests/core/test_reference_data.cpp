// Data sets in the reference's on-disk format (TRM-SPEC §7.1): written and read back, checked
// array by array, and every kind of bad file named with what is wrong. (NumPy itself reads and
// writes these files in tests/cli/reference_data.sh.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/reference_data.h"
#include "core/sudoku.h"
#include "core/trial_config.h"
#include "core/trial_data.h"

namespace trm::core {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "trm_refdata_XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

DataConfig small_sudoku() {
  DataConfig d;
  d.box = 2;
  d.givens = 8;
  d.train_puzzles = 6;
  d.num_aug = 2;
  d.test_puzzles = 3;
  return d;
}

// A .npy file of format 1.0 with the given dtype, shape text and raw little-endian payload.
void write_npy(const std::string& path, const std::string& descr, const std::string& shape,
               const std::string& payload, const std::string& extra = "False") {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': " + extra + ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  std::ofstream(path, std::ios::binary) << bytes << header << payload;
}

std::string int32s(const std::vector<int32_t>& v) {
  std::string out;
  for (const int32_t x : v)
    for (int b = 0; b < 4; ++b)
      out += static_cast<char>((static_cast<uint32_t>(x) >> (8 * b)) & 0xFF);
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ReferenceData, AWrittenDataSetReadsBackArrayForArray) {
  const TempDir dir;
  const TrialData made = make_trial_data(small_sudoku());
  write_reference_data(made.train, made.test, dir / "set");
  for (const auto& [split, arrays] :
       {std::pair{"train", &made.train}, std::pair{"test", &made.test}}) {
    const PuzzleArrays back = load_reference_split(dir / "set" + "/" + split);
    EXPECT_EQ(back.seq_len, arrays->seq_len) << split;
    EXPECT_EQ(back.vocab_size, arrays->vocab_size) << split;
    EXPECT_EQ(back.inputs, arrays->inputs) << split;
    EXPECT_EQ(back.labels, arrays->labels) << split;
    EXPECT_EQ(back.puzzle_identifiers, arrays->puzzle_identifiers) << split;
    EXPECT_EQ(back.puzzle_indices, arrays->puzzle_indices) << split;
    EXPECT_EQ(back.group_indices, arrays->group_indices) << split;
  }
  const auto shape = reference_data_shape(dir / "set");
  EXPECT_EQ(shape.train.examples, 6 * 3);
  EXPECT_EQ(shape.train.puzzles, 6 * 3);
  EXPECT_EQ(shape.train.groups, 6);
  EXPECT_EQ(shape.test.examples, 3);
  EXPECT_EQ(shape.train.seq_len, 16);
  EXPECT_EQ(shape.train.vocab_size, 6);
  EXPECT_EQ(shape.train.num_puzzle_identifiers, 1);
  // Nothing is overwritten.
  EXPECT_TRUE(has(error_of([&] { write_reference_data(made.train, made.test, dir / "set"); }),
                  "not empty"));
}

TEST(ReferenceData, TheConfigReadsTheFolderAndTheModelMustFitIt) {
  const TempDir dir;
  const TrialData made = make_trial_data(small_sudoku());
  write_reference_data(made.train, made.test, dir / "set");
  TrialConfig c;
  c.data.source = DataSource::reference;
  c.data.path = dir / "set";
  // The default model reads 81-token 9x9 puzzles: the problems say what to set.
  const auto problems = trial_problems(c);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_TRUE(has(all, "model.seq_len = 81: data.path = " + c.data.path +
                           " holds 16-token examples; set model.seq_len = 16"))
      << all;
  c.model.seq_len = 16;
  c.model.vocab_size = 6;
  EXPECT_TRUE(trial_problems(c).empty());
  const DataShape s = data_shape(c.data);
  EXPECT_EQ(s.train_groups, 6);
  EXPECT_EQ(s.train_examples, 18);
  EXPECT_EQ(s.test_examples, 3);
  const TrialData read = make_trial_data(c.data);
  EXPECT_EQ(read.train.inputs, made.train.inputs);
  EXPECT_EQ(read.test.labels, made.test.labels);

  c.data.path = dir / "missing";
  const auto missing = trial_problems(c);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_TRUE(has(missing[0], "data.path: " + c.data.path + ": no such folder")) << missing[0];
  c.data.path = "";
  EXPECT_TRUE(has(trial_problems(c).at(0), "data.path is empty")) << trial_problems(c).at(0);
}

TEST(ReferenceData, TrialIdsOfEarlierFilesStayWhileDataPathIsUnset) {
  TrialConfig c;
  EXPECT_FALSE(has(canonical_text(c), "data.path")) << canonical_text(c);
  c.data.source = DataSource::reference;
  c.data.path = "data/sudoku-extreme";
  EXPECT_TRUE(has(canonical_text(c), "data.path = data/sudoku-extreme\n"));
}

// Each bad file is named, with what is wrong; `make` breaks one file of a good set.
TEST(ReferenceData, EveryBadFileIsNamedWithWhatIsWrong) {
  struct Case {
    const char* what;
    std::function<void(const std::string& train)> make;
    const char* file;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"missing array", [](const std::string& t) { fs::remove(t + "/all__labels.npy"); },
       "all__labels.npy", "no such file"},
      {"not npy", [](const std::string& t) { std::ofstream(t + "/all__inputs.npy") << "a,b,c\n"; },
       "all__inputs.npy", "not a NumPy .npy file"},
      {"float dtype",
       [](const std::string& t) {
         write_npy(t + "/all__puzzle_identifiers.npy", "<f4", "(18,)", std::string(72, '\0'));
       },
       "all__puzzle_identifiers.npy", "dtype '<f4'"},
      {"big-endian",
       [](const std::string& t) {
         write_npy(t + "/all__puzzle_identifiers.npy", ">i4", "(18,)", std::string(72, '\0'));
       },
       "all__puzzle_identifiers.npy", "big-endian"},
      {"fortran order",
       [](const std::string& t) {
         write_npy(t + "/all__inputs.npy", "|u1", "(18, 16)", std::string(18 * 16, '\1'), "True");
       },
       "all__inputs.npy", "Fortran order"},
      {"truncated",
       [](const std::string& t) {
         write_npy(t + "/all__inputs.npy", "|u1", "(18, 16)", std::string(100, '\1'));
       },
       "all__inputs.npy", "truncated"},
      {"wrong width",
       [](const std::string& t) {
         write_npy(t + "/all__inputs.npy", "|u1", "(18, 15)", std::string(18 * 15, '\1'));
       },
       "all__inputs.npy", "expected (examples, 16)"},
      {"token past the vocabulary",
       [](const std::string& t) {
         write_npy(t + "/all__labels.npy", "|u1", "(18, 16)", std::string(18 * 16, '\x07'));
       },
       "all__labels.npy", "element 0 = 7: a label token"},
      {"id past the table",
       [](const std::string& t) {
         std::vector<int32_t> ids(18, 0);
         ids[5] = 3;
         write_npy(t + "/all__puzzle_identifiers.npy", "<i4", "(18,)", int32s(ids));
       },
       "all__puzzle_identifiers.npy", "element 5 = 3: a puzzle id"},
      {"decreasing offsets",
       [](const std::string& t) {
         std::vector<int32_t> pi(19);
         for (int k = 0; k < 19; ++k) pi[k] = k;
         pi[4] = 2;
         write_npy(t + "/all__puzzle_indices.npy", "<i4", "(19,)", int32s(pi));
       },
       "all__puzzle_indices.npy", "must not decrease"},
      {"offsets that end short",
       [](const std::string& t) {
         std::vector<int32_t> pi(19);
         for (int k = 0; k < 19; ++k) pi[k] = k;
         pi[18] = 17;
         write_npy(t + "/all__puzzle_indices.npy", "<i4", "(19,)", int32s(pi));
       },
       "all__puzzle_indices.npy", "the last offset is 17, but all__inputs.npy has 18"},
      {"an empty group",
       [](const std::string& t) {
         write_npy(t + "/all__group_indices.npy", "<i4", "(7,)", int32s({0, 3, 3, 9, 12, 15, 18}));
       },
       "all__group_indices.npy", "a group holds at least one puzzle"},
      {"metadata without seq_len",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json") << "{\"vocab_size\": 6, \"sets\": [\"all\"]}";
       },
       "dataset.json", "no integer field 'seq_len'"},
      {"metadata with another ignore label",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 16, \"vocab_size\": 6, \"num_puzzle_identifiers\": 1, "
                "\"ignore_label_id\": 5, \"sets\": [\"all\"]}";
       },
       "dataset.json", "ignore_label_id = 5"},
      {"metadata with another padding token",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"pad_id\": 3, \"seq_len\": 16, \"vocab_size\": 6, "
                "\"num_puzzle_identifiers\": 1, \"sets\": [\"all\"]}";
       },
       "dataset.json", "pad_id = 3"},
      {"metadata with another blank puzzle id",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 16, \"vocab_size\": 6, \"num_puzzle_identifiers\": 1, "
                "\"blank_identifier_id\": 1, \"sets\": [\"all\"]}";
       },
       "dataset.json", "blank_identifier_id = 1"},
      // Found by a hostile pass: dataset.json was read by patterns (invalid JSON passed, 16.5
      // read as 16, 1.6e1 as 1), the .npy header's shape too (a minus sign dropped, a
      // dimension past int64 an internal error, a product past int64 an out-of-memory exit).
      {"metadata that is not JSON",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 16, \"vocab_size\": 6, \"num_puzzle_identifiers\": 1, "
                "\"sets\": [\"all\"]} garbage";
       },
       "dataset.json:1:", "text after the JSON value"},
      {"a fractional seq_len",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 16.5, \"vocab_size\": 6, \"num_puzzle_identifiers\": 1, "
                "\"sets\": [\"all\"]}";
       },
       "dataset.json:1:13", "seq_len = 16.5: expected an integer"},
      {"a quoted seq_len",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": \"16\", \"vocab_size\": 6, \"num_puzzle_identifiers\": 1, "
                "\"sets\": [\"all\"]}";
       },
       "dataset.json:1:13", "seq_len: expected an integer, not a string"},
      {"seq_len only inside another object",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"extra\": {\"seq_len\": 16}, \"vocab_size\": 6, "
                "\"num_puzzle_identifiers\": 1, \"sets\": [\"all\"]}";
       },
       "dataset.json", "no integer field 'seq_len'"},
      {"a negative dimension",
       [](const std::string& t) {
         write_npy(t + "/all__inputs.npy", "|u1", "(-18, -16)", std::string(18 * 16, '\1'));
       },
       "all__inputs.npy", "a negative dimension in 'shape'"},
      {"a dimension past int64",
       [](const std::string& t) {
         write_npy(t + "/all__inputs.npy", "|u1", "(99999999999999999999, 16)",
                   std::string(256, '\1'));
       },
       "all__inputs.npy", "a dimension of 'shape' out of range"},
      {"dimensions whose product is past int64",
       [](const std::string& t) {
         write_npy(t + "/all__labels.npy", "<i8", "(16, 524289, 274877382657)",
                   std::string(256, '\1'));
       },
       "all__labels.npy", "too large"},
      {"a symbolic link to itself",
       [](const std::string& t) {
         fs::remove(t + "/all__inputs.npy");
         fs::create_symlink("all__inputs.npy", t + "/all__inputs.npy");
       },
       "all__inputs.npy", "Too many levels of symbolic links"},
      {"a leading zero in a shape",
       [](const std::string& t) {
         write_npy(t + "/all__inputs.npy", "|u1", "(018, 16)", std::string(18 * 16, '\1'));
       },
       "all__inputs.npy", "a dimension of 'shape' with a leading zero"},
      {"a leading zero in dataset.json",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 016, \"vocab_size\": 6, \"num_puzzle_identifiers\": 1, "
                "\"sets\": [\"all\"]}";
       },
       "dataset.json:1:13", "'016' is not a number"},
      {"a byte-order mark",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "\xEF\xBB\xBF{\"seq_len\": 16, \"vocab_size\": 6, \"num_puzzle_identifiers\": "
                "1, \"sets\": [\"all\"]}";
       },
       "dataset.json:1:1", "a UTF-8 byte-order mark at the start"},
      {"a byte that is not UTF-8",
       [](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"name\": \"\xff\", \"seq_len\": 16, \"vocab_size\": 6, "
                "\"num_puzzle_identifiers\": 1, \"sets\": [\"all\"]}";
       },
       "dataset.json:1:11", "a byte that is not UTF-8 in a string"},
      {"two-dimensional offsets",
       [](const std::string& t) {
         std::vector<int32_t> pi(19);
         for (int k = 0; k < 19; ++k) pi[k] = k;
         write_npy(t + "/all__puzzle_indices.npy", "<i4", "(19, 1)", int32s(pi));
       },
       "all__puzzle_indices.npy", "must be one-dimensional"},
  };
  const TrialData made = make_trial_data(small_sudoku());
  for (const auto& c : cases) {
    const TempDir dir;
    write_reference_data(made.train, made.test, dir / "set");
    const std::string train = dir / "set" + "/train";
    c.make(train);
    const std::string e = error_of([&] {
      (void)reference_data_shape(dir / "set");
      (void)load_reference_split(train);
    });
    EXPECT_TRUE(has(e, train + "/" + c.file)) << c.what << ": " << e;
    EXPECT_TRUE(has(e, c.says)) << c.what << ": " << e;
  }
}

// Valid files that pattern matching misread or crashed on (std::regex recursed once per character
// of a long match: a dataset.json or .npy header with tens of KB in one value died of a stack
// overflow): each reads as the plain set does.
TEST(ReferenceData, LongOrUnusualButValidFilesRead) {
  const TrialData made = make_trial_data(small_sudoku());
  const std::string fields =
      "\"vocab_size\": 6, \"num_puzzle_identifiers\": 1, \"ignore_label_id\": 0, \"sets\": ";
  const std::vector<std::pair<const char*, std::function<void(const std::string&)>>> cases = {
      {"100000 spaces in dataset.json",
       [&](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\":" << std::string(100000, ' ') << "16, " << fields << "[\"all\""
             << std::string(100000, ' ') << "]}";
       }},
      {"seq_len written 1.6e1, and given twice (the last one counts, as in Python)",
       [&](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 99, " << fields << "[\"all\"], \"seq_len\": 1.6e1}";
       }},
      {"a number past a double's range in a field the reader does not use (Python reads inf)",
       [&](const std::string& t) {
         std::ofstream(t + "/dataset.json")
             << "{\"seq_len\": 16, " << fields << "[\"all\"], \"mean_puzzle_examples\": 1e400}";
       }},
      {"a dtype without its byte order ('u1', as np.dtype reads it)",
       [&](const std::string& t) {
         std::string payload(made.train.inputs.begin(), made.train.inputs.end());
         write_npy(t + "/all__inputs.npy", "u1",
                   "(" + std::to_string(made.train.num_examples()) + ", 16)", payload);
       }},
      {"a .npy header of 60000 bytes",
       [&](const std::string& t) {
         std::string payload(made.train.inputs.begin(), made.train.inputs.end());
         write_npy(t + "/all__inputs.npy", "|u1",
                   "(" + std::to_string(made.train.num_examples()) + "," + std::string(60000, ' ') +
                       "16)",
                   payload);
       }},
  };
  for (const auto& [what, make] : cases) {
    const TempDir dir;
    write_reference_data(made.train, made.test, dir / "set");
    const std::string train = dir / "set" + "/train";
    make(train);
    PuzzleArrays read;
    const std::string e = error_of([&] {
      (void)reference_data_shape(dir / "set");
      read = load_reference_split(train);
    });
    EXPECT_EQ(e, "(no DataError)") << what;
    EXPECT_EQ(read.inputs, made.train.inputs) << what;
    EXPECT_EQ(read.labels, made.train.labels) << what;
    EXPECT_EQ(read.seq_len, 16) << what;
  }
}

TEST(ReferenceData, SeveralSetsAreJoinedWithTheirOffsetsMoved) {
  const TempDir dir;
  const TrialData made = make_trial_data(small_sudoku());
  write_reference_data(made.train, made.test, dir / "set");
  const std::string t = dir / "set" + "/train";
  for (const char* name :
       {"inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"}) {
    fs::copy_file(t + "/all__" + name + ".npy", t + "/more__" + name + ".npy");
  }
  std::ofstream(t + "/dataset.json")
      << "{\"pad_id\": 0, \"ignore_label_id\": 0, \"seq_len\": 16, \"vocab_size\": 6, "
         "\"num_puzzle_identifiers\": 1, \"sets\": [\"all\", \"more\"]}";
  const PuzzleArrays both = load_reference_split(t);
  EXPECT_EQ(both.num_examples(), 36);
  EXPECT_EQ(both.num_puzzles(), 36);
  EXPECT_EQ(both.num_groups(), 12);
  EXPECT_EQ(both.puzzle_indices.back(), 36);
  EXPECT_EQ(both.group_indices.back(), 36);
  EXPECT_EQ(both.group_indices[7], made.train.group_indices[1] + 18);
  EXPECT_EQ(reference_data_shape(dir / "set").train.groups, 12);
}

}  // namespace
}  // namespace trm::core
