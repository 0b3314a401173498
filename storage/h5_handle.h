// Internal to storage/: ownership of HDF5 identifiers and the check around every HDF5 call
// (STYLE.md §9). A failed call becomes a StorageError naming the file, the operation and HDF5's
// own innermost reason; HDF5's automatic printing to stderr is switched off.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace trm::storage::h5 {

// Prepares HDF5 for this process (idempotent): no error printing, no shutdown at exit.
void quiet_errors();

// The innermost description on HDF5's error stack ("truncated file: eof = ..."), "" when empty.
std::string innermost_error();

// Throws StorageError "<path>: cannot <what>: <HDF5's reason>".
[[noreturn]] void fail(const std::string& path, std::string_view what);

// An owned HDF5 identifier of any kind, released with H5Idec_ref.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(Id&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Hands the identifier over without releasing it.
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  void reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// An identifier returned by an HDF5 call, owned; throws StorageError when the call failed.
inline Id own(hid_t id, const std::string& path, std::string_view what) {
  if (id < 0) fail(path, what);
  return Id(id);
}
// A status returned by an HDF5 call; throws StorageError when negative.
inline void check(herr_t status, const std::string& path, std::string_view what) {
  if (status < 0) fail(path, what);
}
// A tri-state (htri_t) answer; throws StorageError when negative.
inline bool check_bool(htri_t answer, const std::string& path, std::string_view what) {
  if (answer < 0) fail(path, what);
  return answer > 0;
}

// Fixed-width, null-padded UTF-8 text of `width` bytes (table columns).
Id fixed_text_type(size_t width, const std::string& path);
// Variable-length UTF-8 text (attributes, written before SWMR starts).
Id variable_text_type(const std::string& path);
// h5py's boolean: an int8 enum {FALSE = 0, TRUE = 1}, read back by numpy as bool.
Id bool_type(const std::string& path);

// Typed scalar attributes of an object (`loc`); `name` may contain dots.
void write_attribute(hid_t loc, const char* name, int64_t value, const std::string& path);
void write_attribute(hid_t loc, const char* name, double value, const std::string& path);
void write_attribute(hid_t loc, const char* name, bool value, const std::string& path);
void write_attribute(hid_t loc, const char* name, std::string_view value, const std::string& path);

bool has_attribute(hid_t loc, const char* name, const std::string& path);
// The HDF5 class of an attribute's type (H5T_INTEGER, H5T_FLOAT, H5T_STRING, H5T_ENUM, ...).
H5T_class_t attribute_class(hid_t loc, const char* name, const std::string& path);
int64_t read_int_attribute(hid_t loc, const char* name, const std::string& path);
double read_double_attribute(hid_t loc, const char* name, const std::string& path);
bool read_bool_attribute(hid_t loc, const char* name, const std::string& path);
// Fixed- or variable-length text.
std::string read_text_attribute(hid_t loc, const char* name, const std::string& path);

}  // namespace trm::storage::h5
