// The life cycle of a trial as the results file records it (DESIGN.md "Results file"); the names
// are the words users read in `trm-sweep status`, in exported tables and in h5py.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

#include "core/config.h"

namespace trm::storage {

enum class TrialStatus { pending, running, done, oom, oom_predicted, failed, interrupted };

}  // namespace trm::storage

namespace trm::core {

template <>
struct EnumNames<storage::TrialStatus> {
  using S = storage::TrialStatus;
  static constexpr auto values =
      std::to_array<std::pair<S, std::string_view>>({{S::pending, "pending"},
                                                     {S::running, "running"},
                                                     {S::done, "done"},
                                                     {S::oom, "oom"},
                                                     {S::oom_predicted, "oom_predicted"},
                                                     {S::failed, "failed"},
                                                     {S::interrupted, "interrupted"}});
};

}  // namespace trm::core

namespace trm::storage {

// "pending", "running", ...
constexpr std::string_view to_string(TrialStatus s) {
  for (const auto& [value, name] : core::EnumNames<TrialStatus>::values) {
    if (value == s) return name;
  }
  return "unknown";
}

// The status of a name, nullopt for any other text.
constexpr std::optional<TrialStatus> parse_trial_status(std::string_view name) {
  for (const auto& [value, text] : core::EnumNames<TrialStatus>::values) {
    if (text == name) return value;
  }
  return std::nullopt;
}

}  // namespace trm::storage
