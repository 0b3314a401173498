// Bad input and a hostile environment: each gives one clear StorageError naming the path, and a
// results file that existed before is never damaged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <sstream>

#include "storage/results_file.h"
#include "storage_test_util.h"

namespace trm::storage {
namespace {

using testing::sample_header;
using testing::sample_trials;
using testing::TempDir;

// The message of the StorageError `fn` throws ("" when it throws none).
std::string storage_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const StorageError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A small finished sweep: trial 0 has 50 train records.
void write_sample(const std::string& path) {
  ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(2));
  std::vector<core::TrainRecord> records;
  for (int s = 0; s < 50; ++s) records.push_back(testing::train_record(0, s));
  w.append_train(0, records);
}

void expect_sample_intact(const std::string& path) {
  const ResultsReader r(path);
  ASSERT_EQ(r.train_rows(0), 50);
  EXPECT_TRUE(same_fields(r.train(0).back(), testing::train_record(0, 49)));
}

// Runs `fn` in a forked child, which then exits through exit() (atexit handlers, HDF5's
// included, run as in a real program); returns what `fn` returned and the child's wait status.
std::pair<std::string, int> in_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return {"pipe failed", -1};
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("unexpected: ") + e.what();
    }
    [[maybe_unused]] const auto n = ::write(fds[1], out.data(), out.size());
    std::exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {out, status};
}

TEST(StorageBadInput, AMissingFileIsNamedWithTheFix) {
  const TempDir dir;
  const std::string path = dir.file("nowhere.h5");
  const auto read = storage_error_of([&] { ResultsReader{path}; });
  EXPECT_TRUE(contains(read, path + ": no such file")) << read;
  const auto write = storage_error_of([&] { ResultsWriter::open(path); });
  EXPECT_TRUE(contains(write, "trm-sweep run")) << write;
}

// A results file named through symbolic links (relative, absolute, chained, or to a file not made
// yet) is the file itself, so that its journal and trial folders are found beside it; a loop of
// links is an error naming the path.
TEST(StorageBadInput, AResultsFileNamedThroughASymbolicLinkIsTheFileItself) {
  namespace fs = std::filesystem;
  const TempDir dir;
  fs::create_directories(dir.file("scratch"));
  fs::create_directories(dir.file("home"));
  std::ofstream(dir.file("scratch/real.h5")) << "x";
  fs::create_symlink("../scratch/real.h5", dir.file("home/rel.h5"));
  fs::create_symlink(dir.file("home/rel.h5"), dir.file("home/chain.h5"));
  fs::create_symlink("../scratch/new.h5", dir.file("home/dangling.h5"));
  EXPECT_EQ(resolve_results_path(dir.file("home/rel.h5")), dir.file("scratch/real.h5"));
  EXPECT_EQ(resolve_results_path(dir.file("home/chain.h5")), dir.file("scratch/real.h5"));
  EXPECT_EQ(resolve_results_path(dir.file("home/dangling.h5")), dir.file("scratch/new.h5"));
  EXPECT_EQ(resolve_results_path(dir.file("scratch/real.h5")), dir.file("scratch/real.h5"));
  EXPECT_EQ(resolve_results_path("plain.h5"), "plain.h5");
  fs::create_symlink("b.h5", dir.file("a.h5"));
  fs::create_symlink("a.h5", dir.file("b.h5"));
  const auto loop = storage_error_of([&] { (void)resolve_results_path(dir.file("a.h5")); });
  EXPECT_TRUE(contains(loop, dir.file("a.h5") + ": too many levels")) << loop;
}

