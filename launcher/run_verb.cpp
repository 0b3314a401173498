#include "launcher/run_verb.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/errors.h"
#include "core/gemm.h"
#include "launcher/mpi_session.h"
#include "launcher/sbatch_script.h"
#include "launcher/slurm_status.h"
#include "launcher/train_verb.h"
#include "launcher/trial_process.h"
#include "launcher/trial_runner.h"
#include "launcher/worker.h"
#include "storage/export.h"
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

// Signals so far: the first stops the sweep gracefully, a later one (StopSignals) ends the running
// trials at once.
volatile std::sig_atomic_t g_run_signals = 0;
extern "C" void on_run_signal(int) { g_run_signals = g_run_signals + 1; }
// SIGPIPE is caught, not ignored: an ignored signal would stay ignored in the trials exec'd.
extern "C" void on_broken_pipe(int) {}

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a trial's folder tells of an attempt whose run was killed (kill -9, a node lost) before
// it could record the attempt's end: the last time the trial process wrote there (its logs,
// metrics or checkpoint; an orphaned trial process checkpoints on its parent's death), and the
// largest peak_rss_bytes= its stdout.log holds (a trial process stopped by a signal reports its
// peak there, as a finished one does).
struct CutOffAttempt {
  double last_write = std::numeric_limits<double>::quiet_NaN();
  int64_t peak_rss_bytes = -1;
};

CutOffAttempt cut_off_attempt(const std::string& dir) {
  CutOffAttempt a;
  for (const char* name : {"stdout.log", "stderr.log", "metrics.jsonl", "checkpoint.pt"}) {
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) != 0) continue;
    const double t =
        static_cast<double>(st.st_mtim.tv_sec) + 1e-9 * static_cast<double>(st.st_mtim.tv_nsec);
    if (std::isnan(a.last_write) || t > a.last_write) a.last_write = t;
  }
  std::ifstream in(dir + "/stdout.log");
  const std::string key = "peak_rss_bytes=";
  for (std::string line; std::getline(in, line);) {
    for (size_t at = line.find(key); at != std::string::npos; at = line.find(key, at + 1)) {
      const char* first = line.data() + at + key.size();
      int64_t v = -1;
      if (std::from_chars(first, line.data() + line.size(), v).ec == std::errc{} && v > 0)
        a.peak_rss_bytes = std::max(a.peak_rss_bytes, v);
    }
  }
  return a;
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

double machine_memory() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

struct Cell {
  const sweep::Trial* trial;
  sweep::PlannedTrial plan;
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

// What ResultsWriter::open did to the file, said on stderr.
void say_rebuilt(const storage::ResultsWriter& w, std::ostream& err, bool from_journal = false) {
  if (from_journal && w.set_aside().empty()) {
    // Asked for, but the journal already accounts for all the file holds: said, not silent.
    err << "--from-journal: " << w.path()
        << " holds nothing its journal lacks: nothing to rebuild, the file was not set aside\n";
  }
  if (!w.set_aside().empty()) {
    err << "results file rebuilt from its journal, which ends before changes the file holds "
           "(never acknowledged: a power loss cut the journal's unsynced tail, or the journal is "
           "a copy taken while the sweep ran); the file as it was is kept as "
        << w.set_aside() << "\n";
  } else if (w.rebuilt()) {
    err << "results file rebuilt from its journal (its last writer did not close it, or the file "
           "was copied or replaced since)\n";
  }
}

// Opens or creates the results file so that it holds every trial of `spec`, by id.
storage::ResultsWriter open_results(const RunOptions& o, const sweep::SweepSpec& spec,
                                    const std::vector<Cell>& cells, const std::string& mpi_version,
                                    std::ostream& err) {
  if (!std::filesystem::exists(o.results)) {
    // The trial folders of an earlier sweep written to this path, whose results file and journal
    // were deleted: a new sweep would take their checkpoints (and so their results) for its own
    // trials. (A journal left alone is ResultsWriter::create's to explain: resume rebuilds.)
    const std::filesystem::path trials = o.results + ".trials";
    std::error_code error;
    if (!std::filesystem::exists(o.results + ".journal", error) &&
        std::filesystem::exists(trials, error) && !std::filesystem::is_empty(trials, error)) {
      throw ConfigError(trials.string() +
                        " holds the trial folders of an earlier sweep written to " + o.results +
                        ", whose results file is gone; a new sweep would resume their "
                        "checkpoints as its own trials. Remove the folder (rm -r " +
                        shell_quote(trials.string()) + ") or choose another -o");
    }
    storage::SweepHeader h;
    h.spec_toml = spec.text;
    h.spec_hash = spec.hash;
    h.created = iso_now();
    h.tool_version = TRM_VERSION;
    h.git_revision = TRM_GIT_REVISION;
    h.host = host_name();
    h.torch_version = torch_version();
    h.mpi_version = mpi_version;
    h.sweep_name = spec.sweep.name;
    std::vector<storage::TrialDefinition> defs;
    for (const auto& c : cells) defs.push_back(definition_of(c));
    return storage::ResultsWriter::create(o.results, h, defs);
  }
  auto w = storage::ResultsWriter::open(o.results, o.from_journal);
  say_rebuilt(w, err);
  std::set<std::string> known;
  for (const auto& row : w.trials()) known.insert(row.id);
  if (o.spec.empty()) {
    // Trials that `run SPEC --extend` added are not in the spec stored at creation: resume alone
    // would leave the unfinished ones out without a word.
    std::set<std::string> stored;
    for (const auto& c : cells) stored.insert(c.trial->id);
    int64_t outside = 0;
    for (const auto& row : w.trials()) {
      // A failed trial is final unless --retry-failed asks for it again.
      const bool final = row.status == storage::TrialStatus::done ||
                         row.status == storage::TrialStatus::oom ||
                         row.status == storage::TrialStatus::oom_predicted ||
                         (row.status == storage::TrialStatus::failed && !o.retry_failed);
      if (!stored.count(row.id) && !final) ++outside;
    }
    if (outside > 0 && o.shard_count == 1) {
      throw ConfigError(o.results + ": " + std::to_string(outside) + " unfinished trial(s) " +
                        (o.retry_failed ? "(failed ones included) " : "") +
                        "were added by `run SPEC --extend` and are not in the spec stored with "
                        "the file; continue with that SPEC: `trm-sweep run SPEC -o " +
                        shell_quote(o.results) + " --extend" +
                        (o.retry_failed ? " --retry-failed" : "") + "`");
    }
  }
  std::vector<storage::TrialDefinition> added;
  for (const auto& c : cells) {
    if (!known.count(c.trial->id)) added.push_back(definition_of(c));
  }
  if (w.header().spec_hash == spec.hash && !added.empty() && o.shard_count > 1) {
    // Same spec, other trials: the file is another shard's (or the whole sweep's).
    throw ConfigError(o.results + " does not hold the trials of shard " +
                      std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count) + " (" +
                      std::to_string(added.size()) +
                      " of them are not in it): it is another shard's file, or not a shard's. "
                      "`trm-sweep resume " +
                      shell_quote(o.results) +
                      "` without --shard finds the file's own shard; a new shard needs a new -o");
  }
  if (w.header().spec_hash != spec.hash || !added.empty()) {
    if (o.spec.empty()) {  // resume: the spec is the file's own, so the file disagrees with itself
      throw ConfigError(
          o.results + ": its stored spec does not match the file (" +
          (w.header().spec_hash != spec.hash
               ? "its hash is " + spec.hash + ", the file records " + w.header().spec_hash
               : std::to_string(added.size()) + " of the stored spec's trials are not in it") +
          "): the file was changed by something other than trm-sweep, or written "
          "by a version that expands specs differently; nothing was run");
    }
    if (!o.extend) {
      throw ConfigError(
          o.results +
          (added.empty()
               ? " was made by another text of this spec (every trial of it is in the file, but "
                 "the spec's hash differs: an edited comment or value, or the file was extended "
                 "by this spec); `trm-sweep run " +
                     shell_quote(o.spec) + " -o " + shell_quote(o.results) +
                     " --extend` runs this text's cells into it (the file keeps the spec it was "
                     "made with, and that spec's [[table]]s)"
               : " was made by another sweep spec (" + std::to_string(added.size()) +
                     " of this spec's trials are not in it); `trm-sweep resume " +
                     shell_quote(o.results) +
                     "` continues the stored one, --extend adds the new cells, or choose "
                     "another -o"));
    }
    w.add_trials(added);
    // The file keeps the spec it was made with: tables only this text declares are not export's.
    std::set<std::string> stored_tables;
    for (const auto& t : sweep::parse_spec_text(w.header().spec_toml, o.results, true).tables)
      stored_tables.insert(t.name);
    for (const auto& t : spec.tables) {
      if (!stored_tables.count(t.name)) {
        err << "note: [[table]] \"" << t.name << "\" of " << o.spec
            << " is not in the spec stored with the file, so `export --table " << t.name
            << "` will not know it; export --kind " << t.kind
            << (t.kind == "grid" ? " --rows " + t.rows + " --cols " + t.cols : std::string())
            << " makes it\n";
      }
    }
    std::set<std::string> wanted;
    for (const auto& c : cells) wanted.insert(c.trial->id);
    for (const auto& row : w.trials()) {
      if (!wanted.count(row.id)) err << "kept, no longer in the spec: " << row.name << "\n";
    }
    w.log_event(-1, "extend", std::to_string(added.size()) + " trials added");
  }
  return w;
}

