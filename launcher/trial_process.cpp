#include "launcher/trial_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "launcher/train_verb.h"
#include "sweep/trial_toml.h"

namespace trm::launcher {

namespace {

std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw InternalError("cannot resolve /proc/self/exe: " + ec.message());
  std::string text = path.string();
  // The kernel's mark on a binary deleted or replaced since it started (trials still start: they
  // exec /proc/self/exe).
  if (text.ends_with(" (deleted)")) text.resize(text.size() - 10);
  return text;
}

// The last `count` lines of `path` after byte `from` (what this attempt wrote: the log keeps every
// attempt's).
std::string last_lines(const std::string& path, size_t count, int64_t from) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(from);
  if (!in) return "";
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    // Progress lines rewritten with \r keep only their last state.
    const auto cr = line.rfind('\r');
    lines.push_back(cr == std::string::npos ? line : line.substr(cr + 1));
  }
  std::string out;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    out += (out.empty() ? "" : "\n") + lines[i];
  }
  return out;
}

// `tail` without the trainer's progress lines ("train step ...", "eval  step ..."), when it has
// any other line: an exit's reason (the trainer's "trm-sweep: out of memory ..." line) comes
// first in the trial's error, not after where it was.
std::string reason_first(const std::string& tail) {
  std::string kept;
  size_t begin = 0;
  while (begin <= tail.size()) {
    size_t end = tail.find('\n', begin);
    if (end == std::string::npos) end = tail.size();
    const std::string_view line(tail.data() + begin, end - begin);
    if (!line.starts_with("train step ") && !line.starts_with("eval  step ") && !line.empty())
      kept.append(kept.empty() ? "" : "\n").append(line);
    begin = end + 1;
  }
  return kept.empty() ? tail : kept;
}

template <class Record>
void assign(Record& r, const std::string& key, const std::string& value) {
  Record::visit_fields(r, [&](std::string_view name, auto& field) {
    if (name != key) return;
    if (value == "null") {
      if constexpr (std::is_same_v<std::decay_t<decltype(field)>, double>) {
        field = std::numeric_limits<double>::quiet_NaN();
      }
      return;
    }
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, double>) {
      field = std::strtod(value.c_str(), nullptr);
    } else {
      field = std::strtoll(value.c_str(), nullptr, 10);
    }
  });
}

}  // namespace

bool parse_metrics_line(const std::string& line, core::TrainRecord* train, core::EvalRecord* eval,
                        bool* is_train) {
  // The train verb writes flat objects of numbers: {"kind":"train","step":1,...}.
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return false;
  std::string kind;
  std::vector<std::pair<std::string, std::string>> fields;
  std::stringstream body(line.substr(1, line.size() - 2));
  for (std::string item; std::getline(body, item, ',');) {
    const auto colon = item.find(':');
    if (colon == std::string::npos || item.size() < 2 || item.front() != '"') return false;
    const std::string key = item.substr(1, colon - 2);
    const std::string value = item.substr(colon + 1);
    if (key == "kind") {
      kind = value.size() >= 2 ? value.substr(1, value.size() - 2) : "";
    } else {
      fields.emplace_back(key, value);
    }
  }
  if (kind != "train" && kind != "eval") return false;
  *is_train = kind == "train";
  for (const auto& [k, v] : fields) {
    if (*is_train) {
      assign(*train, k, v);
    } else {
      assign(*eval, k, v);
    }
  }
  return true;
}

int64_t cgroup_oom_kills(const std::string& root, const std::string& proc_cgroup) {
  // Lines "ID:CONTROLLERS:PATH": v2 is "0::PATH", v1's memory controller "N:memory:PATH".
  std::string v2_path, v1_path;
  bool v2 = false, v1 = false;
  std::ifstream cgroups(proc_cgroup);
  for (std::string line; std::getline(cgroups, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) {
      v2 = true;
      v2_path = path;
    }
    std::stringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c == "memory") {
        v1 = true;
        v1_path = path;
      }
    }
  }
  std::vector<std::string> candidates;
  if (v1) {
    candidates.push_back(root + "/memory" + v1_path + "/memory.oom_control");
    candidates.push_back(root + "/memory/memory.oom_control");
  }
  if (v2) {
    candidates.push_back(root + v2_path + "/memory.events");
    candidates.push_back(root + "/memory.events");
  }
  for (const auto& file : candidates) {
    std::ifstream in(file);
    for (std::string key; in >> key;) {
      int64_t value = 0;
      if (!(in >> value)) break;
      if (key == "oom_kill") return value;
    }
  }
  return -1;
}

