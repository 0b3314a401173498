// ARC's evaluator (core/arc_eval.h): NumPy's dihedral transforms, the reference's crop, the
// voting and pass@K, and the two files it reads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/arc_eval.h"
#include "core/errors.h"
#include "core/reference_data.h"
#include "core/trial_data.h"

namespace trm::core {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "trm_arc_XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

ArcGrid grid(const std::vector<std::vector<int>>& rows) {
  ArcGrid g;
  g.rows = static_cast<int64_t>(rows.size());
  g.cols = static_cast<int64_t>(rows.front().size());
  for (const auto& row : rows) {
    for (const int v : row) g.cells.push_back(static_cast<uint8_t>(v));
  }
  return g;
}

// The grid on a 30x30 canvas as the reference's builder writes a test example: at the top left,
// colours as tokens 2..11, an end-of-grid row below it and column right of it, the rest pad.
std::vector<uint8_t> canvas(const ArcGrid& g) {
  std::vector<uint8_t> t(900, 0);
  for (int64_t i = 0; i < g.rows; ++i) {
    for (int64_t j = 0; j < g.cols; ++j) t[i * 30 + j] = g.cells[i * g.cols + j] + 2;
    if (g.cols < 30) t[i * 30 + g.cols] = 1;
  }
  if (g.rows < 30) {
    for (int64_t j = 0; j < g.cols; ++j) t[g.rows * 30 + j] = 1;
  }
  return t;
}

// An augmentation as the reference's builder applies it: colour k becomes perm[k], then the
// dihedral transform.
ArcGrid augment(const ArcGrid& g, int64_t dihedral, const std::string& perm) {
  ArcGrid c = g;
  for (auto& v : c.cells) v = static_cast<uint8_t>(perm[v] - '0');
  return dihedral_transform(c, dihedral);
}

TEST(ArcEval, DihedralTransformsAreNumpysAndEachIsUndone) {
  const ArcGrid a = grid({{0, 1, 2}, {3, 4, 5}});
  // NumPy's results on this array, in the reference's order of ids (dataset/common.py).
  const std::vector<ArcGrid> numpy = {a,
                                      grid({{2, 5}, {1, 4}, {0, 3}}),   // np.rot90(a, 1)
                                      grid({{5, 4, 3}, {2, 1, 0}}),     // np.rot90(a, 2)
                                      grid({{3, 0}, {4, 1}, {5, 2}}),   // np.rot90(a, 3)
                                      grid({{2, 1, 0}, {5, 4, 3}}),     // np.fliplr(a)
                                      grid({{3, 4, 5}, {0, 1, 2}}),     // np.flipud(a)
                                      grid({{0, 3}, {1, 4}, {2, 5}}),   // a.T
                                      grid({{5, 2}, {4, 1}, {3, 0}})};  // np.fliplr(np.rot90(a, 1))
  for (int64_t id = 0; id < 8; ++id) {
    EXPECT_EQ(dihedral_transform(a, id), numpy[id]) << "id " << id;
    EXPECT_EQ(inverse_dihedral_transform(dihedral_transform(a, id), id), a) << "id " << id;
  }
  EXPECT_THROW(dihedral_transform(a, 8), InternalError);
}

TEST(ArcEval, CropTakesTheLargestTopLeftRectangleOfColours) {
  const ArcGrid g = grid({{0, 9, 3, 4}, {5, 6, 7, 8}, {1, 2, 3, 4}});
  EXPECT_EQ(crop_arc_canvas(canvas(g).data()), g);

  // Rows of 5, 5 and 2 colours, then pad: 2x5 (area 10) beats 3x2 (area 6).
  std::vector<uint8_t> t(900, 0);
  for (int j = 0; j < 5; ++j) t[j] = t[30 + j] = 7;
  t[60] = t[61] = 7;
  EXPECT_EQ(crop_arc_canvas(t.data()), grid({{5, 5, 5, 5, 5}, {5, 5, 5, 5, 5}}));

  // Rows of 2, 5 and 5: a row can only narrow the rectangle, so 3x2.
  std::fill(t.begin(), t.end(), 0);
  t[0] = t[1] = 3;
  for (int j = 0; j < 5; ++j) t[30 + j] = t[60 + j] = 3;
  EXPECT_EQ(crop_arc_canvas(t.data()), grid({{1, 1}, {1, 1}, {1, 1}}));

  // No colour at the top left: the empty grid. A whole canvas of colours: all of it.
  std::fill(t.begin(), t.end(), 1);
  EXPECT_EQ(crop_arc_canvas(t.data()).cells.size(), 0u);
  std::fill(t.begin(), t.end(), 11);
  const ArcGrid full = crop_arc_canvas(t.data());
  EXPECT_EQ(full.rows, 30);
  EXPECT_EQ(full.cols, 30);
}

ArcTestSet two_tasks() {
  ArcTestSet set;
  set.dir = "/nowhere";
  set.identifiers = {"<blank>",
                     "a",
                     "a|||t1|||0213456789",
                     "a|||t5|||0987654321",
                     "a|||t7|||0123456798",
                     "b",
                     "b|||t3|||0912345678",
                     "zzz|||t2|||0123456789"};
  set.tasks.push_back({"a", {grid({{1, 2, 3}, {4, 5, 6}})}, {grid({{6, 5}, {4, 3}, {2, 1}})}});
  set.tasks.push_back({"b", {grid({{1}}), grid({{2, 2}})}, {grid({{8, 8}, {8, 0}}), grid({{9}})}});
  return set;
}

TEST(ArcEval, PredictionsVoteAfterTheirAugmentationIsUndone) {
  const ArcTestSet set = two_tasks();
  const auto& a = set.tasks[0];
  const auto& b = set.tasks[1];
  const ArcGrid wrong = grid({{6, 5}, {4, 3}, {2, 2}});
  ArcVoter voter(set);
  auto add = [&](int64_t id, const ArcGrid& input, const ArcGrid& prediction, double q) {
    const auto in = canvas(input), out = canvas(prediction);
    voter.add(id, in.data(), out.data(), q);
  };
  // Task a: the label, predicted under two augmentations, gets 2 votes; `wrong` gets 3, two of
  // them under augmentations, so the label ranks second.
  add(2, augment(a.inputs[0], 1, "0213456789"), augment(a.outputs[0], 1, "0213456789"), 0.9);
  add(3, augment(a.inputs[0], 5, "0987654321"), augment(a.outputs[0], 5, "0987654321"), 0.9);
  add(1, a.inputs[0], wrong, 0.1);
  add(4, augment(a.inputs[0], 7, "0123456798"), augment(wrong, 7, "0123456798"), 0.1);
  add(2, augment(a.inputs[0], 1, "0213456789"), augment(wrong, 1, "0213456789"), 0.1);
  // A prediction of another input of task a, of a task not in the set, and padding: no votes.
  add(1, grid({{1, 2, 3}}), a.outputs[0], 1.0);
  add(7, augment(a.inputs[0], 2, "0123456789"), augment(a.outputs[0], 2, "0123456789"), 1.0);
  add(0, a.inputs[0], a.outputs[0], 1.0);
  // Task b's first input: the label ties a wrong grid on votes and wins on mean q; its second
  // input has no prediction at all (not solved, still counted).
  add(5, b.inputs[0], grid({{8, 8}, {8, 1}}), 0.4);
  add(6, augment(b.inputs[0], 3, "0912345678"), augment(b.outputs[0], 3, "0912345678"), 0.6);

  const auto pass = voter.pass_at();
  // pass@1: a 0, b 1/2 -> 0.25; pass@2 and above: a 1, b 1/2 -> 0.75.
  EXPECT_DOUBLE_EQ(pass[0], 0.25);
  for (size_t k = 1; k < pass.size(); ++k) EXPECT_DOUBLE_EQ(pass[k], 0.75) << kArcPassK[k];

  // With more votes the wrong grid of task b's first input goes first: pass@1 = 0 there.
  add(5, b.inputs[0], grid({{8, 8}, {8, 1}}), 0.0);
  EXPECT_DOUBLE_EQ(voter.pass_at()[0], 0.0);
  EXPECT_DOUBLE_EQ(voter.pass_at()[1], 0.75);

  // An id past identifiers.json is said, naming the file.
  const auto in = canvas(a.inputs[0]);
  try {
    voter.add(8, in.data(), in.data(), 0.5);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/nowhere/identifiers.json: names 8 puzzle ids"),
              std::string::npos)
        << e.what();
  }
}