// Where trials run: the coordinator's own slots (rank 0) and one slot per worker rank.
struct Slot {
  int rank = 0;
  TrialRunner local;   // rank 0's slots
  bool ready = false;  // a worker: its READY arrived
  bool lost = false;   // a worker silent past the timeout
  int64_t index = -1;  // the trial running there
  double last_seen = 0;
  std::string host, device;
  std::deque<int64_t> own;  // static schedule: this slot's trials
};

// A trial on its way: how far its metrics have reached the results file.
struct Active {
  double started;
  int64_t stored_train_step;
  int64_t stored_eval_step;
};

// Rank 0: the queue and the only writer of the results file.
class Coordinator {
 public:
  // `live`: out is a terminal; a progress line is redrawn under the log lines.
  Coordinator(const RunOptions& o, const sweep::SweepSpec& spec, std::vector<Cell> cells,
              storage::ResultsWriter results, MpiSession* mpi, std::ostream& out, bool live)
      : o_(o),
        spec_(spec),
        cells_(std::move(cells)),
        results_(std::move(results)),
        mpi_(mpi),
        out_(out),
        kind_(parse_trial_kind(o.trial_kind)),
        live_(live) {
    for (const auto& row : results_.trials()) index_of_[row.id] = row.index;
    for (const auto& c : cells_) cell_of_[index_of_.at(c.trial->id)] = &c;
  }

