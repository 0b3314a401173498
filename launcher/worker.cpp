#include "launcher/worker.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "core/errors.h"
#include "launcher/train_verb.h"
#include "launcher/trial_runner.h"

namespace trm::launcher {

namespace {

volatile std::sig_atomic_t g_worker_signals = 0;
extern "C" void on_worker_signal(int) { g_worker_signals = g_worker_signals + 1; }

}  // namespace

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Backoff::reset() {
  micros_ = 0;
  last_reset_ = steady_seconds();
}

void Backoff::wait(int64_t slow_cap_micros) {
  const int64_t cap_micros = steady_seconds() - last_reset_ < kFastWindowSeconds
                                 ? std::min(kFastCapMicros, slow_cap_micros)
                                 : slow_cap_micros;
  micros_ = std::min(micros_, cap_micros);
  if (micros_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(micros_));
  micros_ = std::clamp<int64_t>(micros_ * 2, 50, cap_micros);
}

int64_t rank_threads(int runners) {
  const int64_t online = std::max<long>(1, sysconf(_SC_NPROCESSORS_ONLN));
  // A SLURM task asked for its cores: use them even where the site does not bind tasks.
  if (const char* per_task = std::getenv("SLURM_CPUS_PER_TASK")) {
    const int64_t n = std::atoll(per_task);
    if (n > 0) return std::min(n, usable_cores());
  }
  const int64_t usable = usable_cores();
  if (usable < online) return usable;  // mpirun/srun bound this rank: its cores are its share
  return std::max<int64_t>(1, online / std::max(1, runners));
}

std::string rank_device(const std::string& device, int runner_index) {
  if (device == "cpu") return device;
  const bool numbered = device.size() > 5 && device.size() <= 9 && device.rfind("cuda:", 0) == 0 &&
                        device.find_first_not_of("0123456789", 5) == std::string::npos;
  if (device != "cuda" && !numbered) {
    throw ConfigError("--device " + device +
                      ": valid: cpu, cuda (each rank binds one GPU of its node), cuda:N");
  }
  const int64_t gpus = cuda_device_count();
  if (gpus == 0) {
    throw ConfigError("--device " + device +
                      ": this rank sees no GPU (check CUDA_VISIBLE_DEVICES, the job's GPU "
                      "request, and that this trm-sweep's LibTorch was built with CUDA)");
  }
  if (numbered) {
    const int64_t n = std::stoll(device.substr(5));
    if (n >= gpus) {
      throw ConfigError("--device " + device + ": this rank sees " + std::to_string(gpus) +
                        " GPU(s), cuda:0 to cuda:" + std::to_string(gpus - 1));
    }
    return device;
  }
  return "cuda:" + std::to_string(std::max(0, runner_index) % gpus);
}

StopSignals::Act StopSignals::update(int delivered, double now) {
  if (delivered <= seen_) return Act::none;
  seen_ = delivered;
  if (first_at_ < 0) {
    first_at_ = now;
    return Act::stop;
  }
  if (killed_ || now - first_at_ < window_) return Act::none;
  killed_ = true;
  return Act::kill;
}

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

int run_worker(MpiSession& mpi, const RankSetup& setup) {
  // mpirun and srun forward SIGTERM/SIGUSR1 to every rank: the first asks the running trial to
  // checkpoint and stop, a second ends it at once. The coordinator decides when we leave.
  struct sigaction sa {};
  sa.sa_handler = on_worker_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaction(sig, &sa, nullptr);

  mpi.send(0, Tag::ready, host_name() + "\n" + setup.device);
  TrialRunner runner;
  StopSignals signals;
  double last_sent = steady_seconds();
  Backoff backoff;
  for (bool leaving = false; !leaving || runner.busy();) {
    bool active = false;
    if (runner.busy()) {
      const auto act = signals.update(g_worker_signals, steady_seconds());
      if (act == StopSignals::Act::stop) runner.request_stop();
      if (act == StopSignals::Act::kill) runner.kill_now();
    }
    Message m;
    while (mpi.poll(&m)) {
      active = true;
      switch (m.tag) {
        case Tag::assign: {
          auto a = decode_assignment(m.payload);
          a.launch.threads = setup.threads;
          a.launch.device = setup.device;
          runner.start(a);
          break;
        }
        case Tag::stop:
          runner.request_stop();
          break;
        case Tag::kill:
          runner.kill_now();
          break;
        case Tag::exit:
          leaving = true;
          break;
        default:
          throw InternalError("worker: unexpected message " +
                              std::to_string(static_cast<int>(m.tag)));
      }
    }
    if (runner.busy()) {
      const int64_t index = runner.index();
      std::vector<std::string> lines;
      TrialOutcome outcome;
      const bool ended = runner.poll(lines, &outcome);
      if (!lines.empty()) {
        std::string payload = std::to_string(index) + "\n";
        for (const auto& l : lines) payload += l + "\n";
        mpi.send(0, Tag::metrics, std::move(payload));
        last_sent = steady_seconds();
        active = true;
      }
      if (ended) {
        mpi.send(0, Tag::end, std::to_string(index) + "\n" + encode(outcome));
        last_sent = steady_seconds();
        active = true;
      }
    }
    if (steady_seconds() - last_sent >= setup.heartbeat_seconds) {
      mpi.send(0, Tag::heartbeat, "");
      last_sent = steady_seconds();
    }
    if (active) backoff.reset();
    // Idle, the next trial should start at once; running one, its metrics can wait a little.
    backoff.wait(runner.busy() ? 20'000 : 5'000);
  }
  mpi.flush_sends();
  return 0;
}

}  // namespace trm::launcher
