#include "launcher/merge_verb.h"

#include <filesystem>
#include <map>

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