  // The trials without a final status, longest predicted first; oom_predicted ones recorded.
  size_t build_queue(const sweep::Plan& plan) {
    std::vector<const Cell*> order;
    for (const auto& c : cells_) order.push_back(&c);
    if (o_.schedule == "dynamic") {
      std::stable_sort(order.begin(), order.end(), [](const Cell* a, const Cell* b) {
        return a->plan.seconds > b->plan.seconds;
      });
    }
    for (const Cell* c : order) {
      auto row = results_.trials()[static_cast<size_t>(index_of_.at(c->trial->id))];
      using storage::TrialStatus;
      if (row.status == TrialStatus::failed && row.attempts > spec_.sweep.retries &&
          o_.retry_failed) {
        first_attempt_[row.index] = row.attempts;  // `retries` more after this one
      }
      if (row.status == TrialStatus::running) {
        // Cut off: the run that ran it was killed (no run holds the file now: the lock says so).
        // Its time and peak memory count, as an interrupted attempt's do; its status becomes
        // interrupted, so that a resume killed before the trial starts again adds nothing twice.
        const auto cut = cut_off_attempt(trial_dir(row.index));
        if (!std::isnan(row.started) && !std::isnan(cut.last_write) &&
            cut.last_write > row.started) {
          row.wall_s = (std::isnan(row.wall_s) ? 0.0 : row.wall_s) + (cut.last_write - row.started);
          row.finished = cut.last_write;
        }
        row.measured_peak_bytes = std::max(row.measured_peak_bytes, cut.peak_rss_bytes);
        row.status = TrialStatus::interrupted;
        results_.update_trial(row);
        results_.log_event(row.index, "cut_off",
                           "attempt " + std::to_string(row.attempts) +
                               " was cut off (its run was killed); its time and peak memory count");
      }
      if (row.status == TrialStatus::done || row.status == TrialStatus::oom ||
          row.status == TrialStatus::oom_predicted ||
          (row.status == TrialStatus::failed && !may_retry(row))) {
        continue;
      }
      // Predicted OOM skips a trial that never ran; one that did (interrupted, a checkpoint)
      // continues, also when this coordinator's machine is smaller than the last one's.
      if (c->plan.oom && spec_.sweep.oom_predicted == sweep::OomPolicy::skip && row.attempts == 0) {
        row.status = TrialStatus::oom_predicted;
        row.error = "predicted peak " + sweep::format_bytes(c->plan.memory.total()) + " > limit " +
                    sweep::format_bytes(plan.memory_limit);
        results_.update_trial(row);
        results_.log_event(row.index, "oom_predicted", row.error);
        continue;
      }
      queue_.push_back(row.index);
    }
    return queue_.size();
  }

  void add_local_slots(int64_t count, const RankSetup& setup) {
    local_setup_ = setup;
    for (int64_t i = 0; i < count; ++i) {
      Slot s;
      s.rank = 0;
      s.ready = true;
      s.host = host_name();
      s.device = setup.device;
      slots_.push_back(std::move(s));
    }
  }
  void add_worker_slots(int size) {
    for (int r = 1; r < size; ++r) {
      Slot s;
      s.rank = r;
      s.last_seen = steady_seconds();
      slots_.push_back(std::move(s));
    }
  }

