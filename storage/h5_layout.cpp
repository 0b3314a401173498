#include "storage/h5_layout.h"

#include <cstdio>
#include <type_traits>

#include "core/config_fields.h"
#include "storage/storage_error.h"

namespace trm::storage::h5 {

namespace {

constexpr hsize_t kTrialChunk = 64;
constexpr hsize_t kEventChunk = 64;
constexpr hsize_t kMetricChunk = 256;

std::string hdf5_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

Id make_group(hid_t loc, const std::string& name, const std::string& path) {
  return own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
             "create group '" + name + "'");
}

void write_config(hid_t group, const core::TrialConfig& config, const std::string& path) {
  core::TrialConfig::visit_fields(config, [&](std::string_view key, const auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    const std::string name(key);
    if constexpr (std::is_same_v<F, int64_t> || std::is_same_v<F, double> ||
                  std::is_same_v<F, bool>) {
      write_attribute(group, name.c_str(), field, path);
    } else {
      write_attribute(group, name.c_str(), std::string_view(core::field_to_string(field)), path);
    }
  });
}

}  // namespace

std::string trial_group(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%s/%06lld", kTrialGroups, static_cast<long long>(index));
  return name;
}

Id latest_format_access(const std::string& path) {
  Id access = own(H5Pcreate(H5P_FILE_ACCESS), path, "create file access properties");
  check(H5Pset_libver_bounds(access.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), path,
        "select the latest HDF5 file format");
  return access;
}

constexpr unsigned kMetadataReadAttempts = 32;

Id reader_access(const std::string& path) {
  Id access = own(H5Pcreate(H5P_FILE_ACCESS), path, "create file access properties");
  check(H5Pset_file_locking(access.get(), false, true), path, "turn off HDF5 file locks");
  // A SWMR reader retries a metadata block whose checksum fails (a live writer may be rewriting
  // it), sleeping twice as long each time: HDF5's 100 attempts made a damaged file (a killed
  // run's file cut short) hang every reader for hours. 32 attempts wait 4.3 s in all: time for a
  // writer's flush on a slow file system, not long for a damaged file.
  check(H5Pset_metadata_read_attempts(access.get(), kMetadataReadAttempts), path,
        "set the metadata read attempts");
  // No cache of raw data chunks: a read of the trials table, which a live writer rewrites in
  // place, must reach the file each time (TableCodec::read's stable reads compare two).
  check(H5Pset_cache(access.get(), 0, 0, 0, 0.75), path, "turn off the raw data chunk cache");
  return access;
}

void create_layout(hid_t file, const Tables& tables, const SweepHeader& header,
                   const std::string& path) {
  write_attribute(file, "format", kFormat, path);
  write_attribute(file, "schema_version", kSchemaVersion, path);
  write_attribute(file, "hdf5_version", std::string_view(hdf5_version()), path);
  SweepHeader::visit_fields(header, [&](std::string_view key, const std::string& value) {
    write_attribute(file, std::string(key).c_str(), std::string_view(value), path);
  });
  create_table(file, kTrials, tables.trials.type(), kTrialChunk, path);
  create_table(file, kEvents, tables.events.type(), kEventChunk, path);
  make_group(file, kTrialGroups, path);
}

void create_trial(hid_t file, const Tables& tables, int64_t index, const TrialDefinition& trial,
                  const std::string& path) {
  Id group = make_group(file, trial_group(index), path);
  write_attribute(group.get(), "trial_index", index, path);
  write_attribute(group.get(), "trial_id", std::string_view(trial.id), path);
  write_attribute(group.get(), "trial_name", std::string_view(trial.name), path);
  write_config(group.get(), trial.config, path);
  create_table(group.get(), kTrain, tables.train.type(), kMetricChunk, path);
  create_table(group.get(), kEval, tables.eval.type(), kMetricChunk, path);
}

void check_format(hid_t file, const std::string& path) {
  const bool ours = has_attribute(file, "format", path) &&
                    attribute_class(file, "format", path) == H5T_STRING &&
                    read_text_attribute(file, "format", path) == kFormat;
  if (!ours) {
    throw StorageError(path +
                       ": an HDF5 file, but not a trm-sweep results file (its root has no "
                       "format = \"" +
                       std::string(kFormat) +
                       "\" attribute); it was written by "
                       "another tool. Give the file that `trm-sweep run -o FILE` wrote.");
  }
  const int64_t version = has_attribute(file, "schema_version", path)
                              ? read_int_attribute(file, "schema_version", path)
                              : -1;
  if (version != kSchemaVersion) {
    const std::string writer = has_attribute(file, "tool_version", path)
                                   ? read_text_attribute(file, "tool_version", path)
                                   : std::string("unknown");
    throw StorageError(path + ": results schema version " + std::to_string(version) +
                       ", but this trm-sweep reads version " + std::to_string(kSchemaVersion) +
                       ". Use the trm-sweep that wrote it (tool_version " + writer +
                       ") or one that reads its schema.");
  }
}

SweepHeader read_header(hid_t file, const std::string& path) {
  SweepHeader header;
  SweepHeader::visit_fields(header, [&](std::string_view key, std::string& value) {
    const std::string name(key);
    if (has_attribute(file, name.c_str(), path))
      value = read_text_attribute(file, name.c_str(), path);
    else if (name == "spec" && has_attribute(file, "spec_toml", path))
      value = read_text_attribute(file, "spec_toml", path);  // written before 2026-12
  });
  return header;
}

core::TrialConfig read_config(hid_t file, int64_t index, const std::string& path) {
  const std::string group_name = trial_group(index);
  Id group =
      own(H5Gopen2(file, group_name.c_str(), H5P_DEFAULT), path, "open group '" + group_name + "'");
  const std::string where = path + ": /" + group_name;
  core::TrialConfig config;
  core::TrialConfig::visit_fields(config, [&](std::string_view key, auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    const std::string name(key);
    if (!has_attribute(group.get(), name.c_str(), path)) return;
    const H5T_class_t cls = attribute_class(group.get(), name.c_str(), path);
    const auto wrong_type = [&](const char* expected) {
      return StorageError(where + ": attribute '" + name + "' should be " + expected);
    };
    if constexpr (std::is_same_v<F, int64_t>) {
      if (cls != H5T_INTEGER) throw wrong_type("an integer");
      field = read_int_attribute(group.get(), name.c_str(), path);
    } else if constexpr (std::is_same_v<F, double>) {
      if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw wrong_type("a number");
      field = read_double_attribute(group.get(), name.c_str(), path);
    } else if constexpr (std::is_same_v<F, bool>) {
      if (cls != H5T_ENUM && cls != H5T_INTEGER) throw wrong_type("a boolean");
      field = read_bool_attribute(group.get(), name.c_str(), path);
    } else {
      if (cls != H5T_STRING) throw wrong_type("text");
      try {
        core::parse_field(key, read_text_attribute(group.get(), name.c_str(), path), field);
      } catch (const ConfigError& e) {
        throw StorageError(where + ": " + e.what());
      }
    }
  });
  return config;
}

}  // namespace trm::storage::h5