TEST(ArcEval, TrialIdsOfEarlierFilesStayWhileVotesArePooled) {
  TrialConfig c;
  EXPECT_EQ(canonical_text(c).find("arc_aggregated_voting"), std::string::npos);
  c.train.arc_aggregated_voting = false;
  EXPECT_NE(canonical_text(c).find("train.arc_aggregated_voting = false\n"), std::string::npos)
      << canonical_text(c);
}

// submission.json as the reference writes it: per task, per predicted test input, the first two
// candidates (the first repeated when alone); an input without predictions has no entry.
TEST(ArcEval, TheSubmissionHoldsTheFirstTwoCandidatesOfEachPredictedInput) {
  ArcTestSet set = two_tasks();
  set.tasks[1].name = "b\"\\";
  set.identifiers[5] = "b\"\\";
  const auto& a = set.tasks[0];
  const auto& b = set.tasks[1];
  EXPECT_EQ(ArcVoter(set).submission(), "{\"a\": [],\n \"b\\\"\\\\\": []}\n");
  ArcVoter voter(set);
  auto add = [&](int64_t id, const ArcGrid& input, const ArcGrid& prediction, double q) {
    const auto in = canvas(input), out = canvas(prediction);
    voter.add(id, in.data(), out.data(), q);
  };
  const ArcGrid wrong = grid({{6, 5}, {4, 3}, {2, 2}});
  add(1, a.inputs[0], a.outputs[0], 0.9);
  add(1, a.inputs[0], wrong, 0.1);
  add(4, augment(a.inputs[0], 7, "0123456798"), augment(wrong, 7, "0123456798"), 0.1);
  add(5, b.inputs[0], b.outputs[0], 0.5);
  EXPECT_EQ(
      voter.submission(),
      "{\"a\": [{\"attempt_1\": [[6, 5], [4, 3], [2, 2]], \"attempt_2\": [[6, 5], [4, 3], "
      "[2, 1]]}],\n \"b\\\"\\\\\": [{\"attempt_1\": [[8, 8], [8, 0]], \"attempt_2\": [[8, 8], "
      "[8, 0]]}]}\n");
}

