// Crash safety, demonstrated: a writer process is killed with SIGKILL at random instants, over and
// over on the same file, while this process reads the file concurrently. After every kill, every
// change the writer acknowledged must be there, and no reader may ever see a torn state.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "child_process.h"
#include "storage/results_file.h"
#include "storage_test_util.h"

namespace trm::storage {
namespace {

using testing::ChildProcess;
using testing::TempDir;

// What the killed writers reported as acknowledged, accumulated over all kills.
struct Acked {
  int64_t trials = 0;
  int64_t events = 0;
  int64_t changes = 0;  // acknowledged changes of every kind
  std::map<int64_t, int64_t> train, eval, attempts;

  void add(const std::vector<std::string>& lines) {
    for (const auto& line : lines) {
      std::istringstream in(line);
      std::string word, kind;
      int64_t t = 0, n = 0;
      in >> word >> kind;
      if (word != "acked") continue;
      ++changes;
      if (kind == "trials") in >> trials;
      if (kind == "event") ++events;
      if (kind == "train" && in >> t >> n) train[t] = std::max(train[t], n);
      if (kind == "eval" && in >> t >> n) eval[t] = std::max(eval[t], n);
      if (kind == "row" && in >> t >> n) attempts[t] = std::max(attempts[t], n);
    }
  }
};

// Problems in what `reader` shows: any record or row that is not exactly what the writer wrote,
// and, with `acked`, anything acknowledged that is missing.
std::vector<std::string> problems(const ResultsReader& reader, const Acked* acked) {
  std::vector<std::string> out;
  const auto rows = reader.trials();
  if (acked != nullptr && static_cast<int64_t>(rows.size()) < acked->trials) {
    out.push_back("trials: " + std::to_string(rows.size()) + " < acked " +
                  std::to_string(acked->trials));
  }
  for (const auto& row : rows) {
    const int64_t t = row.index;
    const std::string at = "trial " + std::to_string(t) + ": ";
    if (row.id != "id-" + std::to_string(t)) out.push_back(at + "id " + row.id);
    if (row.attempts > 0 && (row.error != "error text " + std::to_string(row.attempts) ||
                             row.host != "host-" + std::to_string(row.attempts))) {
      out.push_back(at + "torn row: attempts " + std::to_string(row.attempts) + ", " + row.error);
    }
    const auto train = reader.train(t);
    for (size_t j = 0; j < train.size(); ++j) {
      if (!same_fields(train[j], testing::train_record(t, static_cast<int64_t>(j)))) {
        out.push_back(at + "train record " + std::to_string(j) + " is wrong");
        break;
      }
    }
    const auto eval = reader.eval(t);
    for (size_t j = 0; j < eval.size(); ++j) {
      if (!same_fields(eval[j], testing::eval_record(t, static_cast<int64_t>(j)))) {
        out.push_back(at + "eval record " + std::to_string(j) + " is wrong");
        break;
      }
    }
    if (acked == nullptr) continue;
    const auto want = [&](const std::map<int64_t, int64_t>& m) {
      const auto it = m.find(t);
      return it == m.end() ? 0 : it->second;
    };
    if (static_cast<int64_t>(train.size()) < want(acked->train)) out.push_back(at + "lost train");
    if (static_cast<int64_t>(eval.size()) < want(acked->eval)) out.push_back(at + "lost eval");
    if (row.attempts < want(acked->attempts)) out.push_back(at + "lost row update");
  }
  if (acked != nullptr && static_cast<int64_t>(reader.events().size()) < acked->events) {
    out.push_back("events lost");
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < 8; ++i) out += "\n  " + lines[i];
  return out;
}

int kill_count() {
  const char* env = std::getenv("TRM_STORAGE_KILLS");
  return env != nullptr ? std::atoi(env) : 40;
}

TEST(StorageCrash, KillMinus9AtRandomInstantsLosesNoAcknowledgedChange) {
  const TempDir dir;
  const std::string path = dir.file("results.h5");
  Acked acked;
  std::mt19937 rng(20251130);
  int live_reads = 0, rebuilt = 0, unrepaired_ok = 0, during_open = 0;
  std::vector<std::string> torn;
  const int kills = kill_count();
  for (int k = 0; k < kills; ++k) {
    ChildProcess child({TRM_CRASH_WRITER, path, std::to_string(rng())});
    const auto start = std::chrono::steady_clock::now();
    // Every other kill lands early: while the writer starts, opens or rebuilds the file.
    const int most_ms = k % 2 == 0 ? 500 : 60;
    const auto live_for =
        std::chrono::milliseconds(std::uniform_int_distribution<>(0, most_ms)(rng));
    // Readers in another process, while the writer works: never a torn state.
    while (std::chrono::steady_clock::now() - start < live_for) {
      child.read_for(5);
      // A file created between this look and the open is "no such file" there: not torn. (The
      // file appears by a rename, so once it exists it never goes missing.)
      const bool existed = std::filesystem::exists(path);
      try {
        const ResultsReader reader(path);
        for (auto& p : problems(reader, nullptr)) torn.push_back("live read: " + p);
        ++live_reads;
      } catch (const StorageError& e) {
        const bool not_yet = std::string(e.what()).find(": no such file") != std::string::npos;
        if (existed || (std::filesystem::exists(path) && !not_yet))
          torn.push_back(std::string("live read: ") + e.what());
      }
    }
    child.kill_now();
    child.read_to_end();
    during_open += child.lines().empty() ? 1 : 0;  // killed while starting or rebuilding
    acked.add(child.lines());
    if (acked.trials == 0) continue;  // killed before the file was first created

    // Left as the kill left it: readers still open it and find every acknowledged change.
    try {
      const ResultsReader reader(path);
      if (problems(reader, &acked).empty()) ++unrepaired_ok;
    } catch (const StorageError&) {
    }
    // The writer's own recovery, on a copy (the next writer meets the killed file itself).
    const std::string copy = dir.file("copy.h5");
    std::filesystem::remove(copy);
    std::filesystem::remove(journal_path(copy));
    if (std::filesystem::exists(path)) std::filesystem::copy_file(path, copy);
    std::filesystem::copy_file(journal_path(path), journal_path(copy));
    {
      ResultsWriter writer = ResultsWriter::open(copy);
      rebuilt += writer.rebuilt() ? 1 : 0;
    }
    const ResultsReader reader(copy);
    const auto missing = problems(reader, &acked);
    ASSERT_TRUE(missing.empty()) << "after kill " << k + 1 << joined(missing);
  }
  EXPECT_TRUE(torn.empty()) << torn.size() << " bad reads" << joined(torn);
  std::printf(
      "[ storage ] %d kills (%d before the first acknowledgement: starting, opening, "
      "rebuilding), %lld acknowledged changes (%lld trials), all kept; %d live reads, %zu "
      "torn; %d recoveries rebuilt from the journal; the killed file itself held every "
      "acknowledged change for readers %d times\n",
      kills, during_open, static_cast<long long>(acked.changes),
      static_cast<long long>(acked.trials), live_reads, torn.size(), rebuilt, unrepaired_ok);
  EXPECT_GT(live_reads, kills);
}

TEST(StorageCrash, ReaderSeesExactlyWhatAnIdleWriterAcknowledged) {
  const TempDir dir;
  const std::string path = dir.file("results.h5");
  ChildProcess child({TRM_CRASH_WRITER, path, "7", "hold", "200"});
  while (child.lines().empty() || child.lines().back() != "held") {
    ASSERT_TRUE(child.read_for(10000)) << "the writer ended before holding";
  }
  Acked acked;
  acked.add(child.lines());
  {
    const ResultsReader reader(path);
    EXPECT_TRUE(problems(reader, &acked).empty()) << joined(problems(reader, &acked));
    for (const auto& [t, n] : acked.train) EXPECT_EQ(reader.train_rows(t), n) << "trial " << t;
    for (const auto& [t, n] : acked.eval) EXPECT_EQ(reader.eval_rows(t), n) << "trial " << t;
  }
  child.close_stdin();
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // A clean close is continued in place, without a rebuild.
  ResultsWriter writer = ResultsWriter::open(path);
  EXPECT_FALSE(writer.rebuilt());
}

}  // namespace
}  // namespace trm::storage