TrialProcess::TrialProcess(const core::TrialConfig& config, const TrialLaunch& launch)
    : launch_(launch) {
  std::filesystem::create_directories(launch.dir);
  const std::string config_path = launch.dir + "/config.toml";
  core::write_file_atomically(config_path, sweep::trial_toml_text(config));
  // Resuming: the metrics the checkpoint covers are re-read; the child truncates the rest.
  std::vector<std::string> args = {"train",
                                   "--config",
                                   config_path,
                                   "--out",
                                   launch.dir,
                                   "--threads",
                                   std::to_string(launch.threads),
                                   "--device",
                                   launch.device,
                                   "--progress-seconds",
                                   "30"};
  if (launch.memory_budget > 0) {
    args.insert(args.end(), {"--memory-budget", std::to_string(launch.memory_budget)});
  }
  if (launch.checkpoint_every > 0) {
    args.insert(args.end(), {"--checkpoint-every", std::to_string(launch.checkpoint_every)});
  }
  spawn(std::move(args));
}

TrialProcess::TrialProcess(const TrialLaunch& launch, const std::vector<std::string>& args)
    : launch_(launch) {
  std::filesystem::create_directories(launch.dir);
  spawn(args);
}

TrialProcess::~TrialProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void TrialProcess::spawn(std::vector<std::string> args) {
  args.insert(args.begin(), self_executable());
  oom_kills_at_start_ = cgroup_oom_kills();
  const std::string out_log = launch_.dir + "/stdout.log", err_log = launch_.dir + "/stderr.log";
  std::error_code size_error;
  const auto before = std::filesystem::file_size(err_log, size_error);
  stderr_from_ = size_error ? 0 : static_cast<int64_t>(before);
  // An MPI rank's child is not part of the MPI job: it must not find the launcher's variables.
  // (Built before fork: after it, only async-signal-safe calls are allowed.)
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (!v.starts_with("OMPI_") && !v.starts_with("PMIX_") && !v.starts_with("PMI_")) {
      env.emplace_back(v);
    }
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // SIGTERM (the stop request, and the parent-death signal) stays blocked from before the fork
  // until the trial takes it (install_stop_signals: a thread of its own waits for it with
  // sigwait), so one that comes while the child starts waits for it. Unblocked, it would run this
  // process's handler in the child between fork and exec, and be lost there (the trial then ran on
  // until the second signal killed it), or, during exec and LibTorch's loading, kill the child
  // without a checkpoint. The mask and pending signals survive exec.
  sigset_t stop_signal, previous_mask;
  sigemptyset(&stop_signal);
  sigaddset(&stop_signal, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signal, &previous_mask);
  pid_ = fork();
  if (pid_ != 0) pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  if (pid_ < 0) throw InternalError(std::string("fork failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    const int out = open(out_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int err = open(err_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) dup2(out, STDOUT_FILENO);
    if (err >= 0) dup2(err, STDERR_FILENO);
    // The parent decides when the child stops: it forwards SIGTERM itself. If the parent dies
    // (kill -9, node failure) the child gets SIGTERM too: it checkpoints and exits.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    // The running binary itself, not the file at its path: a rebuild or an upgrade that replaces
    // (or deletes) that file mid-sweep must not fail every trial left, nor mix two versions in
    // one results file. argv[0] keeps the path, for ps and the logs.
    execve("/proc/self/exe", argv.data(), envp.data());
    // Only async-signal-safe calls here: say why in the trial's stderr log, which the parent
    // reports with the failure.
    static const char kPrefix[] =
        "trm-sweep: cannot start the trial process: execve /proc/self/exe failed, errno ";
    char message[sizeof kPrefix + 16];
    size_t n = 0;
    for (; n + 1 < sizeof kPrefix; ++n) message[n] = kPrefix[n];
    char digits[12];
    size_t d = 0;
    for (int v = errno > 0 ? errno : 0; d == 0 || v > 0; v /= 10) {
      digits[d++] = static_cast<char>('0' + v % 10);
    }
    while (d > 0) message[n++] = digits[--d];
    message[n++] = '\n';
    [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message, n);
    _exit(127);
  }
}

void TrialProcess::request_stop() {
  // Once: the trial takes a second SIGTERM a second or more after the first as "stop at once"
  // (install_stop_signals), and a worker is asked twice (its own signal, then the coordinator's
  // relay, which a slow round can delay past that second). Ending at once is kill_now's.
  if (pid_ > 0 && !stop_sent_) {
    kill(pid_, SIGTERM);
    stop_sent_ = true;
  }
}

void TrialProcess::kill_now() {
  if (pid_ > 0 && kill(pid_, SIGKILL) == 0) killed_ = true;
}

void TrialProcess::read_metrics(std::vector<core::TrainRecord>& train,
                                std::vector<core::EvalRecord>& eval) {
  std::vector<std::string> lines;
  read_metric_lines(lines);
  for (const auto& line : lines) {
    core::TrainRecord t;
    core::EvalRecord e;
    bool is_train = false;
    if (!parse_metrics_line(line, &t, &e, &is_train)) continue;
    if (is_train) {
      train.push_back(t);
    } else {
      eval.push_back(e);
    }
  }
}

void TrialProcess::read_metric_lines(std::vector<std::string>& lines) {
  const std::string path = launch_.dir + "/metrics.jsonl";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return;
  }
  // The child puts a new file in place when it resumes (cut back to its checkpoint): another
  // inode, read from the start. (What it re-reports, the coordinator drops by step.)
  if (st.st_ino != metrics_inode_ || st.st_size < metrics_offset_) {
    metrics_inode_ = st.st_ino;
    metrics_offset_ = 0;
    partial_.clear();
  }
  std::string chunk(static_cast<size_t>(st.st_size - metrics_offset_), '\0');
  size_t got = 0;
  while (got < chunk.size()) {
    const ssize_t n = ::pread(fd, chunk.data() + got, chunk.size() - got,
                              static_cast<off_t>(metrics_offset_ + static_cast<int64_t>(got)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // what is not there yet comes at the next poll
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  chunk.resize(got);
  metrics_offset_ += static_cast<int64_t>(got);
  partial_ += chunk;
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(partial_.substr(start, nl - start));
  }
  partial_.erase(0, start);
}

bool TrialProcess::poll(TrialOutcome* outcome) {
  int status = 0;
  rusage usage{};
  const pid_t r = wait4(pid_, &status, WNOHANG, &usage);
  if (r == 0) return false;
  if (r < 0) throw InternalError(std::string("wait4 failed: ") + std::strerror(errno));
  outcome->peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  const std::string tail = last_lines(launch_.dir + "/stderr.log", 5, stderr_from_);
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    outcome->end = code == 0                  ? TrialEnd::done
                   : code == kExitOutOfMemory ? TrialEnd::oom
                   : code == kExitStopped     ? TrialEnd::interrupted
                                              : TrialEnd::failed;
    if (outcome->end != TrialEnd::done)
      outcome->error = "exit " + std::to_string(code) + ": " +
                       (outcome->end == TrialEnd::interrupted ? tail : reason_first(tail));
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    // The kernel's OOM killer sends SIGKILL: an OOM result when the cgroup counted an OOM kill
    // while the child ran (no budget needed: a SLURM job's memory limit, the node's memory), or
    // when the child was near its budget; unless the SIGKILL was ours (a second stop signal):
    // then the trial was interrupted and resumes from its last checkpoint.
    const bool near_budget =
        launch_.memory_budget > 0 && outcome->peak_rss_bytes >= launch_.memory_budget * 9 / 10;
    const int64_t oom_kills = oom_kills_at_start_ >= 0 ? cgroup_oom_kills() : -1;
    const bool oom_killed = oom_kills > oom_kills_at_start_;
    outcome->end = sig == SIGKILL && killed_                       ? TrialEnd::interrupted
                   : sig == SIGKILL && (near_budget || oom_killed) ? TrialEnd::oom
                                                                   : TrialEnd::failed;
    outcome->error = "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")" +
                     (sig == SIGKILL && oom_killed ? ", by the kernel's OOM killer" : "") + ": " +
                     tail;
  }
  pid_ = -1;
  return true;
}

}  // namespace trm::launcher