  // Runs until every trial has a final status, or a signal stopped the sweep. Returns the exit.
  int run() {
    if (o_.schedule == "static") deal_round_robin();
    Backoff backoff;
    StopSignals signals;
    while (!finished()) {
      bool activity = false;
      // One group commit per round: what the round changed is durable before any of it is
      // acknowledged, i.e. before its trials are handed out (one disk sync, not one a change).
      results_.begin_group();
      hold_lines();
      if (const auto act = signals.update(g_run_signals, steady_seconds());
          act != StopSignals::Act::none) {
        stop_all(act == StopSignals::Act::kill);
        activity = true;
      }
      activity |= poll_local();
      activity |= poll_workers();
      find_lost_workers();
      if (!stopping_) activity |= assign_idle();
      if (!stopping_ && !queue_.empty() && no_slot_left()) {
        results_.log_event(-1, "no_workers", "every worker rank was lost");
        line() << "every worker rank was lost; " << queue_.size() << " trials left pending\n";
        stopping_ = true;
      }
      try {
        results_.end_group();
      } catch (...) {
        release_held("not recorded (the results file failed): ");
        throw;
      }
      release_held();
      launch_assigned();
      show_progress();
      if (activity) backoff.reset();
      backoff.wait(5'000);
    }
    line();
    int64_t failed = 0;
    for (const auto& row : results_.trials()) {
      if (row.status != storage::TrialStatus::failed) continue;
      ++failed;
      // Also in an earlier run; and one this run's spec does not hold (added by `run SPEC
      // --extend`) is the sweep's failure too.
      if (!cell_of_.count(row.index) || !may_retry(row)) any_failed_ = true;
    }
    results_.log_event(-1, stopping_ ? "stopped" : "finished", "");
    results_.close();
    if (mpi_ != nullptr) {
      for (auto& s : slots_) {
        if (s.rank > 0 && !s.lost) mpi_->send(s.rank, Tag::exit, "");
      }
    }
    if (stopping_ || any_interrupted_) {
      // Trials an --extend run added are not in the stored spec: only the same command resumes
      // them.
      line() << (stopping_ ? "stopped by a signal" : "some trials were interrupted") << "; `"
             << (o_.extend ? "trm-sweep run " + shell_quote(o_.spec) + " -o " +
                                 shell_quote(o_.results) + " --extend"
                           : "trm-sweep resume " + shell_quote(o_.results))
             << "` continues\n";
      return kExitStopped;
    }
    if (any_failed_) {
      line() << failed << " trial(s) failed (`trm-sweep status " << shell_quote(o_.results)
             << "` shows their errors); `"
             << (o_.extend ? "trm-sweep run " + shell_quote(o_.spec) + " -o " +
                                 shell_quote(o_.results) + " --extend --retry-failed"
                           : "trm-sweep resume " + shell_quote(o_.results) + " --retry-failed")
             << "` runs them again\n";
      return 1;
    }
    return 0;
  }

  // Whether a failed trial gets another attempt. One that failed in this run: while it has failed
  // at most `retries` times here (attempts that were interrupted or lost with their rank do not
  // count: a preempted trial keeps its retries). One that failed in an earlier run: by its
  // attempts, counted from this run's first for one that `--retry-failed` brought back.
  bool may_retry(const storage::TrialRow& row) const {
    if (const auto f = failures_.find(row.index); f != failures_.end())
      return f->second <= spec_.sweep.retries;
    const auto it = first_attempt_.find(row.index);
    const int64_t before = it == first_attempt_.end() ? 0 : it->second;
    return row.attempts - before <= spec_.sweep.retries;
  }

  void note(const std::string& kind, const std::string& message) {
    results_.log_event(-1, kind, message);
  }

  bool lost_any() const {
    return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.lost; });
  }

 private:
  bool finished() const {
    if (!active_.empty()) return false;
    if (stopping_) return true;
    if (o_.schedule == "static") {
      return std::none_of(slots_.begin(), slots_.end(),
                          [](const Slot& s) { return !s.lost && !s.own.empty(); }) &&
             queue_.empty();
    }
    return queue_.empty();
  }

  bool no_slot_left() const {
    return std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.lost; });
  }

  // Static round-robin (what job arrays do): trial k of the spec's order goes to slot k mod W.
  void deal_round_robin() {
    size_t k = 0;
    for (const int64_t index : queue_) slots_[k++ % slots_.size()].own.push_back(index);
    queue_.clear();
  }

  bool assign_idle() {
    bool any = false;
    for (auto& s : slots_) {
      if (!s.ready || s.lost || s.index >= 0) continue;
      auto& q = o_.schedule == "static" ? s.own : queue_;
      if (q.empty()) continue;
      const int64_t index = q.front();
      q.pop_front();
      start(s, index);
      any = true;
    }
    return any;
  }

  void start(Slot& s, int64_t index) {
    const Cell& c = *cell_of_.at(index);
    auto row = results_.trials()[static_cast<size_t>(index)];
    Assignment a;
    a.index = index;
    a.config = c.trial->config;
    a.kind = kind_;
    a.sleep_seconds = o_.sleep_per_step * static_cast<double>(c.plan.steps);
    a.launch.dir = trial_dir(index);
    a.launch.memory_budget = spec_.sweep.memory_budget;
    a.launch.checkpoint_every = spec_.sweep.checkpoint_interval;
    // An interrupted attempt's stderr tail (its progress lines) is no error of this attempt: a
    // run cut off now must not show it among the recent errors. A failed one's stays until
    // this attempt ends (the event log keeps every attempt's).
    if (row.status == storage::TrialStatus::interrupted) row.error.clear();
    row.status = storage::TrialStatus::running;
    row.attempts += 1;
    row.rank = s.rank;
    row.host = s.host;
    row.device = s.device;
    row.started = now();
    results_.update_trial(row);
    results_.log_event(index, "start",
                       "attempt " + std::to_string(row.attempts) + " on rank " +
                           std::to_string(s.rank) + " (" + s.host + ")");
    if (verbose()) {
      auto& o = line();
      o << "start  #" << index << " " << c.trial->name;
      if (mpi_ != nullptr) o << " [rank " << s.rank << "]";
      o << "\n" << std::flush;
    }
    s.index = index;
    s.last_seen = steady_seconds();
    active_[index] = {now(), results_.train_rows(index),
                      eval_step(c.trial->config, c.plan.steps, results_.eval_rows(index))};
    if (s.rank == 0) {
      a.launch.threads = local_setup_.threads;
      a.launch.device = local_setup_.device;
    }
    assigned_.push_back({&s, std::move(a)});
  }

  // Hands out the trials of this round, once their start is durable.
  void launch_assigned() {
    for (auto& [slot, a] : assigned_) {
      if (slot->rank == 0) {
        slot->local.start(a);
      } else {
        mpi_->send(slot->rank, Tag::assign, encode(a));
      }
    }
    assigned_.clear();
  }

  // The log stream, with the progress line cleared first.
  // Where a line about the sweep goes. Inside the loop's group commit, into held_: a trial is
  // said done only once the group that recorded it is on disk (release_held, after the sync).
  std::ostream& line() {
    if (holding_) return held_;
    if (shown_) out_ << "\r\x1b[K";
    shown_ = false;
    return out_;
  }
  void hold_lines() { holding_ = true; }
  void release_held(const char* prefix = "") {
    holding_ = false;
    std::istringstream text(held_.str());
    held_.str("");
    bool any = false;
    for (std::string one; std::getline(text, one);) {
      line() << prefix << one << "\n";
      any = true;
    }
    if (any) out_ << std::flush;
  }

  // On a terminal, twice a second: trials by status, the running ones' steps, and an ETA from
  // the cost model's FLOPs (work left over the rate this run has done work so far).
  void show_progress() {
    if (!live_ || steady_seconds() - last_shown_ < 0.5) return;
    if (run_started_ == 0) run_started_ = steady_seconds();
    last_shown_ = steady_seconds();
    std::map<storage::TrialStatus, int64_t> count;
    double total = 0, left = 0;
    for (const auto& [index, cell] : cell_of_) {
      const auto& row = results_.trials()[static_cast<size_t>(index)];
      ++count[row.status];
      const double flops = cell->plan.total_flops;
      total += flops;
      using storage::TrialStatus;
      if (row.status == TrialStatus::pending || row.status == TrialStatus::interrupted ||
          row.status == TrialStatus::running ||
          (row.status == TrialStatus::failed && may_retry(row))) {
        const double steps = static_cast<double>(std::max<int64_t>(1, cell->plan.steps));
        left += flops * (1.0 - static_cast<double>(row.step) / steps);
      }
    }
    if (work_left_at_start_ < 0) work_left_at_start_ = left;
    using storage::TrialStatus;
    std::ostringstream p;
    p << "[done " << count[TrialStatus::done] << " running " << count[TrialStatus::running]
      << " failed " << count[TrialStatus::failed] << " oom "
      << count[TrialStatus::oom] + count[TrialStatus::oom_predicted] << " of " << cell_of_.size()
      << "]";
    int shown = 0;
    for (const auto& [index, a] : active_) {
      if (shown++ == 3) break;
      p << " #" << index << " " << a.stored_train_step << "/" << cell_of_.at(index)->plan.steps;
    }
    const double done = work_left_at_start_ - left;
    if (done > 0 && total > 0) {
      p << "  ETA " << sweep::format_seconds((steady_seconds() - run_started_) * left / done);
    }
    out_ << "\r\x1b[K" << p.str() << std::flush;
    shown_ = true;
  }

  // Per-trial lines would flood the terminal for thousands of benchmark trials.
  bool verbose() const { return kind_ == TrialKind::train; }

  std::string trial_dir(int64_t index) const {
    const auto moved = dir_after_loss_.find(index);
    if (moved != dir_after_loss_.end()) return moved->second;
    return o_.results + ".trials/" + cell_of_.at(index)->trial->id;
  }

  bool poll_local() {
    bool any = false;
    for (auto& s : slots_) {
      if (s.rank != 0 || s.index < 0) continue;
      const int64_t index = s.index;
      std::vector<std::string> lines;
      TrialOutcome outcome;
      const bool ended = s.local.poll(lines, &outcome);
      if (!lines.empty()) record_metrics(index, lines);
      if (ended) {
        s.index = -1;
        record_end(index, outcome);
        any = true;
      }
    }
    return any;
  }

  bool poll_workers() {
    if (mpi_ == nullptr) return false;
    bool any = false;
    Message m;
    while (mpi_->poll(&m)) {
      any = true;
      Slot* s = slot_of_rank(m.source);
      if (s == nullptr)
        throw InternalError("message from unknown rank " + std::to_string(m.source));
      if (s->lost) continue;  // its trial went elsewhere; it leaves with the MPI job
      s->last_seen = steady_seconds();
      switch (m.tag) {
        case Tag::ready: {
          const auto nl = m.payload.find('\n');
          s->host = m.payload.substr(0, nl);
          s->device = nl == std::string::npos ? "" : m.payload.substr(nl + 1);
          s->ready = true;
          break;
        }
        case Tag::heartbeat:
          break;
        case Tag::metrics: {
          const auto nl = m.payload.find('\n');
          const int64_t index = std::stoll(m.payload.substr(0, nl));
          std::vector<std::string> lines;
          std::istringstream body(m.payload.substr(nl + 1));
          for (std::string line; std::getline(body, line);) lines.push_back(line);
          if (index == s->index) record_metrics(index, lines);
          break;
        }
        case Tag::end: {
          const auto nl = m.payload.find('\n');
          const int64_t index = std::stoll(m.payload.substr(0, nl));
          if (index != s->index) break;
          s->index = -1;
          record_end(index, decode_outcome(m.payload.substr(nl + 1)));
          break;
        }
        default:
          throw InternalError("coordinator: unexpected message " +
                              std::to_string(static_cast<int>(m.tag)));
      }
    }
    return any;
  }

  Slot* slot_of_rank(int rank) {
    for (auto& s : slots_) {
      if (s.rank == rank) return &s;
    }
    return nullptr;
  }

  // A worker silent past the timeout while it holds a trial: the trial runs again elsewhere,
  // from the start in a fresh folder, since the lost rank's child may still be writing in the
  // old one (training is deterministic: the steps already stored come out the same again).
  void find_lost_workers() {
    if (mpi_ == nullptr) return;
    for (auto& s : slots_) {
      if (s.rank == 0 || s.lost || (s.index < 0 && s.ready)) continue;
      if (steady_seconds() - s.last_seen < o_.worker_timeout) continue;
      s.lost = true;
      // Its own trials (static schedule) go to a live slot, or to the queue when none is left.
      for (const int64_t own : s.own) requeue(own);
      s.own.clear();
      if (s.index < 0) {  // never said READY: it died starting (e.g. no GPU on its node)
        line() << "lost   rank " << s.rank << ": no word from it since the sweep started\n"
               << std::flush;
        results_.log_event(
            -1, "lost",
            "worker rank " + std::to_string(s.rank) + " never became ready; declared lost");
        continue;
      }
      const int64_t index = s.index;
      s.index = -1;
      dir_after_loss_[index] = trial_dir(index) + ".after-lost-rank" + std::to_string(s.rank);
      active_.erase(index);
      auto row = results_.trials()[static_cast<size_t>(index)];
      row.status = storage::TrialStatus::pending;
      row.error = "worker rank " + std::to_string(s.rank) + " (" + s.host + ") silent for " +
                  sweep::format_seconds(o_.worker_timeout) + "; declared lost";
      results_.update_trial(row);
      results_.log_event(index, "lost", row.error);
      line() << "lost   rank " << s.rank << ": #" << index << " goes back to the queue\n"
             << std::flush;
      if (!stopping_) requeue(index);
    }
  }

  // Back to the front of the line: a live slot's own list (static schedule), else the queue.
  void requeue(int64_t index) {
    if (o_.schedule == "static") {
      for (auto& s : slots_) {
        if (!s.lost) {
          s.own.push_front(index);
          return;
        }
      }
    }
    queue_.push_front(index);
  }

  void stop_all(bool at_once) {
    if (!stopping_) {
      results_.log_event(-1, "signal",
                         at_once ? "second signal: ending the running trials at once"
                                 : "checkpointing and stopping the running trials");
    }
    stopping_ = true;
    for (auto& s : slots_) {
      if (s.index < 0 || s.lost) continue;
      if (s.rank == 0) {
        if (at_once) {
          s.local.kill_now();
        } else {
          s.local.request_stop();
        }
      } else {
        mpi_->send(s.rank, at_once ? Tag::kill : Tag::stop, "");
      }
    }
  }

  void record_metrics(int64_t index, const std::vector<std::string>& lines) {
    auto& a = active_.at(index);
    std::vector<core::TrainRecord> train;
    std::vector<core::EvalRecord> eval;
    for (const auto& line : lines) {
      core::TrainRecord t;
      core::EvalRecord e;
      bool is_train = false;
      if (!parse_metrics_line(line, &t, &e, &is_train)) continue;
      // A resumed child re-reports the steps its checkpoint covers: keep only new ones.
      if (is_train && t.step > a.stored_train_step) train.push_back(t);
      if (!is_train && e.step > a.stored_eval_step) eval.push_back(e);
    }
    if (train.empty() && eval.empty()) return;
    if (!train.empty()) {
      results_.append_train(index, train);
      a.stored_train_step = train.back().step;
    }
    if (!eval.empty()) {
      results_.append_eval(index, eval);
      a.stored_eval_step = eval.back().step;
    }
    auto row = results_.trials()[static_cast<size_t>(index)];
    row.step = std::max(row.step, a.stored_train_step);
    for (const auto& e : eval) {
      row.final_accuracy = e.accuracy;
      row.final_exact_accuracy = e.exact_accuracy;
      row.best_exact_accuracy = std::isnan(row.best_exact_accuracy)
                                    ? e.exact_accuracy
                                    : std::max(row.best_exact_accuracy, e.exact_accuracy);
    }
    results_.update_trial(row);
  }

  void record_end(int64_t index, const TrialOutcome& outcome) {
    const double started = active_.at(index).started;
    active_.erase(index);
    auto row = results_.trials()[static_cast<size_t>(index)];
    row.finished = now();
    row.wall_s = (std::isnan(row.wall_s) ? 0.0 : row.wall_s) + (row.finished - started);
    // The largest of all attempts': a resumed attempt that only evaluates peaks lower.
    row.measured_peak_bytes = std::max(row.measured_peak_bytes, outcome.peak_rss_bytes);
    row.error = outcome.error;
    using storage::TrialStatus;
    const char* word = "done";
    TrialEnd end = outcome.end;
    // A child ended at once by a second signal is interrupted too: its checkpoint stays.
    if (stopping_ && end == TrialEnd::failed) end = TrialEnd::interrupted;
    switch (end) {
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
        // Stopped by a signal this run did not get (a SIGTERM to one worker rank or to the trial
        // process itself): the sweep goes on, and so does the trial, from its checkpoint. A few
        // times per trial at most, so that something that stops it every time cannot loop.
        if (!stopping_ && ++outside_stops_[index] <= kOutsideStopRequeues) {
          requeue(index);
          word = "interrupted (requeued)";
        } else {
          any_interrupted_ = true;
        }
        break;
      case TrialEnd::failed:
        row.status = TrialStatus::failed;
        word = "failed";
        ++failures_[index];
        if (may_retry(row)) {
          requeue(index);  // a retry resumes from the trial's checkpoint
          word = "failed (retrying)";
        } else {
          any_failed_ = true;
        }
        break;
    }
    results_.update_trial(row);
    results_.log_event(index, word, row.error);
    if (verbose() || end != TrialEnd::done) {
      auto& o = line();
      o << word << "  #" << index << " " << row.name;
      if (!std::isnan(row.final_exact_accuracy))
        o << " exact_accuracy=" << row.final_exact_accuracy;
      o << " (" << sweep::format_seconds(row.finished - started) << ")";
      // Why, for a failure or an OOM: the first line of its error (status shows it all).
      if ((end == TrialEnd::failed || end == TrialEnd::oom) && !row.error.empty()) {
        std::string why = row.error.substr(0, row.error.find('\n'));
        if (why.size() > 160) {
          size_t cut = 157;  // not inside a UTF-8 sequence
          while (cut > 0 && (static_cast<unsigned char>(why[cut]) & 0xC0) == 0x80) --cut;
          why = why.substr(0, cut) + "...";
        }
        o << ": " << why;
      }
      o << "\n" << std::flush;
    }
  }

  const RunOptions& o_;
  const sweep::SweepSpec& spec_;
  std::vector<Cell> cells_;
  storage::ResultsWriter results_;
  MpiSession* mpi_;
  std::ostream& out_;
  TrialKind kind_;
  RankSetup local_setup_;
  std::map<std::string, int64_t> index_of_;
  std::map<int64_t, const Cell*> cell_of_;
  std::deque<int64_t> queue_;
  std::vector<Slot> slots_;
  std::map<int64_t, Active> active_;
  std::map<int64_t, std::string> dir_after_loss_;
  std::map<int64_t, int64_t> first_attempt_;  // --retry-failed: attempts before this run
  std::map<int64_t, int64_t> failures_;       // times each trial failed in this run
  static constexpr int64_t kOutsideStopRequeues = 3;
  std::map<int64_t, int64_t> outside_stops_;            // times each trial was stopped from outside
  std::vector<std::pair<Slot*, Assignment>> assigned_;  // this round's, not yet handed out
  bool stopping_ = false, any_failed_ = false, any_interrupted_ = false;
  bool live_ = false, shown_ = false;
  bool holding_ = false;  // lines go to held_ until the group commit is on disk
  std::ostringstream held_;
  double last_shown_ = 0, run_started_ = 0, work_left_at_start_ = -1;
};

