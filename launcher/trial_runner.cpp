#include "launcher/trial_runner.h"

#include <sstream>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/fields.h"
#include "launcher/worker.h"

namespace trm::launcher {

namespace {

// Text of lines; the last field may itself span lines (it runs to the end).
std::vector<std::string> split_lines(const std::string& text, size_t fixed) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() < fixed) {
    const auto nl = text.find('\n', start);
    if (nl == std::string::npos) throw InternalError("malformed launcher message: " + text);
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  out.push_back(text.substr(start));
  return out;
}

const char* kind_name(TrialKind k) {
  switch (k) {
    case TrialKind::train:
      return "train";
    case TrialKind::noop:
      return "noop";
    case TrialKind::exec:
      return "exec";
    case TrialKind::sleep:
      return "sleep";
  }
  return "train";
}

}  // namespace

TrialKind parse_trial_kind(const std::string& text) {
  for (const auto k : {TrialKind::train, TrialKind::noop, TrialKind::exec, TrialKind::sleep}) {
    if (text == kind_name(k)) return k;
  }
  throw ConfigError("--trial-kind " + text + ": valid kinds: train, noop, exec, sleep");
}

// index, kind, sleep seconds, dir, memory budget, checkpoint interval, then "key=value" lines.
std::string encode(const Assignment& a) {
  std::ostringstream s;
  s << a.index << '\n'
    << kind_name(a.kind) << '\n'
    << core::format_double(a.sleep_seconds) << '\n'
    << a.launch.dir << '\n'
    << a.launch.memory_budget << '\n'
    << a.launch.checkpoint_every << '\n';
  for (const auto& [key, value] : core::key_values(a.config)) s << key << '=' << value << '\n';
  return s.str();
}

Assignment decode_assignment(const std::string& text) {
  const auto f = split_lines(text, 6);
  Assignment a;
  a.index = std::stoll(f[0]);
  a.kind = parse_trial_kind(f[1]);
  a.sleep_seconds = std::stod(f[2]);
  a.launch.dir = f[3];
  a.launch.memory_budget = std::stoll(f[4]);
  a.launch.checkpoint_every = std::stoll(f[5]);
  std::vector<std::string> sets;
  std::istringstream body(f[6]);
  for (std::string line; std::getline(body, line);) {
    if (!line.empty()) sets.push_back(line);
  }
  core::apply_sets(a.config, sets);
  return a;
}

std::string encode(const TrialOutcome& o) {
  return std::to_string(static_cast<int>(o.end)) + '\n' + std::to_string(o.peak_rss_bytes) + '\n' +
         o.error;
}

TrialOutcome decode_outcome(const std::string& text) {
  const auto f = split_lines(text, 2);
  TrialOutcome o;
  o.end = static_cast<TrialEnd>(std::stoi(f[0]));
  o.peak_rss_bytes = std::stoll(f[1]);
  o.error = f[2];
  return o;
}

TrialRunner::TrialRunner() = default;
TrialRunner::~TrialRunner() = default;
TrialRunner::TrialRunner(TrialRunner&&) noexcept = default;
TrialRunner& TrialRunner::operator=(TrialRunner&&) noexcept = default;

bool TrialRunner::busy() const { return index_ >= 0; }

void TrialRunner::start(const Assignment& a) {
  index_ = a.index;
  kind_ = a.kind;
  stop_ = false;
  until_ = steady_seconds() + a.sleep_seconds;
  start_error_.clear();
  // A trial that cannot start (its folder cannot be made on a full or read-only file system, fork
  // fails) is that trial's failure, recorded with the reason: not an exception that ends the
  // sweep on rank 0, or a worker rank silently.
  try {
    if (kind_ == TrialKind::train) {
      process_ = std::make_unique<TrialProcess>(a.config, a.launch);
    } else if (kind_ == TrialKind::exec) {
      process_ = std::make_unique<TrialProcess>(a.launch, std::vector<std::string>{"--help"});
    }
  } catch (const std::exception& e) {
    process_.reset();
    start_error_ = std::string("cannot start the trial: ") + e.what();
  }
}

void TrialRunner::request_stop() {
  stop_ = true;
  if (process_) process_->request_stop();
}

void TrialRunner::kill_now() {
  stop_ = true;
  if (process_) process_->kill_now();
}

bool TrialRunner::poll(std::vector<std::string>& lines, TrialOutcome* outcome) {
  if (!busy()) return false;
  bool ended = false;
  if (!start_error_.empty()) {
    *outcome = TrialOutcome{};
    outcome->end = TrialEnd::failed;
    outcome->error = start_error_;
    start_error_.clear();
    ended = true;
  } else if (process_) {
    process_->read_metric_lines(lines);
    ended = process_->poll(outcome);
    if (ended) process_->read_metric_lines(lines);
    // A child that exits 0 when it was not a trainer (exec) is still a finished trial.
  } else {
    ended = kind_ == TrialKind::noop || stop_ || steady_seconds() >= until_;
    if (ended) {
      *outcome = TrialOutcome{};
      outcome->end = stop_ && kind_ == TrialKind::sleep ? TrialEnd::interrupted : TrialEnd::done;
    }
  }
  if (ended) {
    index_ = -1;
    process_.reset();
  }
  return ended;
}

}  // namespace trm::launcher
