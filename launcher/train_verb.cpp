#include "launcher/train_verb.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <optional>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/config_fields.h"
#include "core/cost_model.h"
#include "core/errors.h"
#include "core/gemm.h"
#include "core/heap.h"
#include "core/out_of_memory.h"
#include "core/trainer.h"

namespace trm::launcher {

namespace {

// The stop signal that arrived (0: none), set by the thread that waits for them.
std::atomic<int> g_stop_signal{0};

namespace fs = std::filesystem;

std::string number(double v) { return std::isfinite(v) ? core::format_double(v) : "null"; }
std::string number(int64_t v) { return std::to_string(v); }

// One JSON object per line: {"kind":"train","step":1,...}, fields in visitor order.
template <class Record>
std::string json_line(const char* kind, const Record& r) {
  std::string line = std::string("{\"kind\":\"") + kind + "\"";
  Record::visit_fields(r, [&](std::string_view name, const auto& value) {
    line += ",\"" + std::string(name) + "\":" + number(value);
  });
  return line + "}\n";
}

// " pass@1=... pass@2=..." where ARC's evaluator ran (core/arc_eval.h); "" elsewhere.
std::string arc_scores(const core::EvalRecord& r) {
  if (std::isnan(r.pass_at_2)) return "";
  return " pass@1=" + core::format_double(r.pass_at_1) +
         " pass@2=" + core::format_double(r.pass_at_2);
}

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  std::ostringstream o;
  if (s >= 3600) o << s / 3600 << "h";
  if (s >= 60) o << std::setw(s >= 3600 ? 2 : 1) << std::setfill('0') << (s / 60) % 60 << "m";
  o << std::setw(s >= 60 ? 2 : 1) << std::setfill('0') << s % 60 << "s";
  return o.str();
}

// Appends records to metrics.jsonl (flushed per line) and prints the progress line.
class TrainSink : public core::MetricSink {
 public:
  TrainSink(const std::string& path, int64_t total, int64_t batch, double every,
            std::ostream& progress)
      : file_(path, std::ios::app | std::ios::binary),
        path_(path),
        total_(total),
        batch_(batch),
        every_(every),
        progress_(progress) {
    // Before isatty, which sets errno (ENOTTY) when stderr is not a terminal.
    if (!file_) throw DataError("cannot open " + path + " for appending: " + std::strerror(errno));
    tty_ = isatty(STDERR_FILENO) != 0 && &progress == &std::cerr;
  }

  void on_train(const core::TrainRecord& r) override {
    write(json_line("train", r));
    last_train_ = r;
    ema_rate_ = ema_rate_ == 0 ? r.examples_per_s : 0.9 * ema_rate_ + 0.1 * r.examples_per_s;
    const auto now = Clock::now();
    if (r.step == total_ || std::chrono::duration<double>(now - last_print_).count() >= every_) {
      last_print_ = now;
      print_progress(r);
    }
  }

  // Called after each evaluation's line is written.
  std::function<void()> after_eval;

  void on_eval(const core::EvalRecord& r) override {
    write(json_line("eval", r));
    if (after_eval) after_eval();
    end_progress_line();
    progress_ << "eval  step " << r.step << "/" << total_ << "  accuracy=" << fixed4(r.accuracy)
              << " exact_accuracy=" << fixed4(r.exact_accuracy) << arc_scores(r) << " (" << r.count
              << " test examples, " << duration(r.seconds) << ")\n";
    last_eval_ = r;
  }

  // Flushed and synced: the checkpoint written next records this many bytes, and after a power
  // loss the file must hold at least as many (else the resume is refused, rightly).
  int64_t bytes_written() {
    file_.flush();
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fdatasync(fd) == 0;
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (!file_ || !synced)
      throw DataError("cannot write " + path_ + " to disk: " + std::strerror(err));
    return static_cast<int64_t>(file_.tellp());
  }
  const core::EvalRecord& last_eval() const { return last_eval_; }
  void end_progress_line() {
    if (tty_ && open_line_) progress_ << "\n";
    open_line_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;

  static std::string fixed4(double v) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(4) << v;
    return o.str();
  }

  void write(const std::string& line) {
    file_ << line;
    file_.flush();
    if (!file_) throw DataError("cannot write " + path_ + ": " + std::strerror(errno));
  }

