#include "sweep/plan.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/text_width.h"

namespace trm::sweep {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt("\\u%04x", static_cast<unsigned char>(ch));
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string settings_text(const Trial& t) {
  std::string out;
  for (const auto& [k, v] : t.settings) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

}  // namespace

std::string format_bytes(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) return fmt("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return fmt("%.0f MiB", bytes / (1024.0 * 1024));
}

std::string format_seconds(double s) {
  const auto t = static_cast<long long>(s + 0.5);
  char buf[64];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t / 60 % 60);
  } else if (t >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llds", t);
  }
  return buf;
}

int64_t trial_steps(const core::TrialConfig& c) {
  const auto shape = core::data_shape(c.data);
  return core::total_steps(c.train, shape.train_groups,
                           static_cast<double>(shape.train_examples) /
                               static_cast<double>(std::max<int64_t>(1, shape.train_puzzles)));
}

Plan make_plan(const SweepSpec& spec, const Expansion& expansion, const PlanOptions& options) {
  if (!(options.gflops > 0)) throw ConfigError("throughput must be > 0 GFLOP/s");
  if (options.ranks < 1) throw ConfigError("--ranks must be >= 1");
  Plan plan;
  plan.sweep = spec.sweep.name;
  plan.options = options;
  plan.skip_oom = spec.sweep.oom_predicted == OomPolicy::skip;
  plan.memory_limit = options.memory_bytes;
  if (spec.sweep.memory_budget > 0) {
    plan.memory_limit = std::min(plan.memory_limit, static_cast<double>(spec.sweep.memory_budget));
  }
  std::vector<double> run_seconds;
  for (const auto& t : expansion.trials) {
    const auto& c = t.config;
    PlannedTrial p;
    p.trial = &t;
    const auto shape = core::data_shape(c.data);
    p.steps = trial_steps(c);
    p.step_flops = core::training_step_flops(c.model, c.train.batch_size).total();
    // Evaluations: every interval and after the last step, each all N_sup steps of every
    // network evaluation over the test split in whole batches (the last one padded), forward only.
    const int64_t evals =
        (c.train.eval_interval > 0 ? (p.steps - 1) / c.train.eval_interval : 0) + 1;
    const int64_t batch = std::max<int64_t>(1, c.train.batch_size);
    const int64_t eval_rows = (shape.test_examples + batch - 1) / batch * batch;
    const double eval_flops = static_cast<double>(evals) *
                              static_cast<double>(c.model.halt_max_steps) *
                              static_cast<double>(c.model.h_cycles * (c.model.l_cycles + 1)) *
                              core::network_flops(c.model, eval_rows);
    p.total_flops = p.step_flops * static_cast<double>(p.steps) + eval_flops;
    p.seconds = p.total_flops / (options.gflops * 1e9);
    const bool cuda = options.device == core::MemoryDevice::cuda;
    const int64_t examples = cuda ? 0 : shape.train_examples + shape.test_examples;
    p.memory = core::predict_training_memory(c.model, c.train.batch_size, c.train.ema, examples,
                                             options.device);
    p.oom = p.memory.total() > plan.memory_limit;
    plan.oom_count += p.oom ? 1 : 0;
    plan.total_flops += p.total_flops;
    if (!(p.oom && plan.skip_oom)) {
      plan.device_seconds += p.seconds;
      run_seconds.push_back(p.seconds);
    }
    plan.trials.push_back(p);
  }
  // Longest-predicted-first onto the least loaded worker, as the launcher schedules.
  std::sort(run_seconds.begin(), run_seconds.end(), std::greater<>());
  std::priority_queue<double, std::vector<double>, std::greater<>> load;
  for (int64_t r = 0; r < options.ranks; ++r) load.push(0.0);
  for (const double s : run_seconds) {
    const double least = load.top();
    load.pop();
    load.push(least + s);
  }
  while (!load.empty()) {
    plan.makespan_seconds = std::max(plan.makespan_seconds, load.top());
    load.pop();
  }
  return plan;
}