// Rank 0's part once MPI (if any) is up: the spec, the file, the queue, the loop.
// The shard K/N whose trials (every N-th of the plan's order, from the K-th) are exactly `ids`;
// nullopt when no shard is. A shard's file (`run --shard K/N`, a job array's task) does not
// record K/N, so `resume` finds it from the trials the file holds.
std::optional<std::pair<int64_t, int64_t>> shard_holding(const sweep::Plan& plan,
                                                         const std::set<std::string>& ids) {
  const auto total = static_cast<int64_t>(plan.trials.size());
  if (ids.empty() || static_cast<int64_t>(ids.size()) >= total) return std::nullopt;
  // K is the first position the file holds and K + N the second; one trial alone is shard K of
  // any N that leaves no second one.
  std::vector<int64_t> at;
  for (int64_t k = 0; k < total && at.size() < 2; ++k) {
    if (ids.count(plan.trials[k].trial->id)) at.push_back(k);
  }
  if (at.empty()) return std::nullopt;
  const int64_t index = at[0];
  const int64_t count = at.size() > 1 ? at[1] - at[0] : std::max(index + 1, total - index);
  if (count < 2) return std::nullopt;
  std::set<std::string> shard;
  for (int64_t k = index; k < total; k += count) shard.insert(plan.trials[k].trial->id);
  if (shard != ids) return std::nullopt;
  return std::pair(index, count);
}