  void print_progress(const core::TrainRecord& r) {
    const double eta = static_cast<double>(total_ - r.step) * 1.0 /
                       std::max(1e-9, ema_rate_ / static_cast<double>(batch_));
    progress_ << (tty_ ? "\r" : "") << "train step " << r.step << "/" << total_ << "  loss "
              << fixed4(r.loss) << "  accuracy " << fixed4(r.accuracy) << "  exact "
              << fixed4(r.exact_accuracy) << "  sup.steps " << std::setprecision(3) << r.steps
              << "  " << static_cast<int64_t>(ema_rate_) << " ex/s  eta " << duration(eta)
              << (tty_ ? "   " : "\n");
    progress_.flush();
    open_line_ = tty_;
  }
  std::ofstream file_;
  std::string path_;
  int64_t total_;
  int64_t batch_;
  double every_;
  std::ostream& progress_;
  bool tty_ = false;
  bool open_line_ = false;
  double ema_rate_ = 0;
  Clock::time_point last_print_{};
  core::TrainRecord last_train_;
  core::EvalRecord last_eval_;
};

c10::Device parse_device(const std::string& text) {
  try {
    const c10::Device device(text);
    if (device.is_cuda() && !at::hasCUDA()) {
      throw ConfigError("--device " + text +
                        ": this LibTorch build has no CUDA (use --device cpu)");
    }
    if (!device.is_cpu() && !device.is_cuda()) {
      throw ConfigError("--device " + text + ": valid devices are cpu, cuda, cuda:N");
    }
    return device;
  } catch (const c10::Error&) {
    throw ConfigError("--device " + text + ": valid devices are cpu, cuda, cuda:N");
  }
}

// /proc's figure for a kind of memory in bytes (e.g. "MemAvailable:" of /proc/meminfo, "VmRSS:"
// of /proc/self/status); 0 when it cannot be read.
int64_t proc_bytes(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + key.size()) * 1024;
  }
  return 0;
}

std::string gib(double bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << bytes / double(int64_t{1} << 30) << " GiB";
  return s.str();
}

// A CPU run given no --memory-budget whose predicted peak (core/cost_model.h) exceeds what the
// machine has free is limited to that (what it holds now plus 90% of MemAvailable): past it, it
// fails its allocation and ends as out of memory (exit 4), a result, instead of being killed by the
// kernel's OOM killer (or taking the machine's other processes with it). A prediction that is
// pessimistic costs nothing: the run could not have grown past that limit anyway.
void limit_runs_predicted_beyond_free_memory(const core::TrialConfig& config,
                                             const core::TrialData& data, std::ostream& progress) {
  const double predicted =
      core::predict_training_memory(config.model, config.train.batch_size, config.train.ema,
                                    data.train.num_examples() + data.test.num_examples(),
                                    core::MemoryDevice::cpu)
          .total();
  const int64_t limit =
      default_cpu_memory_limit(predicted, proc_bytes("/proc/self/status", "VmRSS:"),
                               proc_bytes("/proc/meminfo", "MemAvailable:"));
  if (limit == 0) return;
  progress << "memory: predicted peak " << gib(predicted) << " > the " << gib(double(limit))
           << " this machine has free for it: limited to that (as --memory-budget), so that it "
              "ends as out of memory (exit 4) rather than by the kernel's OOM killer\n";
  core::set_cpu_memory_budget(limit);
}

}  // namespace

std::string torch_version() { return TORCH_VERSION; }

int64_t default_cpu_memory_limit(double predicted_peak, int64_t rss, int64_t available) {
  if (available <= 0) return 0;
  const int64_t limit = std::max<int64_t>(rss, 0) + available / 10 * 9;
  return predicted_peak > static_cast<double>(limit) ? limit : 0;
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

int64_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max<int64_t>(1, sysconf(_SC_NPROCESSORS_ONLN));
}

int64_t cuda_device_count() { return static_cast<int64_t>(torch::cuda::device_count()); }

bool stop_requested() { return g_stop_signal != 0; }