std::string format_plan(const Plan& plan, const std::string& format) {
  const char* device = plan.options.device == core::MemoryDevice::cuda ? "cuda" : "cpu";
  std::string out;
  if (format == "csv") {
    out = "index,name,id,settings,seed,steps,step_gflop,total_gflop,seconds,peak_bytes,oom\n";
    for (const auto& p : plan.trials) {
      const auto& t = *p.trial;
      out += std::to_string(t.index) + "," + csv_field(t.name) + "," + t.id + "," +
             csv_field(settings_text(t)) + "," + std::to_string(t.seed) + "," +
             std::to_string(p.steps) + "," + fmt("%.3f", p.step_flops / 1e9) + "," +
             fmt("%.1f", p.total_flops / 1e9) + "," + fmt("%.1f", p.seconds) + "," +
             fmt("%.0f", p.memory.total()) + "," + (p.oom ? "true" : "false") + "\n";
    }
    return out;
  }
  if (format == "json") {
    out = "{\"sweep\":" + json_string(plan.sweep) + ",\"device\":\"" + device +
          "\",\"memory_limit_bytes\":" + fmt("%.0f", plan.memory_limit) +
          ",\"gflops\":" + core::format_double(plan.options.gflops) + ",\"trials\":[";
    for (size_t i = 0; i < plan.trials.size(); ++i) {
      const auto& p = plan.trials[i];
      const auto& t = *p.trial;
      const auto& m = p.memory;
      out += std::string(i ? "," : "") + "{\"index\":" + std::to_string(t.index) +
             ",\"name\":" + json_string(t.name) + ",\"id\":\"" + t.id +
             "\",\"variant\":" + json_string(t.variant) + ",\"seed\":" + std::to_string(t.seed) +
             ",\"settings\":{";
      for (size_t k = 0; k < t.settings.size(); ++k) {
        out += std::string(k ? "," : "") + json_string(t.settings[k].first) + ":" +
               json_string(t.settings[k].second);
      }
      out +=
          "},\"steps\":" + std::to_string(p.steps) +
          ",\"step_flops\":" + fmt("%.6g", p.step_flops) +
          ",\"total_flops\":" + fmt("%.6g", p.total_flops) +
          ",\"seconds\":" + fmt("%.3f", p.seconds) + ",\"peak_bytes\":" + fmt("%.0f", m.total()) +
          ",\"activation_bytes\":" + fmt("%.0f", m.activations) +
          ",\"memory\":{\"runtime\":" + fmt("%.0f", m.runtime) +
          ",\"data\":" + fmt("%.0f", m.data) + ",\"parameters\":" + fmt("%.0f", m.parameters) +
          ",\"ema\":" + fmt("%.0f", m.ema) + ",\"buffers\":" + fmt("%.0f", m.buffers) +
          ",\"carry\":" + fmt("%.0f", m.carry) + ",\"activations\":" + fmt("%.0f", m.activations) +
          "}" + ",\"oom\":" + (p.oom ? "true" : "false") + "}";
    }
    out += "],\"totals\":{\"trials\":" + std::to_string(plan.trials.size()) +
           ",\"oom\":" + std::to_string(plan.oom_count) +
           ",\"total_flops\":" + fmt("%.6g", plan.total_flops) +
           ",\"device_hours\":" + fmt("%.4f", plan.device_seconds / 3600) +
           ",\"ranks\":" + std::to_string(plan.options.ranks) +
           ",\"makespan_hours\":" + fmt("%.4f", plan.makespan_seconds / 3600) + "}}\n";
    return out;
  }
  if (format != "text") {
    throw ConfigError("--format " + format + ": valid formats: text, csv, json");
  }
  out = "sweep " + plan.sweep + ": " + std::to_string(plan.trials.size()) + " trials on " + device +
        ", memory limit " + format_bytes(plan.memory_limit) + ", throughput " +
        fmt("%.0f", plan.options.gflops) + " GFLOP/s\n\n";
  // Names padded to the columns they take (core::display_width: wide CJK, not bytes), whatever
  // their length.
  const auto shown = [](const std::string& text) { return core::display_width(text); };
  size_t width = 4;
  for (const auto& p : plan.trials) width = std::max(width, shown(p.trial->name));
  const auto name_cell = [&](const std::string& name) {
    return "  " + name + std::string(width - shown(name), ' ') + "  ";
  };
  char line[512];
  std::snprintf(line, sizeof line, "%5s", "#");
  out += line + name_cell("name");
  std::snprintf(line, sizeof line, "%-8s  %8s  %12s  %9s  %10s  %s\n", "id", "steps", "GFLOP",
                "time", "memory", "OOM");
  out += line;
  for (const auto& p : plan.trials) {
    const auto& t = *p.trial;
    std::snprintf(line, sizeof line, "%5lld", static_cast<long long>(t.index));
    out += line + name_cell(t.name);
    std::snprintf(line, sizeof line, "%-8s  %8lld  %12.0f  %9s  %10s  %s\n",
                  t.id.substr(0, 8).c_str(), static_cast<long long>(p.steps), p.total_flops / 1e9,
                  format_seconds(p.seconds).c_str(), format_bytes(p.memory.total()).c_str(),
                  p.oom ? (plan.skip_oom ? "OOM (skipped)" : "OOM (runs anyway)") : "");
    out += line;
  }
  out += "\ntotals: " + std::to_string(plan.trials.size()) + " trials, " +
         std::to_string(plan.oom_count) + " predicted OOM, " +
         fmt("%.2f", plan.device_seconds / 3600) + " device-hours, makespan on " +
         std::to_string(plan.options.ranks) + " rank" + (plan.options.ranks == 1 ? "" : "s") +
         ": " + format_seconds(plan.makespan_seconds) + "\n";
  return out;
}

}  // namespace trm::sweep