// A checkpoint keeps pooled votes as bytes: restored, they rank as before and after more votes.
TEST(ArcEval, SavedVotesRestoreToTheSameRanking) {
  const ArcTestSet set = two_tasks();
  const auto& a = set.tasks[0];
  const auto& b = set.tasks[1];
  auto add = [](ArcVoter& v, int64_t id, const ArcGrid& input, const ArcGrid& prediction,
                double q) {
    const auto in = canvas(input), out = canvas(prediction);
    v.add(id, in.data(), out.data(), q);
  };
  ArcVoter first(set);
  add(first, 1, a.inputs[0], a.outputs[0], 0.3);
  add(first, 1, a.inputs[0], grid({{1}}), 0.7);
  add(first, 5, b.inputs[0], b.outputs[0], 0.5);
  add(first, 5, b.inputs[1], grid({{2}}), 0.5);
  const std::string bytes = first.save();
  ArcVoter restored(set);
  restored.restore(bytes, "test");
  EXPECT_EQ(restored.save(), bytes);
  EXPECT_EQ(restored.predictions(), 4);
  EXPECT_EQ(restored.pass_at(), first.pass_at());
  EXPECT_DOUBLE_EQ(first.pass_at()[0], 0.25);  // a: {1} wins on q; b: 1 of 2 inputs
  for (ArcVoter* v : {&first, &restored}) add(*v, 1, a.inputs[0], a.outputs[0], 0.1);
  EXPECT_EQ(restored.pass_at(), first.pass_at());
  EXPECT_DOUBLE_EQ(first.pass_at()[0], 0.75);
  EXPECT_EQ(restored.save(), first.save());

  for (const std::string& bad :
       {std::string(), bytes.substr(0, bytes.size() - 1), bytes + "x", std::string(8, '\x02')}) {
    try {
      restored.restore(bad, "checkpoint c.pt");
      ADD_FAILURE() << "no error for " << bad.size() << " bytes";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("checkpoint c.pt: ARC's pooled votes are "),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(restored.save(), first.save());  // a failed restore leaves the votes as they were
}

TEST(ArcEval, NoPredictionsScoreZero) {
  const ArcTestSet set = two_tasks();
  for (const double p : ArcVoter(set).pass_at()) EXPECT_EQ(p, 0.0);
}

TEST(ArcEval, TheFilesAreReadInOrderWithJsonEscapes) {
  TempDir dir;
  write(dir / "identifiers.json", "[\"<blank>\", \"t\\u00e9st|||t6|||0123456789\", \"x\\/y\"]\n");
  write(dir / "test_puzzles.json",
        "{\"t\\u00e9st\": {\"train\": [{\"input\": [[1]], \"output\": [[2]]}],\n"
        "  \"test\": [{\"input\": [[1, 2], [3, 4]], \"output\": [[0]]},\n"
        "             {\"output\": [[5, 5, 5]], \"input\": [[9]]}]},\n"
        " \"abc\": {\"test\": [{\"input\": [[0]], \"output\": [[1]]}]}}");
  const ArcTestSet set = load_arc_test_set(dir.path.string());
  ASSERT_EQ(set.identifiers.size(), 3u);
  EXPECT_EQ(set.identifiers[1], "t\xC3\xA9st|||t6|||0123456789");
  EXPECT_EQ(set.identifiers[2], "x/y");
  ASSERT_EQ(set.tasks.size(), 2u);
  EXPECT_EQ(set.tasks[0].name, "t\xC3\xA9st");
  EXPECT_EQ(set.tasks[0].inputs, (std::vector<ArcGrid>{grid({{1, 2}, {3, 4}}), grid({{9}})}));
  EXPECT_EQ(set.tasks[0].outputs, (std::vector<ArcGrid>{grid({{0}}), grid({{5, 5, 5}})}));
  EXPECT_EQ(set.tasks[1].name, "abc");
  EXPECT_TRUE(has_arc_test_set(dir.path.string()));
  EXPECT_FALSE(has_arc_test_set((dir.path / "nope").string()));
}

TEST(ArcEval, BadFilesAreNamedWithWhereAndWhat) {
  const std::string good_ids = "[\"<blank>\", \"a|||t1|||0123456789\"]";
  const std::string good_tasks = "{\"a\": {\"test\": [{\"input\": [[1]], \"output\": [[2]]}]}}";
  struct Case {
    std::string ids, tasks, file, expected;
  };
  const std::vector<Case> cases = {
      {"{}", good_tasks, "identifiers.json:1:1", "not a list of puzzle names"},
      {"[\"<blank>\", 3]", good_tasks, "identifiers.json:1:13", "puzzle id 1: not a name"},
      {"[\"a|||t8|||0123456789\"]", good_tasks, "identifiers.json:1:2",
       "'t8' is not a dihedral transform t0..t7"},
      {"[\"a|||t1|||0123456788\"]", good_tasks, "identifiers.json:1:2",
       "not a permutation of the colours"},
      {"[\"a|||t1\"]", good_tasks, "identifiers.json:1:2", "not of the form"},
      {"[\"a\",\n \"b]", good_tasks, "identifiers.json:2:2", "a string that never ends"},
      {good_ids, "[]", "test_puzzles.json:1:1", "not an object of tasks by name"},
      {good_ids, "{}", "test_puzzles.json:1:1", "no tasks"},
      {good_ids, good_tasks + " x", "test_puzzles.json:1:54", "text after the JSON value"},
      {good_ids, "{\"a\": {\"train\": []}}", "test_puzzles.json:1:7", "no \"test\" list"},
      {good_ids, "{\"a\": {\"test\": [{\"input\": [[1]]}]}}", "test_puzzles.json:1:17",
       "task 'a' test pair 0: needs both \"input\" and \"output\""},
      {good_ids, "{\"a\": {\"test\": [{\"input\": [[1, 2], [3]], \"output\": [[2]]}]}}",
       "test_puzzles.json:1:36", "task 'a' test pair 0 input: rows of different lengths"},
      {good_ids, "{\"a\": {\"test\": [{\"input\": [[1]], \"output\": [[10]]}]}}",
       "test_puzzles.json:1:46", "task 'a' test pair 0 output: a colour that is not an integer"},
      {good_ids, "{\"a\": {\"test\": [{\"input\": [[1.5]], \"output\": [[1]]}]}}",
       "test_puzzles.json:1:29", "a colour that is not an integer 0..9"},
      {good_ids, "{\"a\": {\"test\": [{\"input\": [[1]], \"output\": [[1]],}]}}",
       "test_puzzles.json:1:50", "expected a member name in quotes"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    write(dir / "identifiers.json", c.ids);
    write(dir / "test_puzzles.json", c.tasks);
    try {
      (void)load_arc_test_set(dir.path.string());
      ADD_FAILURE() << "no error for " << c.ids << " / " << c.tasks;
    } catch (const DataError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find((dir.path / c.file).string()), std::string::npos) << what;
      EXPECT_NE(what.find(c.expected), std::string::npos) << what;
    }
  }
  TempDir dir;
  write(dir / "test_puzzles.json", good_tasks);
  try {
    (void)load_arc_test_set(dir.path.string());
    ADD_FAILURE() << "no error without identifiers.json";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("identifiers.json: no such file"), std::string::npos)
        << e.what();
  }
}

// Damaged files (bytes changed, dropped or added at random, deterministically) are a DataError or
// read; never another exception, a crash or a hang.
TEST(ArcEval, RandomlyDamagedFilesAreReadOrRefusedAsDataErrors) {
  const std::string ids = "[\"<blank>\", \"a|||t1|||0213456789\", \"b\\u00e9\"]";
  const std::string tasks =
      "{\"a\": {\"train\": [{\"input\": [[1, 2]], \"output\": [[3], [4]]}],\n"
      " \"test\": [{\"input\": [[1, 2], [3, 4]], \"output\": [[0, 9, 8]]}]},\n"
      " \"b\u00e9\": {\"test\": [{\"input\": [[5]], \"output\": [[6.0]]}]}}";
  const std::string alphabet = "{}[]\",:\\/ 0123456789.eE+-tfnulrsa|\n\x01\xC3\xA9";
  TempDir dir;
  uint64_t state = 12345;
  auto next = [&](uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((state >> 33) % n);
  };
  int64_t read = 0, refused = 0;
  for (int round = 0; round < 600; ++round) {
    std::string files[2] = {ids, tasks};
    std::string& f = files[round % 2];
    for (int edits = 1 + static_cast<int>(next(3)); edits > 0; --edits) {
      const size_t at = next(f.size() + 1);
      switch (next(3)) {
        case 0:
          if (at < f.size()) f[at] = alphabet[next(alphabet.size())];
          break;
        case 1:
          if (at < f.size()) f.erase(at, 1 + next(4));
          break;
        default:
          f.insert(at, 1, alphabet[next(alphabet.size())]);
          break;
      }
    }
    write(dir / "identifiers.json", files[0]);
    write(dir / "test_puzzles.json", files[1]);
    try {
      (void)load_arc_test_set(dir.path.string());
      ++read;
    } catch (const DataError& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find(".json"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(refused, 300);  // most damage is refused
  EXPECT_GT(read, 0);       // some is harmless (a space, another digit)
}

// An ARC-shaped data set on disk: 30x30 canvases (seq_len 900), `ids` test puzzles of one example.
PuzzleArrays arc_split(int32_t puzzles) {
  PuzzleArrays a;
  a.seq_len = 900;
  a.vocab_size = 12;
  const ArcGrid g = grid({{1, 2}, {3, 4}});
  for (int32_t p = 0; p < puzzles; ++p) {
    const auto c = canvas(g);
    a.inputs.insert(a.inputs.end(), c.begin(), c.end());
    a.labels.insert(a.labels.end(), c.begin(), c.end());
    a.puzzle_identifiers.push_back(p + 1);
    a.puzzle_indices.push_back(p);
  }
  a.puzzle_indices.push_back(puzzles);
  a.group_indices = {0, puzzles};
  return a;
}

TEST(ArcEval, AReferenceFolderWithTestPuzzlesLoadsTheEvaluator) {
  TempDir dir;
  const std::string root = dir / "arc";
  write_reference_data(arc_split(3), arc_split(3), root);
  DataConfig d;
  d.source = DataSource::reference;
  d.path = root;
  EXPECT_EQ(make_trial_data(d).arc, nullptr);  // no test_puzzles.json: not ARC

  write(root + "/test_puzzles.json",
        "{\"a\": {\"test\": [{\"input\": [[1]], \"output\": [[2]]}]}}");
  write(root + "/identifiers.json", "[\"<blank>\", \"a\", \"a|||t1|||0123456789\"]");
  try {
    (void)make_trial_data(d);
    ADD_FAILURE() << "no error for a test split using id 3 of 3 names";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("identifiers.json: names 3 puzzle ids, but the test "
                                         "split uses id 3"),
              std::string::npos)
        << e.what();
  }
  write(root + "/identifiers.json", "[\"<blank>\", \"a\", \"a|||t1|||0123456789\", \"b\"]");
  const TrialData data = make_trial_data(d);
  ASSERT_NE(data.arc, nullptr);
  EXPECT_EQ(data.arc->tasks.size(), 1u);
  EXPECT_EQ(data.arc->identifiers.size(), 4u);

  // test_puzzles.json beside examples that are not 30x30 canvases.
  PuzzleArrays small = arc_split(1);
  small.seq_len = 4;
  small.inputs.resize(4);
  small.labels.resize(4);
  const std::string other = dir / "other";
  write_reference_data(small, small, other);
  write(other + "/test_puzzles.json",
        "{\"a\": {\"test\": [{\"input\": [[1]], \"output\": [[2]]}]}}");
  d.path = other;
  try {
    (void)make_trial_data(d);
    ADD_FAILURE() << "no error for seq_len 4";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/test: seq_len = 4: the folder has test_puzzles.json"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace trm::core