// A pipe or folder given as the results file (or its journal) is refused at once: reading a
// FIFO with no writer blocked `status`, `export`, `run -o` and `merge` for ever.
TEST(StorageBadInput, APipeOrFolderIsRefusedWithoutReadingIt) {
  const TempDir dir;
  const std::string fifo = dir.file("pipe.h5");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto read = storage_error_of([&] { ResultsReader{fifo}; });
  EXPECT_TRUE(contains(read, fifo + ": is a pipe, not a results file")) << read;
  EXPECT_TRUE(contains(storage_error_of([&] { ResultsWriter::open(fifo); }), "is a pipe"));
  EXPECT_TRUE(contains(
      storage_error_of([&] { ResultsWriter::create(fifo, sample_header(), sample_trials(1)); }),
      "is a pipe"));
  const std::string folder = dir.file("folder.h5");
  std::filesystem::create_directory(folder);
  EXPECT_TRUE(contains(storage_error_of([&] { ResultsReader{folder}; }), "is a folder"));
  // A journal that is a folder: the results file beside it is neither read nor made.
  const std::string path = dir.file("r.h5");
  std::filesystem::create_directory(path + ".journal");
  EXPECT_TRUE(contains(
      storage_error_of([&] { ResultsWriter::create(path, sample_header(), sample_trials(1)); }),
      "r.h5.journal: is a folder, not a results file's journal"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(StorageBadInput, AFileThatIsNotHdf5IsRefused) {
  const TempDir dir;
  const std::string path = dir.file("notes.h5");
  std::ofstream(path) << "name,accuracy\nbase,0.87\n";
  const auto e = storage_error_of([&] { ResultsReader{path}; });
  EXPECT_TRUE(contains(e, path + ": not an HDF5 file")) << e;
  EXPECT_TRUE(contains(storage_error_of([&] { ResultsWriter::open(path); }), path));
}

TEST(StorageBadInput, ATruncatedFileIsRefusedOrRebuiltFromItsJournal) {
  const TempDir dir;
  const std::string path = dir.file("cut.h5");
  write_sample(path);
  const std::string copy = dir.file("cut-copy.h5");
  std::filesystem::copy_file(path, copy);
  const auto half = std::filesystem::file_size(path) / 2;
  std::filesystem::resize_file(path, half);
  std::filesystem::resize_file(copy, half);

  const auto e = storage_error_of([&] { ResultsReader{path}; });
  EXPECT_TRUE(contains(e, "damaged or truncated")) << e;
  EXPECT_TRUE(contains(e, "trm-sweep resume")) << e;  // its journal can rebuild it
  const auto no_journal = storage_error_of([&] { ResultsWriter::open(copy); });
  EXPECT_TRUE(contains(no_journal, "journal")) << no_journal;
  EXPECT_EQ(std::filesystem::file_size(copy), half);  // left as it was

  EXPECT_TRUE(ResultsWriter::open(path).rebuilt());
  expect_sample_intact(path);
}

// The same for a file whose writer was killed (open in SWMR mode, never closed): a SWMR reader
// skips HDF5's end-of-file check and retried each bad metadata block 100 times, sleeping twice
// as long each time, so every reader of such a file cut short hung for hours.
TEST(StorageBadInput, ATruncatedFileOfAKilledWriterIsRefusedOrRebuiltFromItsJournal) {
  for (const uintmax_t size : {uintmax_t{3000}, uintmax_t{50000}}) {
    SCOPED_TRACE(size);
    const TempDir dir;
    const std::string path = dir.file("killed.h5");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(2));
      std::vector<core::TrainRecord> records;
      for (int s = 0; s < 50; ++s) records.push_back(testing::train_record(0, s));
      w.append_train(0, records);
      ::_exit(0);  // as SIGKILL: the file is never closed
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_GT(std::filesystem::file_size(path), size);
    std::filesystem::resize_file(path, size);

    const auto e = storage_error_of([&] { ResultsReader{path}; });
    EXPECT_TRUE(contains(e, "damaged or truncated")) << e;
    EXPECT_TRUE(contains(e, "trm-sweep resume")) << e;
    EXPECT_TRUE(ResultsWriter::open(path).rebuilt());
    expect_sample_intact(path);
  }
}

// A power loss can leave the HDF5 file ahead of its journal: HDF5 writes pages it evicts before
// the group's sync, and the journal's unsynced tail is lost. Made here by putting back a copy of
// the journal taken mid-run. With a torn tail (what a power loss leaves) the file is set aside
// and rebuilt from the journal; without one it is refused, changing nothing, unless asked.
TEST(StorageBadInput, AFileAheadOfItsJournalIsRebuiltAfterAPowerLossOrWhenAsked) {
  for (const bool torn : {true, false}) {
    SCOPED_TRACE(torn ? "the journal ends in a torn tail" : "the journal ends cleanly");
    const TempDir dir;
    const std::string path = dir.file("ahead.h5");
    const std::string journal = path + ".journal";
    const std::string early = dir.file("early.journal");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ResultsWriter w = ResultsWriter::create(path, sample_header(), sample_trials(2));
      std::vector<core::TrainRecord> records;
      for (int s = 0; s < 50; ++s) records.push_back(testing::train_record(0, s));
      w.append_train(0, {records.begin(), records.begin() + 20});
      std::filesystem::copy_file(journal, early);
      w.append_train(0, {records.begin() + 20, records.end()});
      ::_exit(0);  // killed: never closed
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::filesystem::copy_file(early, journal, std::filesystem::copy_options::overwrite_existing);
    if (torn)
      std::ofstream(journal, std::ios::binary | std::ios::app) << std::string("\x40\0\0\0half", 8);
    const auto journal_size = std::filesystem::file_size(journal);
    const auto file_size = std::filesystem::file_size(path);

    if (!torn) {
      const auto e = storage_error_of([&] { ResultsWriter::open(path); });
      EXPECT_TRUE(contains(e, "holds less than")) << e;
      EXPECT_TRUE(contains(e, "--from-journal")) << e;
      EXPECT_EQ(std::filesystem::file_size(journal), journal_size);  // nothing changed
      EXPECT_EQ(std::filesystem::file_size(path), file_size);
      EXPECT_EQ(ResultsReader(path).train_rows(0), 50);
    }
    {
      ResultsWriter w = ResultsWriter::open(path, /*from_journal=*/!torn);
      EXPECT_TRUE(w.rebuilt());
      EXPECT_EQ(w.set_aside(), path + ".before-rebuild");
      EXPECT_EQ(w.train_rows(0), 20);  // what the journal acknowledged
      w.close();
    }
    EXPECT_EQ(ResultsReader(path).train_rows(0), 20);
    EXPECT_EQ(ResultsReader(path + ".before-rebuild").train_rows(0), 50);  // kept, not lost
  }
}

// A journal of another sweep beside a results file is refused, and neither file is changed.
TEST(StorageBadInput, AnotherSweepsJournalIsRefusedAndLeftAsItWas) {
  const TempDir dir;
  const std::string path = dir.file("mine.h5");
  const std::string other = dir.file("other.h5");
  write_sample(path);
  auto header = sample_header();
  header.created = "2001-01-01T00:00:00Z";
  ResultsWriter::create(other, header, sample_trials(2)).close();
  std::filesystem::copy_file(other + ".journal", path + ".journal",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(path + ".journal", std::ios::binary | std::ios::app)
      << std::string("\x40\0\0\0", 4);
  const auto journal_size = std::filesystem::file_size(path + ".journal");
  const auto e = storage_error_of([&] { ResultsWriter::open(path); });
  EXPECT_TRUE(contains(e, "is not the journal of")) << e;
  EXPECT_TRUE(contains(e, "another sweep")) << e;
  EXPECT_EQ(std::filesystem::file_size(path + ".journal"), journal_size);
  EXPECT_FALSE(std::filesystem::exists(path + ".before-rebuild"));
  expect_sample_intact(path);
}

TEST(StorageBadInput, AnHdf5FileOfAnotherToolIsRefused) {
  const TempDir dir;
  const std::string path = dir.file("other.h5");
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t space = H5Screate(H5S_SCALAR);
  const int64_t one = 1;
  const hid_t attr =
      H5Acreate2(file, "schema_version", H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT64, &one), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Fclose(file);
  const auto e = storage_error_of([&] { ResultsReader{path}; });
  EXPECT_TRUE(contains(e, "not a trm-sweep results file")) << e;
  EXPECT_TRUE(contains(e, "another tool")) << e;
  EXPECT_TRUE(contains(storage_error_of([&] { ResultsWriter::open(path); }), "another tool"));
}

TEST(StorageBadInput, AnotherSchemaVersionIsRefusedWithAHint) {
  const TempDir dir;
  const std::string path = dir.file("future.h5");
  write_sample(path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t attr = H5Aopen(file, "schema_version", H5P_DEFAULT);
  const int64_t two = 2;
  ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT64, &two), 0);
  H5Aclose(attr);
  H5Fclose(file);
  const auto e = storage_error_of([&] { ResultsReader{path}; });
  EXPECT_TRUE(contains(e, "schema version 2")) << e;
  EXPECT_TRUE(contains(e, "reads version 1")) << e;
  EXPECT_TRUE(contains(e, "tool_version 0.1.0")) << e;
}

// DESIGN.md names the root attribute `spec`; files written before 2026-12 call it spec_toml, and
// their stored spec (what resume and export expand) still reads back.
TEST(StorageBadInput, AFileWithTheOldSpecAttributeNameStillReads) {
  const TempDir dir;
  const std::string path = dir.file("old.h5");
  write_sample(path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GT(H5Aexists(file, "spec"), 0);
  ASSERT_GE(H5Arename(file, "spec", "spec_toml"), 0);
  H5Fclose(file);
  EXPECT_EQ(ResultsReader{path}.header().spec_toml, sample_header().spec_toml);
}

// Files written before 2026-12-03 have no sweep_name attribute: they read with an empty name, the
// status line shows the spec hash alone, and export names the sweep after the file as before.
TEST(StorageBadInput, AFileWithoutTheSweepNameAttributeStillReads) {
  const TempDir dir;
  const std::string path = dir.file("older.h5");
  write_sample(path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GT(H5Aexists(file, "sweep_name"), 0);
  ASSERT_GE(H5Adelete(file, "sweep_name"), 0);
  H5Fclose(file);
  const ResultsReader reader{path};
  EXPECT_EQ(reader.header().sweep_name, "");
  EXPECT_EQ(reader.header().spec_toml, sample_header().spec_toml);
  const std::string text = format_status(reader, {});
  EXPECT_TRUE(contains(text, ": sweep 0123456789ab, created")) << text;
}

TEST(StorageBadInput, AnExistingFileIsNeverOverwrittenByCreate) {
  const TempDir dir;
  const std::string path = dir.file("keep.h5");
  write_sample(path);
  const auto e = storage_error_of([&] { ResultsWriter::create(path, sample_header(), {}); });
  EXPECT_TRUE(contains(e, "already exists")) << e;
  EXPECT_TRUE(contains(e, "trm-sweep resume")) << e;
  expect_sample_intact(path);
}

TEST(StorageBadInput, APartialJournalALiveCreatorHoldsIsNotTakenOver) {
  const TempDir dir;
  const std::string path = dir.file("racing.h5");
  const std::string partial = journal_path(path) + ".partial";
  { std::ofstream(partial) << "the other creator's bytes"; }
  const int held = ::open(partial.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);  // as a live creator holds it
  const auto e = storage_error_of([&] { ResultsWriter::create(path, sample_header(), {}); });
  EXPECT_TRUE(contains(e, "another trm-sweep process is creating")) << e;
  std::ifstream in(partial);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "the other creator's bytes");
  EXPECT_FALSE(std::filesystem::exists(path));
  ::close(held);
  // Its creator gone (the lock released with it), the leftover is taken over.
  ResultsWriter::create(path, sample_header(), sample_trials(2));
  EXPECT_EQ(ResultsReader{path}.trials().size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(partial));
}

TEST(StorageBadInput, CreatorsRacingForOneFileGiveOneSweepAndClearErrors) {
  // Four processes create each file at the same moment: one wins; the others are refused, and
  // the winner's file and journal are its own (a second creator used to rename its file over
  // the first's, and the first went on recording into a journal no file matched).
  const TempDir dir;
  for (int round = 0; round < 12; ++round) {
    const std::string path = dir.file("race" + std::to_string(round) + ".h5");
    std::vector<pid_t> children;
    for (int c = 0; c < 4; ++c) {
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        int code = 0;
        try {
          auto writer = ResultsWriter::create(path, sample_header(), sample_trials(3));
          const auto mine = testing::train_record(c % 3, 100 + c);  // whose file this is
          writer.append_train(c % 3, std::span(&mine, 1));
          writer.close();
          code = 10 + c;
        } catch (const StorageError&) {
          code = 1;
        } catch (...) {
          code = 2;
        }
        std::_Exit(code);
      }
      children.push_back(pid);
    }
    int winners = 0, winner = -1;
    for (const pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFEXITED(status));
      const int code = WEXITSTATUS(status);
      ASSERT_TRUE(code == 1 || code >= 10) << "a creator failed otherwise than with a StorageError";
      if (code >= 10) {
        ++winners;
        winner = code - 10;
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    const ResultsReader reader{path};
    const auto train = reader.train(winner % 3);
    ASSERT_EQ(train.size(), 1u) << "round " << round;
    EXPECT_EQ(train[0].step, 100 + winner) << "round " << round;
    EXPECT_FALSE(std::filesystem::exists(journal_path(path) + ".partial"));
  }
}

TEST(StorageBadInput, AReadOnlyFolderGivesAClearErrorAndLeavesTheFileAlone) {
  const TempDir dir;
  const std::string existing = dir.file("done.h5");
  write_sample(existing);
  std::filesystem::permissions(
      dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec |
                      std::filesystem::perms::group_read | std::filesystem::perms::group_exec |
                      std::filesystem::perms::others_read | std::filesystem::perms::others_exec);
  const bool root = ::geteuid() == 0;
  // Permission bits do not stop root: the attempt then runs as user "nobody" in a child.
  const auto [messages, status] = in_child([&] {
    if (root && ::setuid(65534) != 0) return std::string("skip: setuid(nobody) failed");
    const auto create = storage_error_of(
        [&] { ResultsWriter::create(dir.file("new.h5"), sample_header(), sample_trials(1)); });
    const auto open = storage_error_of([&] { ResultsWriter::open(existing); });
    return create + "\n---\n" + open;
  });
  if (contains(messages, "skip:")) GTEST_SKIP() << "running as root and " << messages;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_TRUE(contains(messages, dir.file("new.h5.journal"))) << messages;
  EXPECT_TRUE(contains(messages, "Permission denied")) << messages;
  EXPECT_TRUE(contains(messages, "choose a writable folder")) << messages;
  // The existing file: continued in place when its own files are writable, else refused by name.
  const std::string open_error = messages.substr(messages.find("---\n") + 4);
  if (!open_error.empty()) {
    EXPECT_TRUE(contains(open_error, existing)) << open_error;
    EXPECT_TRUE(contains(open_error, "Permission denied")) << open_error;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("new.h5")));
  expect_sample_intact(existing);
}

// Trial 0 holds the train records 0 .. n-1, and no others unless `more_ok`.
void expect_train_steps(const std::string& path, int64_t n, bool more_ok = false) {
  const auto train = ResultsReader(path).train(0);
  if (more_ok) {
    ASSERT_GE(static_cast<int64_t>(train.size()), n) << path;
  } else {
    ASSERT_EQ(static_cast<int64_t>(train.size()), n) << path;
  }
  for (size_t s = 0; s < train.size(); ++s) {
    ASSERT_TRUE(same_fields(train[s], testing::train_record(0, static_cast<int64_t>(s)))) << s;
  }
}

// The disk fills up (RLIMIT_FSIZE in a child, SIGXFSZ ignored) while a sweep writes metrics.
TEST(StorageBadInput, AFullDiskGivesAClearErrorAndKeepsEveryAcknowledgedRecord) {
  const TempDir dir;
  const std::string path = dir.file("full.h5");
  const std::string left = dir.file("as-left.h5");  // the files as the failure left them
  write_sample(path);
  const auto [messages, status] = in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    ResultsWriter w = ResultsWriter::open(path);
    const auto limit = static_cast<rlim_t>(std::filesystem::file_size(path) + 64 * 1024);
    rlimit lim{limit, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    int64_t acked = w.train_rows(0);
    const auto error = storage_error_of([&] {
      for (;;) {
        std::vector<core::TrainRecord> batch;
        for (int k = 0; k < 20; ++k) batch.push_back(testing::train_record(0, acked + k));
        w.append_train(0, batch);
        acked += 20;
      }
    });
    w.close();
    lim.rlim_cur = RLIM_INFINITY;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    std::filesystem::copy_file(path, left);
    std::filesystem::copy_file(journal_path(path), journal_path(left));
    // Space again: the same process continues the file.
    ResultsWriter again = ResultsWriter::open(path);
    const int64_t rows = again.train_rows(0);
    const auto next = testing::train_record(0, rows);
    again.append_train(0, std::span(&next, 1));
    return std::to_string(acked) + " " + std::to_string(rows + 1) + "\n" + error;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << messages;
  EXPECT_TRUE(contains(messages, path + ": cannot flush the results file")) << messages;
  EXPECT_TRUE(contains(messages, "File too large")) << messages;
  EXPECT_TRUE(contains(messages, "free space and resume")) << messages;
  std::istringstream counts(messages);
  int64_t acked = 0, continued = 0;
  counts >> acked >> continued;
  EXPECT_GT(acked, 50);
  // As the failure left it, the file still reads, with every acknowledged record (and maybe the
  // failed batch: the journal holds it too, so a resume keeps it as well).
  expect_train_steps(left, acked, true);
  // Continued: the failed batch (kept by the journal) and one more.
  EXPECT_EQ(continued, acked + 21);
  expect_train_steps(path, continued);
}

TEST(StorageBadInput, AJournalThatHitsAFullDiskStaysUsableOnceThereIsSpace) {
  const TempDir dir;
  const std::string path = dir.file("rows.h5");
  write_sample(path);
  const auto [messages, status] = in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    ResultsWriter w = ResultsWriter::open(path);
    // The limit holds for every file: above the HDF5 file's size, and reached by the journal.
    const auto limit =
        static_cast<rlim_t>(std::max(std::filesystem::file_size(path) + 4096,
                                     std::filesystem::file_size(journal_path(path)) + 16 * 1024));
    rlimit lim{limit, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    TrialRow row = w.trials()[1];
    // Row updates grow the journal, not the HDF5 file: the journal meets the limit first.
    const auto error = storage_error_of([&] {
      for (;;) {
        ++row.attempts;
        w.update_trial(row);
      }
    });
    lim.rlim_cur = RLIM_INFINITY;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    ++row.attempts;
    w.update_trial(row);  // space again: the same writer goes on
    return "attempts " + std::to_string(row.attempts) + "\n" + error;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << messages;
  EXPECT_TRUE(contains(messages, journal_path(path) + ": cannot append")) << messages;
  const int64_t attempts = std::stoll(messages.substr(9));
  EXPECT_EQ(ResultsReader(path).trials()[1].attempts, attempts);
  ResultsWriter w = ResultsWriter::open(path);
  EXPECT_EQ(w.trials()[1].attempts, attempts);
}

}  // namespace
}  // namespace trm::storage
