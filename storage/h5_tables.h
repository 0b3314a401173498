// Internal to storage/: an HDF5 table per record struct. The layout comes from the struct's field
// visitor: a packed compound of int64, float64 and fixed-width UTF-8 text (TrialStatus as its
// name), held in a one-dimensional, extendible, chunked dataset that SWMR readers can follow.
#pragma once

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "storage/h5_handle.h"
#include "storage/results_types.h"
#include "storage/storage_error.h"

namespace trm::storage::h5 {

// A new empty table `name` under `loc` with rows of `type`, grown `chunk_rows` at a time.
Id create_table(hid_t loc, const char* name, hid_t type, hsize_t chunk_rows,
                const std::string& path);
// An existing table, its metadata refreshed (a SWMR reader sees the writer's latest flush).
Id open_table(hid_t loc, const char* name, const std::string& path);
hsize_t table_rows(hid_t table, const std::string& path);
// Writes rows [first, first + n); grows the table first when they reach past its end.
void write_rows(hid_t table, hid_t type, const void* rows, hsize_t first, hsize_t n,
                const std::string& path);
void read_rows(hid_t table, hid_t type, void* rows, hsize_t first, hsize_t n,
               const std::string& path);

inline constexpr int kStableReadAttempts = 1000;

template <class Row>
class TableCodec {
 public:
  explicit TableCodec(const std::string& path) : path_(path) {
    Row row{};
    Row::visit_fields(row, [&](std::string_view name, auto& field) {
      using F = std::remove_cvref_t<decltype(field)>;
      static_assert(std::is_same_v<F, int64_t> || std::is_same_v<F, double> ||
                        std::is_same_v<F, std::string> || std::is_same_v<F, TrialStatus>,
                    "a table column must be int64_t, double, std::string or TrialStatus");
      const size_t width = std::is_arithmetic_v<F> ? sizeof(F) : text_capacity(name);
      columns_.push_back({std::string(name), size_, width});
      size_ += width;
    });
    type_ = own(H5Tcreate(H5T_COMPOUND, size_), path_, "create a table type");
    for (const auto& column : columns_) insert(type_.get(), column);
  }

  size_t row_size() const { return size_; }
  hid_t type() const { return type_.get(); }

  std::vector<char> pack(std::span<const Row> rows) const {
    std::vector<char> out(rows.size() * size_, '\0');
    for (size_t i = 0; i < rows.size(); ++i) pack_one(rows[i], out.data() + i * size_);
    return out;
  }

  // Rows [first, first + n) of `table`. Columns the stored table lacks keep their defaults and
  // columns it has in addition are ignored, so files of other trm-sweep versions still read.
  // `stable`: read again until two reads agree, for rows a live writer rewrites in place (the
  // reader must not cache the table's chunks; reader_access() turns that cache off).
  std::vector<Row> read(hid_t table, hsize_t first, hsize_t n, bool stable = false) const {
    Id stored = own(H5Dget_type(table), path_, "read a table's type");
    Id wanted = own(H5Tcreate(H5T_COMPOUND, size_), path_, "create a table type");
    for (const auto& column : columns_) {
      if (H5Tget_member_index(stored.get(), column.name.c_str()) >= 0) insert(wanted.get(), column);
    }
    const Row defaults{};
    std::vector<char> buffer = pack(std::span<const Row>(&defaults, 1));
    buffer.resize(n * size_);
    for (hsize_t i = 1; i < n; ++i) std::memcpy(buffer.data() + i * size_, buffer.data(), size_);
    if (n > 0) read_rows(table, wanted.get(), buffer.data(), first, n, path_);
    // Rows a live writer rewrites in place (the trials table) can be read half old, half new:
    // a write and a read of the same file pages are not atomic to each other. Read again until
    // two reads agree (a kill mid-write leaves a state that reads the same every time).
    if (stable && n > 0) {
      std::vector<char> again(buffer.size());
      for (int attempt = 0; attempt < kStableReadAttempts; ++attempt) {
        std::memcpy(again.data(), buffer.data(), buffer.size());
        read_rows(table, wanted.get(), again.data(), first, n, path_);
        if (again == buffer) break;
        buffer.swap(again);
      }
    }
    std::vector<Row> rows(n);
    for (hsize_t i = 0; i < n; ++i) rows[i] = unpack_one(buffer.data() + i * size_);
    return rows;
  }

 private:
  struct Column {
    std::string name;
    size_t offset;
    size_t width;
  };

  void insert(hid_t compound, const Column& column) const {
    Row row{};
    Row::visit_fields(row, [&](std::string_view name, auto& field) {
      if (name != column.name) return;
      using F = std::remove_cvref_t<decltype(field)>;
      Id text;
      hid_t member = H5T_NATIVE_INT64;
      if constexpr (std::is_same_v<F, double>) member = H5T_NATIVE_DOUBLE;
      if constexpr (!std::is_arithmetic_v<F>) {
        text = fixed_text_type(column.width, path_);
        member = text.get();
      }
      check(H5Tinsert(compound, column.name.c_str(), column.offset, member), path_,
            "define column '" + column.name + "'");
    });
  }

  void pack_one(const Row& row, char* out) const {
    size_t i = 0;
    Row::visit_fields(row, [&](std::string_view, const auto& field) {
      using F = std::remove_cvref_t<decltype(field)>;
      const Column& column = columns_[i++];
      if constexpr (std::is_arithmetic_v<F>) {
        std::memcpy(out + column.offset, &field, sizeof(F));
      } else {
        std::string_view text;
        if constexpr (std::is_same_v<F, TrialStatus>) {
          text = to_string(field);
        } else {
          text = field;
        }
        std::memcpy(out + column.offset, text.data(), std::min(text.size(), column.width));
      }
    });
  }

  Row unpack_one(const char* in) const {
    Row row{};
    size_t i = 0;
    Row::visit_fields(row, [&](std::string_view name, auto& field) {
      using F = std::remove_cvref_t<decltype(field)>;
      const Column& column = columns_[i++];
      const char* at = in + column.offset;
      if constexpr (std::is_arithmetic_v<F>) {
        std::memcpy(&field, at, sizeof(F));
      } else {
        const std::string text(at, strnlen(at, column.width));
        if constexpr (std::is_same_v<F, TrialStatus>) {
          const auto status = parse_trial_status(text);
          if (!status) {
            throw StorageError(path_ + ": column '" + std::string(name) + "' holds '" + text +
                               "', not a trial status; was the file written by a newer "
                               "trm-sweep?");
          }
          field = *status;
        } else {
          field = text;
        }
      }
    });
    return row;
  }

  std::string path_;
  std::vector<Column> columns_;
  size_t size_ = 0;
  Id type_;
};

// Writes `rows` at [first, first + rows.size()).
template <class Row>
void write_table(hid_t table, const TableCodec<Row>& codec, std::span<const Row> rows,
                 hsize_t first, const std::string& path) {
  if (rows.empty()) return;
  const std::vector<char> packed = codec.pack(rows);
  write_rows(table, codec.type(), packed.data(), first, rows.size(), path);
}

}  // namespace trm::storage::h5