void install_stop_signals() {
  // One thread of ours takes the stop signals with sigwait; they never interrupt the threads that
  // compute. Delivered asynchronously to whichever thread the kernel picked (OpenMP's, oneDNN's,
  // the main thread in the middle of a step), a SIGTERM now and then aborted the trainer with a
  // corrupted heap ("corrupted size vs. prev_size") instead of a checkpoint. Blocked here, before
  // LibTorch starts its threads, so that they inherit the mask. A sweep's trial process starts
  // with SIGTERM already blocked (launcher/trial_process.cpp): one that came while it started is
  // pending, is taken now, and the trial stops with a checkpoint after its first step.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread([stop_signals] {
    // Signals within a second of the first are one stop (one scancel reaches a trial as SLURM's
    // SIGTERM and the sweep's own); one later ends the process at once, as a second Ctrl-C does
    // everywhere: the last checkpoint stays (checkpoints are written whole, then renamed).
    auto first = std::chrono::steady_clock::time_point{};
    for (;;) {
      int sig = 0;
      if (sigwait(&stop_signals, &sig) != 0) continue;
      const auto now = std::chrono::steady_clock::now();
      if (g_stop_signal.load() == 0) {
        first = now;
        g_stop_signal.store(sig);
        continue;
      }
      if (now - first < std::chrono::seconds(1)) continue;
      const std::string msg = "signal " + std::to_string(sig) +
                              " again: stopping at once; the last checkpoint stays (run the same "
                              "command again to continue from it)\n";
      [[maybe_unused]] const auto n = ::write(STDERR_FILENO, msg.data(), msg.size());
      std::_Exit(kExitStopped);
    }
  }).detach();
}

