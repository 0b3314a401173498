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
    EXPECT_TRUE(j.torn());
    EXPECT_EQ(std::filesystem::file_size(path), intact + 15);  // nothing cut before a write
    j.append("after");
  }
  EXPECT_EQ(records_of(path), (std::vector<std::string>{"kept", "after"}));
}

// Bytes at `offset` of the file replaced by `bytes`, as a power loss or a bad disk leaves them.
void overwrite(const std::string& path, std::streamoff offset, const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(offset);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Frames on disk: 8 bytes of magic, then [length][checksum][payload]; every sync adds a 16-byte
// sync mark after the records it made durable.
constexpr std::streamoff kMagicBytes = 8, kFrameBytes = 8, kMarkBytes = 16;

TEST(StorageJournal, ALastRecordWithABadChecksumIsTornButOneInTheMiddleIsDamage) {
  const TempDir dir;
  const std::string path = dir.file("j");
  {
    Journal j = Journal::create(path);
    j.append("first");
    j.append("second", false);  // written, never synced: the power went first
  }
  const auto size = std::filesystem::file_size(path);
  overwrite(path, static_cast<std::streamoff>(size - 1), "X");  // its last byte never landed
  EXPECT_EQ(records_of(path), std::vector<std::string>{"first"});
  {
    Journal j = Journal::open(path, [](std::string_view) {});
    EXPECT_TRUE(j.torn());
    EXPECT_EQ(std::filesystem::file_size(path), size);  // read only: nothing cut yet
    j.cut_torn_tail();
  }
  EXPECT_EQ(std::filesystem::file_size(path), size - kFrameBytes - 6);  // cut off
  {
    Journal j = Journal::open(path, [](std::string_view) {});
    j.append("second");
    j.append("third");
  }
  const std::string before = file_bytes(path);
  overwrite(path, kMagicBytes + kFrameBytes + 2, "X");  // inside "first", long acknowledged
  try {
    records_of(path);
    FAIL() << "a damaged record before acknowledged ones was skipped";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("damaged record at byte 8 (checksum mismatch) with "
                                         "acknowledged records after it"),
              std::string::npos)
        << e.what();
  }
  std::string damaged = before;
  damaged[kMagicBytes + kFrameBytes + 2] = 'X';
  EXPECT_EQ(file_bytes(path), damaged);  // refused, and nothing cut
}

// A group commit writes several records before its one sync; a power loss can leave any of them
// half written with later ones intact. None was acknowledged: the journal is cut at the first
// damaged one, the intact records before it kept.
TEST(StorageJournal, APowerLossInsideAGroupCommitIsATornTailNotDamage) {
  for (const bool mark_landed : {false, true}) {
    SCOPED_TRACE(mark_landed ? "the group's sync mark reached the disk" : "no sync mark");
    const TempDir dir;
    const std::string path = dir.file("j");
    {
      Journal j = Journal::create(path);
      j.append("acknowledged");
      j.append("group-a", false);
      j.append("group-b", false);
      j.append("group-c", false);
      if (mark_landed) j.sync();  // its fdatasync never returned: the mark is there, b is not
    }
    const std::streamoff group = kMagicBytes + kFrameBytes + 12 + kMarkBytes;
    const std::streamoff b = group + kFrameBytes + 7;
    overwrite(path, b + kFrameBytes + 3, std::string(4, '\0'));  // a page of b never written
    EXPECT_EQ(records_of(path), (std::vector<std::string>{"acknowledged", "group-a"}));
    Journal::open(path, [](std::string_view) {}).cut_torn_tail();
    EXPECT_EQ(std::filesystem::file_size(path), static_cast<uintmax_t>(b));
    {
      Journal j = Journal::open(path, [](std::string_view) {});
      j.append("after");
    }
    EXPECT_EQ(records_of(path), (std::vector<std::string>{"acknowledged", "group-a", "after"}));
  }
}

// The same damage with a later group's bytes after the group's sync mark: that sync had returned,
// so the damaged record had been acknowledged. A frame header left as zeros is damage too, not
// the end of the journal.
TEST(StorageJournal, DamageBeforeALaterGroupIsRefusedWhateverItsFrameSays) {
  for (const std::string& what : {std::string("payload"), std::string("header")}) {
    SCOPED_TRACE(what);
    const TempDir dir;
    const std::string path = dir.file("j");
    {
      Journal j = Journal::create(path);
      j.append("group-a", false);
      j.append("group-b", false);
      j.sync();
      j.append("later", false);  // even unsynced, written only once b was durable
    }
    const std::streamoff b = kMagicBytes + kFrameBytes + 7;
    const std::string before = file_bytes(path);
    if (what == "payload") {
      overwrite(path, b + kFrameBytes, "X");
    } else {
      overwrite(path, b, std::string(8, '\0'));
    }
    const std::string damaged = file_bytes(path);
    try {
      records_of(path);
      FAIL() << "acknowledged damage was cut off as a torn tail";
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("damaged record at byte " + std::to_string(b)),
                std::string::npos)
          << e.what();
    }
    EXPECT_EQ(file_bytes(path), damaged);
  }
}

// Journals written before the sync marks ("TRMJRNL1") are read and appended to in their format.
TEST(StorageJournal, AFormatOneJournalIsReadAndKeepsItsFormat) {
  const TempDir dir;
  const std::string path = dir.file("j");
  auto frame = [](const std::string& payload) {
    std::string f(8, '\0');
    const auto n = static_cast<uint32_t>(payload.size());
    const uint32_t c = crc32(payload);
    for (int i = 0; i < 4; ++i) {
      f[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
      f[static_cast<size_t>(4 + i)] = static_cast<char>((c >> (8 * i)) & 0xFF);
    }
    return f + payload;
  };
  std::ofstream(path, std::ios::binary) << "TRMJRNL1" << frame("old-one") << frame("old-two");
  {
    Journal j = Journal::open(path, [](std::string_view) {});
    j.append("new", false);
    j.sync();
  }
  EXPECT_EQ(file_bytes(path), "TRMJRNL1" + frame("old-one") + frame("old-two") + frame("new"));
  EXPECT_EQ(records_of(path), (std::vector<std::string>{"old-one", "old-two", "new"}));
  const std::string intact = file_bytes(path);
  overwrite(path, kMagicBytes + kFrameBytes, "X");
  EXPECT_THROW(records_of(path), StorageError);
  // A length no record can have ends the records, as in the builds that wrote format 1: their
  // group commits leave intact unacknowledged records after a torn one, so what follows proves
  // nothing. Reading changes nothing; the first write cuts.
  std::string damaged = intact;
  damaged[kMagicBytes + kFrameBytes + 7 + 3] = '\x40';  // the length of "old-two"
  std::ofstream(path, std::ios::binary | std::ios::trunc) << damaged;
  EXPECT_EQ(records_of(path), std::vector<std::string>{"old-one"});
  EXPECT_EQ(file_bytes(path), damaged);
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
  // A journal written before the header had sweep_name (its last field, 8 bytes of length and
  // the text) still decodes, with an empty name.
  std::string old_header = encode(header);
  old_header.resize(old_header.size() - 8 - header.header.sweep_name.size());
  const auto old_back = std::get<HeaderRecord>(decode(old_header, where)).header;
  EXPECT_EQ(old_back.sweep_name, "");
  EXPECT_EQ(old_back.mpi_version, header.header.mpi_version);
  EXPECT_EQ(old_back.spec_toml, header.header.spec_toml);

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
