// What the results file holds, as plain records: the sweep header, a trial's definition, one row
// per trial and a sweep event. Each struct lists its fields once in visit_fields (STYLE.md §5):
// the HDF5 tables, the journal and the tests all come from it. No HDF5 here.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/trial_config.h"
#include "storage/trial_status.h"

namespace trm::storage {

// Unknown times and metrics are NaN (h5py and pandas read them as missing values).
inline constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// Who made the sweep and from what; root attributes of the file (HDF5 version and schema version
// are added by storage itself).
struct SweepHeader {
  std::string spec_toml;      // the sweep spec as written; `resume` expands it again
  std::string spec_hash;      // hash of the canonical spec
  std::string created;        // when the sweep was created, ISO 8601 UTC
  std::string tool_version;   // trm-sweep version that created the file
  std::string git_revision;   // source revision of that build
  std::string host;           // host of the coordinator that created the file
  std::string torch_version;  // LibTorch version
  std::string mpi_version;    // MPI library version, "" when run without MPI
  std::string sweep_name;     // [sweep] name, else the stem of the spec file `run` was given

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("spec", self.spec_toml);  // DESIGN.md's name; files before 2026-12 call it spec_toml
    v("spec_hash", self.spec_hash);
    v("created", self.created);
    v("tool_version", self.tool_version);
    v("git_revision", self.git_revision);
    v("host", self.host);
    v("torch_version", self.torch_version);
    v("mpi_version", self.mpi_version);
    v("sweep_name", self.sweep_name);  // last: files and journals before 2026-12-03 lack it
  }
  bool operator==(const SweepHeader&) const = default;
};

// A trial as the sweep defines it, recorded once by create() or add_trials().
struct TrialDefinition {
  std::string id;                     // hash of the canonical resolved config (sweep/)
  std::string name;                   // readable cell name, e.g. "l_cycles=6 seed=1"
  core::TrialConfig config;           // the resolved config, stored one attribute per field
  int64_t predicted_peak_bytes = -1;  // cost model's peak memory; -1 = not predicted
  double predicted_flops = kUnknown;  // cost model's FLOPs for the whole trial
  int64_t total_steps = 0;            // optimizer steps the trial will run
};

// One row of /trials: where a trial stands. Times are unix seconds; unknown values are NaN
// (or -1 for byte counts and rank).
struct TrialRow {
  int64_t index = 0;  // position in /trials and /trial/<index>
  std::string id;     // TrialDefinition::id (resume matches ids)
  std::string name;   // TrialDefinition::name
  TrialStatus status = TrialStatus::pending;
  int64_t attempts = 0;                    // times the trial was started
  int64_t rank = -1;                       // MPI rank that ran it last; -1 = none yet
  std::string host;                        // host of that rank
  std::string device;                      // "cuda:0", "cpu", ...
  double started = kUnknown;               // start of the last attempt
  double finished = kUnknown;              // end of the last attempt
  double wall_s = kUnknown;                // seconds of all attempts together
  int64_t predicted_peak_bytes = -1;       // cost model's peak memory
  int64_t measured_peak_bytes = -1;        // peak memory the trial reached
  double predicted_flops = kUnknown;       // cost model's FLOPs
  int64_t step = 0;                        // optimizer steps done
  int64_t total_steps = 0;                 // optimizer steps planned
  double final_accuracy = kUnknown;        // token accuracy of the last evaluation
  double final_exact_accuracy = kUnknown;  // exact (puzzle) accuracy of the last evaluation
  double best_exact_accuracy = kUnknown;   // best exact accuracy over all evaluations
  std::string error;                       // why it failed (last lines of stderr), "" otherwise

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("index", self.index);
    v("id", self.id);
    v("name", self.name);
    v("status", self.status);
    v("attempts", self.attempts);
    v("rank", self.rank);
    v("host", self.host);
    v("device", self.device);
    v("started", self.started);
    v("finished", self.finished);
    v("wall_s", self.wall_s);
    v("predicted_peak_bytes", self.predicted_peak_bytes);
    v("measured_peak_bytes", self.measured_peak_bytes);
    v("predicted_flops", self.predicted_flops);
    v("step", self.step);
    v("total_steps", self.total_steps);
    v("final_accuracy", self.final_accuracy);
    v("final_exact_accuracy", self.final_exact_accuracy);
    v("best_exact_accuracy", self.best_exact_accuracy);
    v("error", self.error);
  }
};

// One line of /events: what happened to the sweep or to one trial, and when.
struct Event {
  double time = kUnknown;  // unix seconds
  int64_t trial = -1;      // trial index; -1 = the sweep as a whole
  std::string kind;        // short tag: "start", "oom", "signal", "resume", ...
  std::string message;     // free text

  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("time", self.time);
    v("trial", self.trial);
    v("kind", self.kind);
    v("message", self.message);
  }
};

// Bytes kept of a text field (fixed-width HDF5 strings, so that readers never meet HDF5's global
// heap while the file is written). Longer text is clipped at a UTF-8 boundary when a writer
// accepts it, so the journal and the HDF5 file always agree.
constexpr size_t text_capacity(std::string_view field) {
  if (field == "status") return 16;
  if (field == "kind") return 32;
  if (field == "id" || field == "device") return 64;
  if (field == "host") return 128;
  if (field == "error" || field == "message") return 2048;
  return 256;
}

// `text` cut to at most `capacity` bytes without splitting a UTF-8 character.
std::string clip_text(std::string_view text, size_t capacity);

// Clips every text field of a record to its capacity.
template <class Record>
void clip_texts(Record& r) {
  Record::visit_fields(r, [](std::string_view name, auto& field) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, std::string>) {
      field = clip_text(field, text_capacity(name));
    }
  });
}

// Field-by-field equality where NaN equals NaN (unknown = unknown).
template <class Record>
bool same_fields(const Record& a, const Record& b) {
  bool same = true;
  Record copy = b;
  Record::visit_fields(a, [&](std::string_view name, const auto& field) {
    Record::visit_fields(copy, [&](std::string_view other_name, const auto& other) {
      using A = std::remove_cvref_t<decltype(field)>;
      using B = std::remove_cvref_t<decltype(other)>;
      if constexpr (std::is_same_v<A, B>) {
        if (name != other_name) return;
        if constexpr (std::is_floating_point_v<A>) {
          same = same && (field == other || (std::isnan(field) && std::isnan(other)));
        } else {
          same = same && field == other;
        }
      }
    });
  });
  return same;
}

// Seconds since the unix epoch, now.
double unix_now();

}  // namespace trm::storage