// Holds `dir`/lock (flock, released when the process ends) and returns its descriptor; waits
// while another process holds it. -1 when a stop signal came first; ConfigError after 120 s.
static int lock_folder(const fs::path& dir, std::ostream& progress) {
  const std::string path = (dir / "lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return INT32_MAX;  // no lock where the folder cannot hold one: as before
  const auto start = std::chrono::steady_clock::now();
  bool said = false;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return fd;  // no flock here (ENOLCK, ...)
    if (g_stop_signal != 0) return -1;
    if (!said) {
      progress << "waiting for the process still training in " << dir.string()
               << " to stop (a run that was killed leaves it finishing its checkpoint)\n";
      said = true;
    }
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(120)) {
      ::close(fd);
      throw ConfigError("--out " + dir.string() +
                        ": another process is training in this folder (it holds " + path +
                        "); stop it or use another --out");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fd;
}

int train_verb(const core::TrialConfig& config, const TrainOptions& options, std::ostream& out,
               std::ostream& progress) {
  if (options.out_dir.empty()) throw ConfigError("--out DIR is required");
  core::validate(config);
  const c10::Device device = parse_device(options.device);
  (void)core::gemm_backend();  // a bad TRM_GEMM fails here, before anything is written
  // Freed activations are reused instead of mapped afresh each evaluation (core/heap.h).
  core::keep_freed_memory_for_reuse();
  // Always set: LibTorch's own default measured 0.64x the speed of an explicit count equal to
  // the cores (BENCHMARKS.md). The cores are those this process may run on (taskset, SLURM).
  at::set_num_threads(static_cast<int>(options.threads > 0 ? options.threads : usable_cores()));
  if (options.memory_budget > 0) core::set_cpu_memory_budget(options.memory_budget);

  const fs::path dir(options.out_dir);
  std::error_code ec;
  // A folder this call creates is removed again when the setup fails (data that cannot be drawn,
  // a config the trainer refuses): a refused command leaves nothing behind.
  const bool made_dir = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) {
    throw ConfigError("--out " + options.out_dir + ": cannot create this folder" +
                      (ec ? " (" + ec.message() + ")" : std::string(" (a file has this name)")));
  }
  // One process per folder. After a kill -9 of a sweep's `run`, its trial process is still
  // writing its last checkpoint when `resume` starts the trial again in the same folder: the two
  // interleaved their metrics (a resumed sweep then differed from a straight one). The newcomer
  // waits for the folder's lock, up to two minutes, then gives up.
  const int lock = lock_folder(dir, progress);
  if (lock < 0) return kExitStopped;  // a stop signal came while it waited
  if (::access(dir.c_str(), W_OK) != 0) {
    const int err = errno;
    throw ConfigError("--out " + options.out_dir + ": cannot write in this folder (" +
                      std::strerror(err) + ")");
  }
  const std::string checkpoint = (dir / "checkpoint.pt").string();
  const std::string metrics = (dir / "metrics.jsonl").string();
  // Temporary files of a process killed while it wrote (it held the lock we hold now).
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const char* base : {"checkpoint.pt.tmp.", "metrics.jsonl.tmp.", "weights.pt.tmp."}) {
      if (name.rfind(base, 0) == 0 && entry.is_regular_file(ec)) fs::remove(entry.path(), ec);
    }
  }
  for (const std::string& file : {checkpoint, metrics}) {
    if (fs::exists(file) && !fs::is_regular_file(file))
      throw DataError(file + ": not a regular file; move it away");
  }
  // A stop signal during the setup (data, model) ends the run before its first step.
  auto stopped_in_setup = [&] {
    if (g_stop_signal == 0) return false;
    out << "stopped before the first step (signal " << g_stop_signal.load()
        << "); peak_rss_bytes=" << peak_rss_bytes() << "; run the same command again to start\n";
    return true;
  };

  struct RemoveIfFailed {
    const fs::path& dir;
    bool armed;
    ~RemoveIfFailed() {
      if (!armed) return;
      std::error_code ignored;
      fs::remove(dir / "lock", ignored);
      fs::remove(dir, ignored);  // only when empty: nothing else of anyone's is removed
    }
  } remove_if_failed{dir, made_dir};

  std::optional<core::TrialData> made;
  try {
    // A large split takes minutes to draw: a stop signal ends the drawing.
    made.emplace(core::make_trial_data(config.data, [] { return g_stop_signal != 0; }));
  } catch (const Stopped&) {
  }
  if (stopped_in_setup()) return kExitStopped;
  const core::TrialData& data = *made;
  const auto givens = core::givens_summary(data.train);
  if (config.data.source == core::DataSource::sudoku && givens.min > config.data.givens) {
    // Removing any more given would leave a second solution: say so rather than train on easier
    // puzzles than asked without a word.
    progress << "data: givens = " << config.data.givens << " asked; the puzzles have " << givens.min
             << "-" << givens.max << " (mean "
             << core::format_double(std::round(givens.mean * 10) / 10)
             << "), the fewest that keep each one's solution unique\n";
  }
  if (device.is_cpu() && options.memory_budget == 0)
    limit_runs_predicted_beyond_free_memory(config, data, progress);
  core::Trainer trainer(config, data, device);
  if (stopped_in_setup()) return kExitStopped;
  remove_if_failed.armed = false;  // the run starts: its folder is kept from here on

  // The metrics file keeps exactly the lines of the state being continued.
  int64_t metrics_bytes = 0;
  const bool resuming = fs::exists(checkpoint);
  if (resuming) {
    const auto extras = trainer.load_checkpoint(checkpoint);
    const auto it = extras.find("metrics_bytes");
    metrics_bytes = it == extras.end() ? 0 : it->second;
    progress << "resuming " << checkpoint << " at step " << trainer.step() << "/"
             << trainer.total_steps() << "\n";
  }
  const int64_t metrics_size =
      fs::exists(metrics) ? static_cast<int64_t>(fs::file_size(metrics)) : int64_t{0};
  if (metrics_size < metrics_bytes) {
    // Appending would leave a broken line, or a file that starts mid-run: the lines of the
    // steps before the checkpoint are gone and cannot be recomputed without training again.
    throw DataError(metrics + " has " + std::to_string(metrics_size) +
                    " bytes, but the checkpoint (step " + std::to_string(trainer.step()) +
                    ") was written after " + std::to_string(metrics_bytes) +
                    ": the file was cut or replaced since. Put it back, or delete " + checkpoint +
                    " and " + metrics + " to train from the start");
  }
  if (!resuming && metrics_size > 0) {
    // Lines with no checkpoint to continue: a run killed before its first checkpoint, or one
    // whose checkpoint was deleted to train again. The new run starts from step 0; the old
    // lines are kept beside it, not thrown away.
    const std::string aside = metrics + ".prev";
    fs::rename(metrics, aside, ec);
    if (ec) throw DataError("cannot move " + metrics + " to " + aside + " (" + ec.message() + ")");
    progress << "no checkpoint in " << options.out_dir << ": training from step 0; the "
             << metrics_size << " bytes of metrics already there are kept in " << aside << "\n";
    core::write_file_atomically(metrics, "");
  } else if (metrics_size > metrics_bytes) {
    // A new file in its place (write + rename), not a truncation in place: a sweep reading the
    // file as it grows sees another inode and reads it again from the start, where a file cut
    // short and grown past its old size again would leave the reader in the middle of a line.
    std::ifstream in(metrics, std::ios::binary);
    std::string kept(static_cast<size_t>(metrics_bytes), '\0');
    in.read(kept.data(), static_cast<std::streamsize>(kept.size()));
    if (in.gcount() != static_cast<std::streamsize>(kept.size()))
      throw DataError("cannot read " + metrics + " back to its checkpoint");
    in.close();
    core::write_file_atomically(metrics, kept);
  }

  TrainSink sink(metrics, trainer.total_steps(), config.train.batch_size, options.progress_seconds,
                 progress);
  // ARC: the latest evaluation's two attempts per test input, as the reference's evaluator
  // writes them (ARC Prize's format).
  sink.after_eval = [&] {
    const std::string submission = trainer.arc_submission();
    if (!submission.empty())
      core::write_file_atomically((dir / "submission.json").string(), submission);
  };
  core::LoopControl control;
  control.stop_at_step = options.stop_at_step;
  control.checkpoint_every = options.checkpoint_every;
  control.stop_requested = [] { return g_stop_signal != 0; };
  control.checkpoint = [&] {
    trainer.save_checkpoint(checkpoint, {{"metrics_bytes", sink.bytes_written()}});
  };
  const auto end = core::train_loop(trainer, sink, control);
  sink.end_progress_line();
  if (end == core::LoopEnd::stopped) {
    out << "stopped at step " << trainer.step() << "/" << trainer.total_steps()
        << (g_stop_signal != 0 ? " (signal " + std::to_string(g_stop_signal) + ")" : "")
        << "; peak_rss_bytes=" << peak_rss_bytes() << "; checkpoint " << checkpoint
        << "; run the same command again to continue\n";
    return kExitStopped;
  }
  trainer.save_weights((dir / "weights.pt").string());
  const auto& r = sink.last_eval();
  out << "final step " << r.step << "/" << trainer.total_steps() << " test examples " << r.count
      << " peak_rss_bytes=" << peak_rss_bytes() << " accuracy=" << core::format_double(r.accuracy)
      << " exact_accuracy=" << core::format_double(r.exact_accuracy) << arc_scores(r) << "\n";
  return 0;
}

