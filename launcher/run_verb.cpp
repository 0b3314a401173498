#include "launcher/run_verb.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "core/errors.h"
#include "launcher/train_verb.h"
#include "launcher/trial_process.h"
#include "storage/results_file.h"
#include "sweep/expand.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

#ifndef TRM_VERSION
#define TRM_VERSION "unknown"
#endif
#ifndef TRM_GIT_REVISION
#define TRM_GIT_REVISION ""
#endif

namespace trm::launcher {

namespace {

volatile std::sig_atomic_t g_run_stop = 0;
extern "C" void on_run_signal(int sig) { g_run_stop = sig; }

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

double machine_memory() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

struct Cell {
  const sweep::Trial* trial;
  sweep::PlannedTrial plan;
};

// A trial on its way: the child, and how far its metrics have reached the results file.
struct Running {
  int64_t index;
  std::unique_ptr<TrialProcess> process;
  double started;
  int64_t stored_train_step;
  int64_t stored_eval_step;
};

// Steps already in the file: training rows are steps 1, 2, ... in order; the k-th evaluation ran
// at step k * eval_interval, the last one after the final step.
int64_t eval_step(const core::TrialConfig& c, int64_t total_steps, int64_t evals) {
  const int64_t interval = c.train.eval_interval;
  if (evals == 0) return 0;
  if (interval > 0 && evals <= (total_steps - 1) / interval) return evals * interval;
  return total_steps;
}

storage::TrialDefinition definition_of(const Cell& c) {
  storage::TrialDefinition d;
  d.id = c.trial->id;
  d.name = c.trial->name;
  d.config = c.trial->config;
  d.predicted_peak_bytes = static_cast<int64_t>(c.plan.memory.total());
  d.predicted_flops = c.plan.total_flops;
  d.total_steps = c.plan.steps;
  return d;
}

// Opens or creates the results file so that it holds every trial of `spec`, by id.
storage::ResultsWriter open_results(const RunOptions& o, const sweep::SweepSpec& spec,
                                    const std::vector<Cell>& cells, std::ostream& err) {
  if (!std::filesystem::exists(o.results)) {
    storage::SweepHeader h;
    h.spec_toml = spec.text;
    h.spec_hash = spec.hash;
    h.created = iso_now();
    h.tool_version = TRM_VERSION;
    h.git_revision = TRM_GIT_REVISION;
    h.host = hostname();
    h.torch_version = torch_version();
    std::vector<storage::TrialDefinition> defs;
    for (const auto& c : cells) defs.push_back(definition_of(c));
    return storage::ResultsWriter::create(o.results, h, defs);
  }
  auto w = storage::ResultsWriter::open(o.results);
  if (w.rebuilt()) err << "results file rebuilt from its journal after an unclean stop\n";
  std::set<std::string> known;
  for (const auto& row : w.trials()) known.insert(row.id);
  std::vector<storage::TrialDefinition> added;
  for (const auto& c : cells) {
    if (!known.count(c.trial->id)) added.push_back(definition_of(c));
  }
  if (w.header().spec_hash != spec.hash || !added.empty()) {
    if (!o.extend) {
      throw ConfigError(o.results + " was made by another sweep spec (" +
                        std::to_string(added.size()) +
                        " of this spec's trials are not in it); "
                        "`trm-sweep resume " +
                        o.results +
                        "` continues the stored one, "
                        "--extend adds the new cells, or choose another -o");
    }
    w.add_trials(added);
    std::set<std::string> wanted;
    for (const auto& c : cells) wanted.insert(c.trial->id);
    for (const auto& row : w.trials()) {
      if (!wanted.count(row.id)) err << "kept, no longer in the spec: " << row.name << "\n";
    }
    w.log_event(-1, "extend", std::to_string(added.size()) + " trials added");
  }
  return w;
}

}  // namespace

int run_verb(const RunOptions& o, std::ostream& out, std::ostream& err) {
  if (o.results.empty()) throw ConfigError("-o RESULTS.h5 is required");
  if (o.jobs < 1) throw ConfigError("--jobs must be >= 1");
  sweep::SweepSpec spec;
  if (o.spec.empty()) {
    // The writer (not a reader) first: after an unclean stop it rebuilds the file.
    auto stored = storage::ResultsWriter::open(o.results);
    spec = sweep::parse_spec_text(stored.header().spec_toml, o.results + " (stored spec)");
    stored.close();
  } else {
    spec = sweep::parse_spec_file(o.spec);
  }
  const auto expansion = sweep::expand(spec);
  for (const auto& w : expansion.warnings) err << "warning: " << w << "\n";
  for (const auto& d : expansion.duplicates) err << "duplicate: " << d << "\n";
  sweep::PlanOptions po;
  po.memory_bytes = machine_memory();
  po.gflops = 100;  // only the order matters here: longest predicted first
  const auto plan = sweep::make_plan(spec, expansion, po);
  std::vector<Cell> cells;
  for (const auto& p : plan.trials) cells.push_back({p.trial, p});

  auto results = open_results(o, spec, cells, err);
  std::map<std::string, int64_t> index_of;
  for (const auto& row : results.trials()) index_of[row.id] = row.index;

  // The queue: this spec's trials without a final status, longest predicted first.
  std::vector<const Cell*> order;
  for (const auto& c : cells) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(),
                   [](const Cell* a, const Cell* b) { return a->plan.seconds > b->plan.seconds; });
  std::deque<const Cell*> queue;
  for (const Cell* c : order) {
    auto row = results.trials()[static_cast<size_t>(index_of.at(c->trial->id))];
    using storage::TrialStatus;
    if (row.status == TrialStatus::done || row.status == TrialStatus::oom ||
        row.status == TrialStatus::oom_predicted ||
        (row.status == TrialStatus::failed && row.attempts > spec.sweep.retries)) {
      continue;
    }
    if (c->plan.oom && spec.sweep.oom_predicted == sweep::OomPolicy::skip) {
      row.status = TrialStatus::oom_predicted;
      row.error = "predicted peak " + sweep::format_bytes(c->plan.memory.total()) + " > limit " +
                  sweep::format_bytes(plan.memory_limit);
      results.update_trial(row);
      results.log_event(row.index, "oom_predicted", row.error);
      continue;
    }
    queue.push_back(c);
  }

