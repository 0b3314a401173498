#include "storage/results_merge.h"

#include <algorithm>
#include <map>
#include <optional>

#include "storage/results_reader.h"
#include "storage/results_writer.h"
#include "storage/storage_error.h"

namespace trm::storage {

namespace {

// Statuses after which a trial runs no more (the sweep's answer for that cell).
bool is_final(TrialStatus s) {
  return s == TrialStatus::done || s == TrialStatus::oom || s == TrialStatus::oom_predicted ||
         s == TrialStatus::failed;
}

// Where a trial's copy lives: input number and its index there.
struct Source {
  size_t input = 0;
  TrialRow row;
};

// Whether `candidate` is the better copy of a trial than `kept`: a final status first, `done`
// before another final one (a failed copy at the same step must not hide a finished one), then
// the one further along. On a tie the first input stays.
bool better(const TrialRow& candidate, const TrialRow& kept) {
  if (is_final(candidate.status) != is_final(kept.status)) return is_final(candidate.status);
  const bool done = candidate.status == TrialStatus::done;
  if (done != (kept.status == TrialStatus::done)) return done;
  return candidate.step > kept.step;
}

std::string describe(const TrialRow& r) {
  return std::string(to_string(r.status)) + ", " + std::to_string(r.step) + " steps";
}

// Every input's trials by id, the better copy of each (duplicates reported).
std::map<std::string, Source> pick_sources(const std::vector<ResultsReader>& readers,
                                           const std::vector<std::string>& inputs,
                                           std::vector<std::string>& warnings) {
  std::map<std::string, Source> by_id;
  for (size_t k = 0; k < readers.size(); ++k) {
    for (const auto& row : readers[k].trials()) {
      auto it = by_id.find(row.id);
      if (it == by_id.end()) {
        by_id.emplace(row.id, Source{k, row});
        continue;
      }
      const bool replace = better(row, it->second.row);
      const auto& kept = replace ? row : it->second.row;
      const auto& dropped = replace ? it->second.row : row;
      warnings.push_back("trial " + row.name + " (" + row.id + ") is in " +
                         inputs[it->second.input] + " and " + inputs[k] + "; kept the copy from " +
                         inputs[replace ? k : it->second.input] + " (" + describe(kept) +
                         ") over " + describe(dropped));
      if (replace) it->second = Source{k, row};
    }
  }
  return by_id;
}

}  // namespace

MergeReport merge_results(const std::string& out, const std::vector<std::string>& inputs,
                          const std::vector<TrialDefinition>& order) {
  if (inputs.empty()) throw StorageError("merge: no input results files to merge into " + out);
  std::vector<ResultsReader> readers;
  for (const auto& path : inputs) {
    // A shard still running would be merged half done, and a resume of the merged file would
    // start its running trials a second time.
    if (results_writer_holds_lock(path)) {
      throw StorageError(path + " is being written by a running sweep (its journal " +
                         journal_path(path) +
                         " is locked); merge it once that run has ended or been stopped");
    }
    readers.emplace_back(path);
  }
  const SweepHeader header = readers.front().header();
  for (size_t k = 1; k < readers.size(); ++k) {
    const auto hash = readers[k].header().spec_hash;
    if (hash != header.spec_hash) {
      throw StorageError(inputs[k] + " was made by another sweep spec (spec hash " + hash +
                         ") than " + inputs.front() + " (spec hash " + header.spec_hash +
                         "); merge only the shards of one sweep");
    }
  }
  MergeReport report;
  auto sources = pick_sources(readers, inputs, report.warnings);

  // The merged file's trials: the caller's order, then what only the inputs know.
  std::vector<TrialDefinition> defs;
  std::vector<std::optional<Source>> chosen;
  auto add = [&](const TrialDefinition& fallback) {
    const auto it = sources.find(fallback.id);
    if (it == sources.end()) {
      report.warnings.push_back("trial " + fallback.name + " (" + fallback.id +
                                ") is in no input: pending in " + out + " (`trm-sweep resume " +
                                out + "` runs it)");
      defs.push_back(fallback);
      chosen.emplace_back();
      return;
    }
    const Source& s = it->second;
    TrialDefinition d;
    d.id = s.row.id;
    d.name = s.row.name;
    d.config = readers[s.input].config(s.row.index);
    d.predicted_peak_bytes = s.row.predicted_peak_bytes;
    d.predicted_flops = s.row.predicted_flops;
    d.total_steps = s.row.total_steps;
    defs.push_back(d);
    chosen.emplace_back(s);
    if (!is_final(s.row.status)) {
      report.warnings.push_back("trial " + s.row.name + " is " + describe(s.row) + " in " +
                                inputs[s.input] + ": merged unfinished (`trm-sweep resume " + out +
                                "` finishes it)");
    }
    sources.erase(it);
  };
  for (const auto& d : order) add(d);
  std::vector<Source> extra;
  for (const auto& [id, s] : sources) extra.push_back(s);
  std::sort(extra.begin(), extra.end(), [](const Source& a, const Source& b) {
    return a.input != b.input ? a.input < b.input : a.row.index < b.row.index;
  });
  for (const auto& s : extra) {
    report.warnings.push_back("trial " + s.row.name + " (" + s.row.id + ") of " + inputs[s.input] +
                              " is not in the sweep's expansion; kept at the end");
    TrialDefinition d;
    d.id = s.row.id;
    d.name = s.row.name;
    add(d);
  }

  // Input k's index i -> the merged index (every input trial has one, duplicates included).
  std::map<std::string, int64_t> new_index;
  for (size_t i = 0; i < defs.size(); ++i) new_index[defs[i].id] = static_cast<int64_t>(i);
  std::vector<Event> events;
  for (size_t k = 0; k < readers.size(); ++k) {
    const auto rows = readers[k].trials();
    for (auto e : readers[k].events()) {
      if (e.trial >= 0) {
        if (e.trial >= static_cast<int64_t>(rows.size())) continue;  // no such trial: not ours
        e.trial = new_index.at(rows[static_cast<size_t>(e.trial)].id);
      }
      events.push_back(std::move(e));
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });

  auto writer = ResultsWriter::create(out, header, defs);
  writer.begin_group();
  for (size_t i = 0; i < defs.size(); ++i) {
    if (!chosen[i]) continue;
    const auto& s = *chosen[i];
    TrialRow row = s.row;
    row.index = static_cast<int64_t>(i);
    writer.update_trial(row);
    const auto train = readers[s.input].train(s.row.index);
    writer.append_train(row.index, train);
    const auto eval = readers[s.input].eval(s.row.index);
    writer.append_eval(row.index, eval);
    ++report.copied;
  }
  for (const auto& e : events) writer.log_event(e);
  std::string names;
  for (const auto& path : inputs) names += (names.empty() ? "" : ", ") + path;
  writer.log_event(-1, "merge", "merged from " + names);
  writer.end_group();
  writer.close();
  report.trials = static_cast<int64_t>(defs.size());
  return report;
}

}  // namespace trm::storage