int eval_verb(const core::TrialConfig& config, const EvalOptions& options, std::ostream& out) {
  if (options.weights.empty()) throw ConfigError("--weights FILE is required");
  core::validate(config);
  const c10::Device device = parse_device(options.device);
  (void)core::gemm_backend();
  core::keep_freed_memory_for_reuse();
  at::set_num_threads(static_cast<int>(options.threads > 0 ? options.threads : usable_cores()));
  if (fs::is_directory(options.weights))
    throw ConfigError("--weights " + options.weights + ": is a folder; give the .pt file");
  if (!fs::exists(options.weights))
    throw ConfigError("--weights " + options.weights + ": no such file");
  if (!fs::is_regular_file(options.weights))
    throw ConfigError("--weights " + options.weights + ": not a regular file; give the .pt file");
  if (!options.submission.empty()) {
    if (fs::exists(fs::symlink_status(options.submission)))
      throw ConfigError("--submission " + options.submission + ": exists; it is not replaced");
    const fs::path folder = fs::path(options.submission).parent_path();
    if (!folder.empty() && !fs::is_directory(folder))
      throw ConfigError("--submission " + options.submission + ": no such folder " +
                        folder.string());
  }
  const core::TrialData data = core::make_trial_data(config.data);
  if (!options.submission.empty() && !data.arc) {
    throw ConfigError("--submission " + options.submission +
                      ": the data set is not ARC's (a data.path folder with test_puzzles.json)");
  }
  core::Trainer trainer(config, data, device);
  const std::string kind = trainer.load_weights(options.weights);
  const core::EvalRecord r = trainer.evaluate();
  if (!options.submission.empty()) {
    core::write_file_atomically(options.submission, trainer.arc_submission());
  }
  out << "eval " << options.weights << " (" << kind << "): " << r.count << " test examples, N_sup "
      << config.model.halt_max_steps << " lm_loss=" << core::format_double(r.lm_loss)
      << " q_halt_accuracy=" << core::format_double(r.q_halt_accuracy)
      << " accuracy=" << core::format_double(r.accuracy)
      << " exact_accuracy=" << core::format_double(r.exact_accuracy) << arc_scores(r) << "\n";
  return 0;
}

}  // namespace trm::launcher