  struct sigaction sa {};
  sa.sa_handler = on_run_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaction(sig, &sa, nullptr);
  results.log_event(-1, "start", std::to_string(queue.size()) + " trials to run");
  out << "sweep " << spec.sweep.name << ": " << queue.size() << " of " << cells.size()
      << " trials to run, " << o.jobs << " at a time -> " << o.results << "\n";

  const int64_t threads = std::max<int64_t>(1, usable_cores() / o.jobs);
  const std::string trial_root = o.results + ".trials";
  std::vector<Running> running;
  bool any_failed = false, stopping = false;
  // After a stop signal no new trial starts: the loop ends when the running ones have stopped.
  while ((!queue.empty() && g_run_stop == 0) || !running.empty()) {
    if (g_run_stop != 0 && !stopping) {
      stopping = true;
      results.log_event(-1, "signal",
                        "signal " + std::to_string(g_run_stop) +
                            ": checkpointing and stopping the running trials");
      for (auto& r : running) r.process->request_stop();
    }
    while (!stopping && static_cast<int64_t>(running.size()) < o.jobs && !queue.empty()) {
      const Cell* c = queue.front();
      queue.pop_front();
      const int64_t index = index_of.at(c->trial->id);
      auto row = results.trials()[static_cast<size_t>(index)];
      TrialLaunch launch;
      launch.dir = trial_root + "/" + c->trial->id;
      launch.threads = threads;
      launch.device = o.device;
      launch.memory_budget = spec.sweep.memory_budget;
      launch.checkpoint_every = spec.sweep.checkpoint_interval;
      row.status = storage::TrialStatus::running;
      row.attempts += 1;
      row.rank = 0;
      row.host = hostname();
      row.device = o.device;
      row.started = now();
      results.update_trial(row);
      results.log_event(index, "start", "attempt " + std::to_string(row.attempts));
      out << "start  #" << index << " " << c->trial->name << "\n" << std::flush;
      running.push_back({index, std::make_unique<TrialProcess>(c->trial->config, launch), now(),
                         results.train_rows(index),
                         eval_step(c->trial->config, c->plan.steps, results.eval_rows(index))});
    }
    for (size_t i = 0; i < running.size();) {
      auto& r = running[i];
      std::vector<core::TrainRecord> train;
      std::vector<core::EvalRecord> eval;
      r.process->read_metrics(train, eval);
      TrialOutcome outcome;
      const bool ended = r.process->poll(&outcome);
      if (ended) r.process->read_metrics(train, eval);
      // A resumed child re-reports the steps its checkpoint covers: keep only new ones.
      std::erase_if(train, [&](const auto& t) { return t.step <= r.stored_train_step; });
      std::erase_if(eval, [&](const auto& e) { return e.step <= r.stored_eval_step; });
      if (!train.empty()) {
        results.append_train(r.index, train);
        r.stored_train_step = train.back().step;
      }
      if (!eval.empty()) {
        results.append_eval(r.index, eval);
        r.stored_eval_step = eval.back().step;
      }
      auto row = results.trials()[static_cast<size_t>(r.index)];
      row.step = std::max(row.step, r.stored_train_step);
      for (const auto& e : eval) {
        row.final_accuracy = e.accuracy;
        row.final_exact_accuracy = e.exact_accuracy;
        row.best_exact_accuracy = std::isnan(row.best_exact_accuracy)
                                      ? e.exact_accuracy
                                      : std::max(row.best_exact_accuracy, e.exact_accuracy);
      }
      if (!ended) {
        if (!train.empty() || !eval.empty()) results.update_trial(row);
        ++i;
        continue;
      }
      row.finished = now();
      row.wall_s = (std::isnan(row.wall_s) ? 0.0 : row.wall_s) + (row.finished - r.started);
      row.measured_peak_bytes = outcome.peak_rss_bytes;
      row.error = outcome.error;
      using storage::TrialStatus;
      const char* word = "done";
      switch (outcome.end) {
        case TrialEnd::done:
          row.status = TrialStatus::done;
          break;
        case TrialEnd::oom:
          row.status = TrialStatus::oom;
          word = "oom";
          break;
        case TrialEnd::interrupted:
          row.status = TrialStatus::interrupted;
          word = "interrupted";
          break;
        case TrialEnd::failed:
          row.status = TrialStatus::failed;
          word = "failed";
          if (!stopping && row.attempts <= spec.sweep.retries) {
            const Cell* again = nullptr;
            for (const auto& c : cells) {
              if (index_of.at(c.trial->id) == r.index) again = &c;
            }
            queue.push_back(again);
            word = "failed (retrying)";
          } else {
            any_failed = true;
          }
          break;
      }
      results.update_trial(row);
      results.log_event(r.index, word, row.error);
      out << word << "  #" << r.index << " " << row.name;
      if (!std::isnan(row.final_exact_accuracy))
        out << " exact_accuracy=" << row.final_exact_accuracy;
      out << " (" << sweep::format_seconds(row.finished - r.started) << ")\n" << std::flush;
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (!running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  results.log_event(-1, stopping ? "stopped" : "finished", "");
  results.close();
  if (stopping) {
    out << "stopped by signal " << g_run_stop << "; `trm-sweep resume " << o.results
        << "` continues\n";
    return kExitStopped;
  }
  return any_failed ? 1 : 0;
}

int status_verb(const std::string& results, const std::string& format, double watch_seconds,
                std::ostream& out) {
  storage::StatusOptions so;
  if (format == "json") {
    so.format = storage::StatusFormat::json;
  } else if (format != "text") {
    throw ConfigError("--format " + format + ": valid formats: text, json");
  }
  if (watch_seconds <= 0) {
    out << storage::format_status(storage::ResultsReader(results), so);
    return 0;
  }
  // --watch: redraw until no trial is pending or running (or Ctrl-C).
  while (true) {
    const storage::ResultsReader reader(results);
    out << "\x1b[H\x1b[2J" << storage::format_status(reader, so) << std::flush;
    bool active = false;
    for (const auto& row : reader.trials()) {
      active = active || row.status == storage::TrialStatus::pending ||
               row.status == storage::TrialStatus::running;
    }
    if (!active) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(watch_seconds));
  }
}

}  // namespace trm::launcher
