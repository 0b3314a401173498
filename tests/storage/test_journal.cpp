#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/journal.h"
#include "storage/journal_records.h"
#include "storage/storage_error.h"
#include "storage_test_util.h"

namespace trm::storage {
namespace {

using testing::TempDir;

std::vector<std::string> records_of(const std::string& path) {
  std::vector<std::string> out;
  Journal::open(path, [&](std::string_view r) { out.emplace_back(r); });
  return out;
}

void append_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

TEST(StorageJournal, Crc32IsTheZlibChecksum) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
}

TEST(StorageJournal, RecordsComeBackInOrder) {
  const TempDir dir;
  const std::string path = dir.file("j");
  {
    Journal j = Journal::create(path);
    j.append("one");
    j.append(std::string(100000, 'x'));
    j.append("three", false);
    j.sync();
  }
  EXPECT_EQ(records_of(path), (std::vector<std::string>{"one", std::string(100000, 'x'), "three"}));
}

TEST(StorageJournal, ATornLastRecordIsCutOffAndAppendingContinues) {
  const TempDir dir;
  const std::string path = dir.file("j");
  Journal::create(path).append("kept");
  const auto intact = std::filesystem::file_size(path);
  append_bytes(path, std::string("\x20\x00\x00\x00\x01\x02\x03\x04partial", 15));  // 32 announced
  {
    Journal j = Journal::open(path, [](std::string_view) {});
    EXPECT_EQ(std::filesystem::file_size(path), intact);
    j.append("after");
  }
  EXPECT_EQ(records_of(path), (std::vector<std::string>{"kept", "after"}));
}

TEST(StorageJournal, ALastRecordWithABadChecksumIsTornButOneInTheMiddleIsDamage) {
  const TempDir dir;
  const std::string path = dir.file("j");
  {
    Journal j = Journal::create(path);
    j.append("first");
    j.append("second");
  }
  const auto size = std::filesystem::file_size(path);
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(size - 1));
    f.put('X');  // last payload byte: a write that never fully reached the disk
  }
  EXPECT_EQ(records_of(path), std::vector<std::string>{"first"});
  {
    Journal j = Journal::open(path, [](std::string_view) {});
    j.append("second");
    j.append("third");
  }
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(8 + 8 + 2);  // inside "first"
    f.put('X');
  }
  try {
    records_of(path);
    FAIL() << "a damaged record before acknowledged ones was skipped";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("damaged record at byte 8"), std::string::npos)
        << e.what();
  }
}

TEST(StorageJournal, AFileThatIsNotAJournalIsRefused) {
  const TempDir dir;
  const std::string path = dir.file("j");
  std::ofstream(path) << "hello, world\n";
  EXPECT_THROW(records_of(path), StorageError);
  EXPECT_THROW(Journal::create(path), StorageError);  // never overwrites
}

TEST(StorageJournal, OnlyOneProcessHoldsAJournal) {
  const TempDir dir;
  const std::string path = dir.file("j");
  const Journal held = Journal::create(path);
  EXPECT_THROW(records_of(path), StorageError);
}

TEST(StorageJournal, EveryRecordKindDecodesToWhatWasEncoded) {
  const std::string where = "test";
  TrialDefinition trial = testing::sample_trial(4);
  const TrialsRecord trials{3, {trial}};
  const auto back = std::get<TrialsRecord>(decode(encode(trials), where));
  EXPECT_EQ(back.first_index, 3);
  EXPECT_EQ(back.trials.at(0).config, trial.config);
  EXPECT_EQ(back.trials.at(0).name, trial.name);
  EXPECT_EQ(back.trials.at(0).predicted_flops, trial.predicted_flops);

  const HeaderRecord header{1, layout_signature(), testing::sample_header()};
  EXPECT_EQ(std::get<HeaderRecord>(decode(encode(header), where)).header, header.header);

  TrialRow row;
  row.index = 2;
  row.status = TrialStatus::oom_predicted;
  row.error = "boom";
  EXPECT_TRUE(same_fields(std::get<TrialRow>(decode(encode(row), where)), row));

  const TrainBatch train{1, {testing::train_record(1, 0), testing::train_record(1, 1)}};
  const auto train_back = std::get<TrainBatch>(decode(encode(train), where));
  ASSERT_EQ(train_back.records.size(), 2u);
  EXPECT_TRUE(same_fields(train_back.records[1], train.records[1]));

  const EvalBatch eval{1, {testing::eval_record(1, 9)}};
  EXPECT_TRUE(
      same_fields(std::get<EvalBatch>(decode(encode(eval), where)).records.at(0), eval.records[0]));
  const Event event{5.5, 2, "oom", "killed"};
  EXPECT_TRUE(same_fields(std::get<Event>(decode(encode(event), where)), event));
  const ClosedRecord closed{{10, 20, 30}};
  EXPECT_EQ(as_closed(encode(closed), where)->results, closed.results);
  EXPECT_FALSE(as_closed(encode(event), where).has_value());

  std::string cut = encode(row);
  cut.pop_back();
  EXPECT_THROW(decode(cut, where), StorageError);
}

}  // namespace
}  // namespace trm::storage
