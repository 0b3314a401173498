// Internal to storage/: the append-only journal beside a results file ("<file>.journal"). Each
// acknowledged change is one checksummed record, synced to disk (fdatasync) before the change is
// acknowledged, so the HDF5 file can always be rebuilt from it. An open journal also holds the
// single-writer lock (flock), so a second writer is refused.
//
// On disk: "TRMJRNL2", then frames of [u32 word][u32 CRC-32 of payload][payload], where the word
// is the payload's length, or 0x80000000 | 8 for a sync mark: the frame every sync appends after
// the records it makes durable, whose payload is its own offset in the file (u64, little end
// first). Records are the frames without the flag. The marks let a reader tell damage the writer
// acknowledged from the torn tail of a power loss: a group commit writes several records before
// its one fdatasync, and a power loss can leave any of them half written, the file's end included.
// Bytes after a group's sync mark were written after its sync returned, so damage followed by a
// sync mark and more bytes was acknowledged; damage with no such mark after it is the torn tail.
// "TRMJRNL1" journals (written before the marks) are still read, and appended to in their format.
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
  // As create, where a file left at `path` by a process that is gone (a kill during a start) is
  // taken over and emptied; one that a live process holds (flock) is refused. Two processes
  // creating at once: the second is told, neither's file is touched.
  static Journal create_or_take(const std::string& path);
  // An existing journal: checks it and calls `on_record` for each intact record in order. Bytes
  // after them are the torn tail (the writes a kill or power loss interrupted, never
  // acknowledged): torn() says so, and they are cut off by cut_torn_tail() or the first write, so
  // that a caller who refuses the journal after reading it leaves the file as it was. Damage the
  // writer had acknowledged (a sync mark and more bytes after it) is a StorageError.
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
  bool torn() const { return torn_; }
  void cut_torn_tail();
  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }

 private:
  Journal(int fd, std::string path, int64_t size);
  // The new journal on `fd` (empty, locked): its magic, synced.
  static Journal start(int fd, const std::string& path);
  // Scans from the start; returns where the intact records end.
  int64_t scan(const RecordFn& on_record) const;

  // Writes `bytes` at the end (and syncs with `sync`); on failure cuts the file back and throws.
  void write_at_end(const std::string& bytes, bool sync);
  // Whether a sync mark lies after byte `from` with more bytes after it (format 2).
  bool acknowledged_after(int64_t from, int64_t file_size) const;

  int fd_ = -1;
  std::string path_;
  int64_t size_ = 0;
  int format_ = 2;         // 1: "TRMJRNL1", no sync marks; 2: "TRMJRNL2"
  bool unmarked_ = false;  // records appended since the last sync mark
  bool torn_ = false;      // bytes after the intact records, not yet cut off
  bool broken_ = false;    // a failed append could not be rolled back: refuse further appends
};

}  // namespace trm::storage
