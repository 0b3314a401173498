#include "storage/h5_tables.h"

namespace trm::storage::h5 {

Id create_table(hid_t loc, const char* name, hid_t type, hsize_t chunk_rows,
                const std::string& path) {
  const std::string what = std::string("create table '") + name + "'";
  const hsize_t zero = 0;
  const hsize_t unlimited = H5S_UNLIMITED;
  Id space = own(H5Screate_simple(1, &zero, &unlimited), path, what);
  Id create = own(H5Pcreate(H5P_DATASET_CREATE), path, what);
  check(H5Pset_chunk(create.get(), 1, &chunk_rows), path, what);
  return own(H5Dcreate2(loc, name, type, space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT), path,
             what);
}

Id open_table(hid_t loc, const char* name, const std::string& path) {
  const std::string what = std::string("open table '") + name + "'";
  Id table = own(H5Dopen2(loc, name, H5P_DEFAULT), path, what);
  check(H5Drefresh(table.get()), path, what);
  return table;
}

hsize_t table_rows(hid_t table, const std::string& path) {
  Id space = own(H5Dget_space(table), path, "read a table's size");
  if (H5Sget_simple_extent_ndims(space.get()) != 1) {
    fail(path, "use a table that is not one-dimensional");
  }
  hsize_t rows = 0;
  if (H5Sget_simple_extent_dims(space.get(), &rows, nullptr) < 0) {
    fail(path, "read a table's size");
  }
  return rows;
}

namespace {

// The file space of `table` with rows [first, first + n) selected.
Id select_rows(hid_t table, hsize_t first, hsize_t n, const std::string& path) {
  Id space = own(H5Dget_space(table), path, "select table rows");
  check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &first, nullptr, &n, nullptr), path,
        "select table rows");
  return space;
}

}  // namespace

void write_rows(hid_t table, hid_t type, const void* rows, hsize_t first, hsize_t n,
                const std::string& path) {
  if (n == 0) return;
  if (first + n > table_rows(table, path)) {
    const hsize_t size = first + n;
    check(H5Dset_extent(table, &size), path, "grow a table");
  }
  Id file_space = select_rows(table, first, n, path);
  Id memory_space = own(H5Screate_simple(1, &n, nullptr), path, "write table rows");
  check(H5Dwrite(table, type, memory_space.get(), file_space.get(), H5P_DEFAULT, rows), path,
        "write table rows");
}

void read_rows(hid_t table, hid_t type, void* rows, hsize_t first, hsize_t n,
               const std::string& path) {
  if (n == 0) return;
  Id file_space = select_rows(table, first, n, path);
  Id memory_space = own(H5Screate_simple(1, &n, nullptr), path, "read table rows");
  check(H5Dread(table, type, memory_space.get(), file_space.get(), H5P_DEFAULT, rows), path,
        "read table rows");
}

}  // namespace trm::storage::h5