int coordinate(const RunOptions& given, MpiSession* mpi, const NodeShare& share, std::ostream& out,
               std::ostream& err) {
  RunOptions o = given;  // resume of a shard's file: its --shard, found from the file
  // Checked before the results file is touched: a mistyped --device failed every trial.
  const std::string device = rank_device(o.device, share.runner_index);
  sweep::SweepSpec spec;
  std::set<std::string> stored_ids;
  if (o.spec.empty()) {
    // The writer (not a reader) first: after an unclean stop it rebuilds the file.
    auto stored = storage::ResultsWriter::open(o.results, o.from_journal);
    say_rebuilt(stored, err, o.from_journal);
    spec = sweep::parse_stored_spec(stored.header().spec_toml, o.results + " (stored spec)",
                                    stored.header().sweep_name);
    for (const auto& row : stored.trials()) stored_ids.insert(row.id);
    stored.close();
  } else {
    spec = sweep::parse_spec_file(o.spec);
  }
  const auto expansion = sweep::expand(spec);
  for (const auto& w : expansion.warnings) err << "warning: " << w << "\n";
  for (const auto& d : expansion.duplicates) err << "duplicate: " << d << "\n";
  sweep::PlanOptions po;
  po.memory_bytes = machine_memory();
  if (device.rfind("cuda", 0) == 0) {
    // The CUDA memory model, against the spec's memory_budget only: the card's memory is not
    // known here, and the host's RAM says nothing about it (the CPU model against the host
    // skipped trials that fit the card). A trial too large for the card ends as oom.
    po.device = core::MemoryDevice::cuda;
    po.memory_bytes = std::numeric_limits<double>::infinity();
  }
  po.gflops = 100;  // only the order matters here: longest predicted first
  const auto plan = sweep::make_plan(spec, expansion, po);
  if (o.spec.empty() && o.shard_count == 1) {
    if (const auto shard = shard_holding(plan, stored_ids)) {
      std::tie(o.shard_index, o.shard_count) = *shard;
      err << o.results << " holds shard " << o.shard_index << "/" << o.shard_count
          << " of its sweep: resuming that shard\n";
    }
  }
  std::vector<Cell> cells;
  for (size_t k = 0; k < plan.trials.size(); ++k) {
    // --shard K/N (SLURM job arrays): every N-th trial of the spec's order, from the K-th.
    if (static_cast<int64_t>(k) % o.shard_count == o.shard_index) {
      cells.push_back({plan.trials[k].trial, plan.trials[k]});
    }
  }
  if (cells.empty())
    throw ConfigError("--shard " + std::to_string(o.shard_index) + "/" +
                      std::to_string(o.shard_count) + ": no trial of the " +
                      std::to_string(plan.trials.size()) + " falls in it");

  const size_t coordinator_cells = cells.size();
  const std::string mpi_version = mpi != nullptr ? mpi->library_version() : "";
  auto results = open_results(o, spec, cells, mpi_version, err);
  // Not under MPI: mpirun gives rank 0 a pseudo-terminal even when its output goes to a file,
  // where the redrawn line would pile up.
  const bool live =
      &out == &std::cout && isatty(STDOUT_FILENO) && o.trial_kind == "train" && mpi == nullptr;
  Coordinator coordinator(o, spec, std::move(cells), std::move(results), mpi, out, live);
  const size_t queued = coordinator.build_queue(plan);

  const int world = mpi != nullptr ? mpi->size() : 1;
  // No more slots than trials to run: on a resume with two trials left, --jobs 8 gives each of the
  // two a quarter of the cores, not an eighth.
  const int64_t jobs = std::clamp<int64_t>(o.jobs, 1, std::max<int64_t>(1, queued));
  const int64_t local = world == 1 ? jobs : (o.coordinator_works ? 1 : 0);
  RankSetup setup;
  setup.threads = world == 1 ? std::max<int64_t>(1, rank_threads(1) / jobs)
                             : rank_threads(share.runners_on_node);
  if (world == 1 && jobs > rank_threads(1) && device.rfind("cuda", 0) != 0) {
    err << "warning: --jobs " << o.jobs << ": " << jobs << " trials at once on " << rank_threads(1)
        << (rank_threads(1) == 1 ? " core" : " cores")
        << " share them and each runs several times slower; --jobs " << rank_threads(1)
        << " or fewer is faster\n";
  }
  setup.device = device;
  coordinator.add_local_slots(local, setup);
  if (mpi != nullptr) coordinator.add_worker_slots(world);

  // `status` shows the SLURM job's state when the file names it.
  // The job script names its job in TRM_SLURM_JOB (an array task as ARRAYID_TASK, whose
  // SLURM_JOB_ID is a number of its own); a step started by hand has SLURM_JOB_ID.
  const char* job = std::getenv("TRM_SLURM_JOB");
  if (job == nullptr || *job == '\0') job = std::getenv("SLURM_JOB_ID");
  if (job != nullptr && *job != '\0') coordinator.note("slurm", std::string("job=") + job);
  out << "sweep " << spec.sweep.name << ": " << queued << " of " << coordinator_cells << " trials";
  if (o.shard_count > 1) {
    out << " (shard " << o.shard_index << "/" << o.shard_count << " of " << plan.trials.size()
        << ")";
  }
  out << " to run on ";
  if (world == 1) {
    out << jobs << (jobs == 1 ? " slot" : " slots") << " (" << setup.threads
        << (setup.threads == 1 ? " thread" : " threads") << (jobs == 1 ? ")" : " each)");
  } else {
    out << world - 1 + (o.coordinator_works ? 1 : 0) << " MPI ranks (" << world << " in all)";
  }
  out << " -> " << o.results << "\n" << std::flush;
  coordinator.note("start", std::to_string(queued) + " trials to run");
  const int code = coordinator.run();
  // The sweep's table, as `export` would print it: what the user came for. (A shard's file holds
  // part of the grid: its table comes from `merge`.) The sweep's outcome stands either way.
  if (code != kExitStopped && o.trial_kind == "train" && o.shard_count == 1) {
    try {
      out << "\n" << storage::format_spec_tables(storage::ResultsReader(o.results)) << std::flush;
    } catch (const std::exception& e) {
      err << "warning: no table printed: " << e.what() << "\n";
    }
  }
  if (coordinator.lost_any()) {
    out << "lost worker ranks cannot leave the MPI job cleanly: ending it (results are saved)\n"
        << std::flush;
    mpi->abort(code);
  }
  return code;
}

}  // namespace

