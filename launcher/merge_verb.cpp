#include "launcher/merge_verb.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>
#include <vector>

#include "core/errors.h"
#include "storage/results_merge.h"
#include "storage/results_reader.h"
#include "sweep/expand.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

namespace trm::launcher {

namespace {

// The sweep's trials in the order `run` gives them indexes (plan order, as run_verb's cells).
std::vector<storage::TrialDefinition> sweep_order(const storage::SweepHeader& header,
                                                  const std::string& source) {
  const auto spec =
      sweep::parse_stored_spec(header.spec_toml, source + " (stored spec)", header.sweep_name);
  const auto expansion = sweep::expand(spec);
  sweep::PlanOptions po;
  po.memory_bytes = 1e18;  // only the order and the definitions matter here, not OOM flags
  po.gflops = 100;
  const auto plan = sweep::make_plan(spec, expansion, po);
  std::vector<storage::TrialDefinition> order;
  for (const auto& p : plan.trials) {
    storage::TrialDefinition d;
    d.id = p.trial->id;
    d.name = p.trial->name;
    d.config = p.trial->config;
    d.predicted_peak_bytes = static_cast<int64_t>(p.memory.total());
    d.predicted_flops = p.total_flops;
    d.total_steps = p.steps;
    order.push_back(d);
  }
  return order;
}

// The folder a results file's trials run in (as run_verb names it: beside the file a symbolic
// link points to).
std::filesystem::path trials_folder(const std::string& results, const std::string& id) {
  std::error_code ec;
  auto resolved = std::filesystem::weakly_canonical(results, ec);
  if (ec) resolved = results;
  return resolved.string() + ".trials/" + id;
}

// An unfinished trial (stopped, cut off, or failed with retries left) continues from the
// checkpoint in its shard's trial folder: the merged file gets a copy of that folder, so that
// `resume OUT.h5` continues it instead of training it again from step 0. The copy is taken from
// the input whose row the merge kept (same status and step); files keep their modification times
// (resume counts a cut-off attempt's time up to its folder's last write).
void copy_unfinished_trial_folders(const std::string& out_path,
                                   const std::vector<std::string>& inputs, std::ostream& err) {
  namespace fs = std::filesystem;
  std::vector<storage::ResultsReader> readers;
  for (const auto& in : inputs) readers.emplace_back(in);
  for (const auto& row : storage::ResultsReader(out_path).trials()) {
    if (row.status == storage::TrialStatus::done || row.status == storage::TrialStatus::oom ||
        row.status == storage::TrialStatus::oom_predicted || row.attempts == 0)
      continue;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const auto& rows = readers[k].trials();
      const auto it = std::find_if(rows.begin(), rows.end(), [&](const storage::TrialRow& r) {
        return r.id == row.id && r.status == row.status && r.step == row.step &&
               r.attempts == row.attempts;
      });
      const fs::path from = trials_folder(inputs[k], row.id);
      std::error_code ec;
      if (it == rows.end() || !fs::is_directory(from, ec)) continue;
      const fs::path to = trials_folder(out_path, row.id);
      fs::create_directories(to.parent_path(), ec);
      if (!ec) fs::copy(from, to, fs::copy_options::recursive, ec);
      for (auto f = fs::recursive_directory_iterator(from, ec);
           !ec && f != fs::recursive_directory_iterator(); f.increment(ec)) {
        std::error_code ignored;
        const fs::path target = to / fs::relative(f->path(), from, ignored);
        fs::last_write_time(target, fs::last_write_time(f->path(), ignored), ignored);
      }
      if (ec) {
        err << "warning: trial " << row.name << " (" << row.id << "): could not copy "
            << from.string() << " to " << to.string() << " (" << ec.message()
            << "): `trm-sweep resume " << out_path << "` trains it from step 0\n";
      } else {
        err << "copied " << from.string() << " to " << to.string() << ": `trm-sweep resume "
            << out_path << "` continues trial " << row.name << " from its checkpoint\n";
      }
      break;
    }
  }
}

}  // namespace

int merge_verb(const std::string& out_path, const std::vector<std::string>& inputs,
               std::ostream& out, std::ostream& err) {
  if (out_path.empty() || inputs.empty()) {
    throw ConfigError(
        "merge: want OUT.h5 and at least one IN.h5, e.g. `trm-sweep merge "
        "table1.h5 table1.task0.h5 table1.task1.h5`");
  }
  if (std::filesystem::exists(out_path)) {
    throw ConfigError("merge: " + out_path +
                      " already exists; merge writes a new file, choose another OUT or remove it");
  }
  const auto folder = std::filesystem::path(out_path).parent_path();
  if (!folder.empty() && !std::filesystem::is_directory(folder)) {
    throw ConfigError("merge: " + out_path + ": the folder " + folder.string() + " does not exist");
  }
  for (const auto& in : inputs) {
    if (!std::filesystem::exists(in)) throw ConfigError("merge: no results file at " + in);
  }
  const auto header = storage::ResultsReader(inputs.front()).header();
  const auto order = sweep_order(header, inputs.front());
  const auto report = storage::merge_results(out_path, inputs, order);
  for (const auto& w : report.warnings) err << "warning: " << w << "\n";
  copy_unfinished_trial_folders(out_path, inputs, err);

  std::map<std::string, int> by_status;
  for (const auto& row : storage::ResultsReader(out_path).trials()) {
    ++by_status[std::string(storage::to_string(row.status))];
  }
  out << "merged " << inputs.size() << (inputs.size() == 1 ? " file" : " files") << " -> "
      << out_path << ": " << report.trials << " trials (";
  bool first = true;
  for (const auto& [status, n] : by_status) {
    out << (first ? "" : ", ") << n << " " << status;
    first = false;
  }
  out << ")\n";
  if (by_status.count("pending") || by_status.count("interrupted") || by_status.count("running")) {
    out << "not finished: `trm-sweep resume " << out_path << "` runs what is left\n";
  }
  return 0;
}

}  // namespace trm::launcher
