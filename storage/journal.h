// Internal to storage/: the append-only journal beside a results file ("<file>.journal"). Each
// acknowledged change is one checksummed record, synced to disk (fdatasync) before the change is
// acknowledged, so the HDF5 file can always be rebuilt from it. An open journal also holds the
// single-writer lock (flock), so a second writer is refused.
//
// On disk: "TRMJRNL1", then records of [u32 payload bytes][u32 CRC-32 of payload][payload].
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/crc32.h"

namespace trm::storage {

using core::crc32;  // CRC-32 (IEEE 802.3, as zlib) of each record

class Journal {
 public:
  using RecordFn = std::function<void(std::string_view payload)>;

  // A new, empty journal at `path`; refuses an existing file.
  static Journal create(const std::string& path);
  // An existing journal: checks it, calls `on_record` for each intact record in order and cuts off
  // a torn last record (the write a kill or power loss interrupted, never acknowledged). A
  // damaged record before the end is a StorageError: records after it were acknowledged.
  static Journal open(const std::string& path, const RecordFn& on_record);

  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&& other) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  // Reads the records again from the start (the rebuild does), without changing the file.
  void replay(const RecordFn& on_record) const;
  // Appends one record and, unless `sync` is false, syncs it to disk. On failure the file is put
  // back as it was and StorageError says why (disk full, ...); the journal stays usable.
  void append(std::string_view payload, bool sync = true);
  // Syncs records appended with sync = false.
  void sync();
  // Moves the journal to `path`, atomically and durably; the lock stays held.
  void rename_to(const std::string& path);
  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }

 private:
  Journal(int fd, std::string path, int64_t size);
  // Scans from the start; returns where the intact records end.
  int64_t scan(const RecordFn& on_record) const;

  int fd_ = -1;
  std::string path_;
  int64_t size_ = 0;
  bool broken_ = false;  // a failed append could not be rolled back: refuse further appends
};

}  // namespace trm::storage