// The options alone, before MPI starts: the same verdict on every rank.
static void check_run_options(const RunOptions& o) {
  if (o.results.empty()) throw ConfigError("-o RESULTS.h5 is required");
  if (const auto folder = std::filesystem::path(o.results).parent_path();
      !folder.empty() && !std::filesystem::is_directory(folder)) {
    throw ConfigError("-o " + o.results + ": the folder " + folder.string() + " does not exist");
  }
  if (o.jobs < 1) throw ConfigError("--jobs must be >= 1");
  if (o.schedule != "dynamic" && o.schedule != "static") {
    throw ConfigError("--schedule " + o.schedule + ": valid schedules: dynamic, static");
  }
  if (!(o.heartbeat_seconds > 0) || !(o.worker_timeout > o.heartbeat_seconds)) {
    throw ConfigError("--worker-timeout must exceed --heartbeat, and both be > 0");
  }
  parse_trial_kind(o.trial_kind);  // a bad kind fails before anything starts
  (void)core::gemm_backend();      // as does a bad TRM_GEMM, which every trial would inherit
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count) {
    throw ConfigError("--shard K/N: want 0 <= K < N");
  }
}

int run_verb(const RunOptions& o, std::ostream& out, std::ostream& err) {
  // First of all: a stop that comes while the spec is read or the file opened (or rebuilt) is
  // counted and honoured when the loop starts (exit 5, the file whole), not a kill by the
  // default action (SLURM's USR1 then gave 138, which the job script does not requeue).
  struct sigaction sa {};
  sa.sa_handler = on_run_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaction(sig, &sa, nullptr);
  // A reader that goes away (`resume F | head`) must not end the sweep: its lines are lost, the
  // results file holds them all.
  sa.sa_handler = on_broken_pipe;
  sigaction(SIGPIPE, &sa, nullptr);
  try {
    check_run_options(o);
  } catch (const UserError&) {
    if (launcher_rank() > 0) return 2;  // rank 0 says it (every rank read the same options)
    throw;
  }
  if (!launched_under_mpi()) return coordinate(o, nullptr, NodeShare{}, out, err);

  MpiSession mpi;
  const bool runs_trials = mpi.rank() > 0 || o.coordinator_works || mpi.size() == 1;
  const NodeShare share = mpi.node_share(runs_trials);
  if (mpi.rank() > 0) {
    RankSetup setup;
    setup.threads = rank_threads(share.runners_on_node);
    setup.device = rank_device(o.device, share.runner_index);
    setup.heartbeat_seconds = o.heartbeat_seconds;
    return run_worker(mpi, setup);
  }
  try {
    return coordinate(o, &mpi, share, out, err);
  } catch (...) {
    // The coordinator cannot go on (e.g. a full disk under the results file): the workers end
    // their trials at once (checkpoints stay; the trials show running, and `resume` continues
    // them) and leave with us, rather than train on for hours with nobody recording.
    for (int r = 1; r < mpi.size(); ++r) {
      mpi.send(r, Tag::kill, "");
      mpi.send(r, Tag::exit, "");
    }
    throw;
  }
}

