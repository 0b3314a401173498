#include "storage/h5_handle.h"

#include <mutex>
#include <vector>

#include "storage/storage_error.h"

namespace trm::storage::h5 {

void quiet_errors() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No HDF5 shutdown at exit: after a failed write (disk full) HDF5 1.10 crashes closing the
    // datasets it could not flush. Our writers close their files themselves, and an unclosed
    // file is rebuilt from its journal. Only effective before HDF5's first use in the process.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

std::string innermost_error() {
  std::string out;
  // Walking down from the API call, the last entry is where HDF5 first detected the problem.
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc != nullptr && e->desc[0] != '\0') *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &out);
  H5Eclear2(H5E_DEFAULT);
  // A failed system call reads "file write failed: time = ..., errno = 27, error message = 'File
  // too large', buf = ...": keep what failed and the system's reason.
  const std::string marker = "error message = '";
  const auto at = out.find(marker);
  if (at != std::string::npos) {
    const auto end = out.find('\'', at + marker.size());
    out = out.substr(0, out.find_first_of(":,")) + ": " +
          out.substr(at + marker.size(), end - at - marker.size());
  }
  return out;
}

void fail(const std::string& path, std::string_view what) {
  const std::string reason = innermost_error();
  std::string message =
      path + ": cannot " + std::string(what) + (reason.empty() ? std::string() : ": " + reason);
  for (const char* full : {"No space left on device", "File too large", "Disk quota exceeded"}) {
    if (reason.find(full) != std::string::npos) {
      message +=
          " (the disk or your quota is full, or the file reached its size limit; free "
          "space and resume: every change acknowledged so far is kept)";
      break;
    }
  }
  throw StorageError(message);
}

void Id::reset() noexcept {
  if (id_ >= 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

Id fixed_text_type(size_t width, const std::string& path) {
  Id type = own(H5Tcopy(H5T_C_S1), path, "copy the HDF5 string type");
  check(H5Tset_size(type.get(), width), path, "size a text column");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), path, "pad a text column");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), path, "mark a text column UTF-8");
  return type;
}

Id variable_text_type(const std::string& path) {
  Id type = own(H5Tcopy(H5T_C_S1), path, "copy the HDF5 string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), path, "make a variable-length text type");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), path, "mark a text type UTF-8");
  return type;
}

Id bool_type(const std::string& path) {
  Id type = own(H5Tenum_create(H5T_NATIVE_INT8), path, "create the boolean enum type");
  const int8_t no = 0;
  const int8_t yes = 1;
  check(H5Tenum_insert(type.get(), "FALSE", &no), path, "define the boolean enum");
  check(H5Tenum_insert(type.get(), "TRUE", &yes), path, "define the boolean enum");
  return type;
}

namespace {

void write_scalar(hid_t loc, const char* name, hid_t type, const void* value,
                  const std::string& path) {
  const std::string what = std::string("write attribute '") + name + "'";
  if (check_bool(H5Aexists(loc, name), path, what)) check(H5Adelete(loc, name), path, what);
  Id space = own(H5Screate(H5S_SCALAR), path, what);
  Id attr = own(H5Acreate2(loc, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), path, what);
  check(H5Awrite(attr.get(), type, value), path, what);
}

Id open_attribute(hid_t loc, const char* name, const std::string& path) {
  return own(H5Aopen(loc, name, H5P_DEFAULT), path, std::string("open attribute '") + name + "'");
}

void read_scalar(hid_t loc, const char* name, hid_t type, void* out, const std::string& path) {
  Id attr = open_attribute(loc, name, path);
  check(H5Aread(attr.get(), type, out), path, std::string("read attribute '") + name + "'");
}

}  // namespace

void write_attribute(hid_t loc, const char* name, int64_t value, const std::string& path) {
  write_scalar(loc, name, H5T_NATIVE_INT64, &value, path);
}

void write_attribute(hid_t loc, const char* name, double value, const std::string& path) {
  write_scalar(loc, name, H5T_NATIVE_DOUBLE, &value, path);
}

void write_attribute(hid_t loc, const char* name, bool value, const std::string& path) {
  const int8_t v = value ? 1 : 0;
  write_scalar(loc, name, bool_type(path).get(), &v, path);
}

void write_attribute(hid_t loc, const char* name, std::string_view value, const std::string& path) {
  const std::string text(value);
  const char* data = text.c_str();
  write_scalar(loc, name, variable_text_type(path).get(), &data, path);
}

bool has_attribute(hid_t loc, const char* name, const std::string& path) {
  return check_bool(H5Aexists(loc, name), path, std::string("look for attribute '") + name + "'");
}

H5T_class_t attribute_class(hid_t loc, const char* name, const std::string& path) {
  Id attr = open_attribute(loc, name, path);
  Id type = own(H5Aget_type(attr.get()), path, std::string("type attribute '") + name + "'");
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_NO_CLASS) fail(path, std::string("classify attribute '") + name + "'");
  return cls;
}

int64_t read_int_attribute(hid_t loc, const char* name, const std::string& path) {
  int64_t value = 0;
  read_scalar(loc, name, H5T_NATIVE_INT64, &value, path);
  return value;
}

double read_double_attribute(hid_t loc, const char* name, const std::string& path) {
  double value = 0;
  read_scalar(loc, name, H5T_NATIVE_DOUBLE, &value, path);
  return value;
}

bool read_bool_attribute(hid_t loc, const char* name, const std::string& path) {
  if (attribute_class(loc, name, path) == H5T_ENUM) {
    int8_t value = 0;
    read_scalar(loc, name, bool_type(path).get(), &value, path);
    return value != 0;
  }
  return read_int_attribute(loc, name, path) != 0;
}

std::string read_text_attribute(hid_t loc, const char* name, const std::string& path) {
  const std::string what = std::string("read text attribute '") + name + "'";
  Id attr = open_attribute(loc, name, path);
  Id type = own(H5Aget_type(attr.get()), path, what);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw StorageError(path + ": attribute '" + name + "' is not text");
  }
  // Read with the stored type itself: HDF5 converts no character set (ASCII vs UTF-8).
  if (check_bool(H5Tis_variable_str(type.get()), path, what)) {
    char* data = nullptr;
    check(H5Aread(attr.get(), type.get(), &data), path, what);
    std::string out = data == nullptr ? std::string() : std::string(data);
    H5free_memory(data);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 0) fail(path, what);
  std::vector<char> buffer(size + 1, '\0');
  check(H5Aread(attr.get(), type.get(), buffer.data()), path, what);
  return std::string(buffer.data());
}

}  // namespace trm::storage::h5