namespace {

// The file's report, with the state of the SLURM job that runs it when the file names one.
// `stale`: trials shown running although no process writes the file (its run was killed).
std::string status_report(const storage::ResultsReader& reader, storage::StatusOptions so,
                          bool* stale = nullptr) {
  int64_t cut_off = 0;
  for (const auto& row : reader.trials()) cut_off += row.status == storage::TrialStatus::running;
  if (cut_off > 0 && storage::results_writer_alive(reader.path())) cut_off = 0;
  so.writer_gone = cut_off > 0;  // their time did not go on after the kill
  std::string report = storage::format_status(reader, so);
  if (stale != nullptr) *stale = cut_off > 0;
  if (so.format == storage::StatusFormat::json) {
    const auto close = report.rfind('}');
    if (close != std::string::npos) {
      // cut_off: trials recorded running whose run is gone (0 while a run writes the file).
      report.insert(close, ",\"cut_off\":" + std::to_string(cut_off) +
                               ",\"slurm\":" + slurm_status_json(reader));
    }
    return report;
  }
  if (cut_off > 0) {
    report += "no trm-sweep process is writing this file: the " + std::to_string(cut_off) +
              " trial(s) shown running were cut off (their run was killed); `trm-sweep resume " +
              reader.path() + "` continues them from their checkpoints\n";
  }
  return report + slurm_status_text(reader);
}

}  // namespace

int status_verb(const std::string& results, const std::string& format, double watch_seconds,
                std::ostream& out) {
  storage::StatusOptions so;
  if (format == "json") {
    so.format = storage::StatusFormat::json;
  } else if (format != "text") {
    throw ConfigError("--format " + format + ": valid formats: text, json");
  }
  if (watch_seconds <= 0) {
    out << status_report(storage::ResultsReader(results), so);
    return 0;
  }
  // --watch: redraw until no trial is pending or running, or no process writes the file any
  // more (or Ctrl-C). On a terminal each report replaces the last; elsewhere (a file, a pipe, a
  // script reading JSON) the reports follow each other, one JSON document per redraw.
  const bool terminal = &out == &std::cout && isatty(STDOUT_FILENO) != 0;
  while (true) {
    const storage::ResultsReader reader(results);
    bool stale = false;
    const std::string report = status_report(reader, so, &stale);
    out << (terminal ? "\x1b[H\x1b[2J" : "") << report << std::flush;
    if (stale) return 0;  // nothing will change until someone resumes it
    int64_t pending = 0, running = 0;
    for (const auto& row : reader.trials()) {
      pending += row.status == storage::TrialStatus::pending;
      running += row.status == storage::TrialStatus::running;
    }
    if (pending + running == 0) return 0;
    if (!storage::results_writer_alive(reader.path())) {
      // Stopped (a signal, a time limit) with trials left: nothing changes until a resume.
      if (so.format == storage::StatusFormat::text)
        out << "no trm-sweep process is writing this file; " << pending
            << " trial(s) pending: `trm-sweep resume " << shell_quote(results) << "` continues\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(watch_seconds));
  }
}

}  // namespace trm::launcher
