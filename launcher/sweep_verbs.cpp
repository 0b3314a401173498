#include "launcher/sweep_verbs.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <chrono>
#include <cmath>

#include "core/config_fields.h"
#include "core/errors.h"
#include "core/gemm.h"
#include "launcher/train_verb.h"
#include "sweep/expand.h"
#include "sweep/plan.h"

namespace trm::launcher {

namespace {

// Fraction of the float32 matmul peak a CPU training step is taken to sustain. The bare step of
// the Sudoku configs measures 54-75% (BENCHMARKS.md "Model step"; it was 35-45% before oneDNN and
// the one-pass kernels); 0.40 stays on the safe side of that for smaller models and for what the
// trainer adds (evaluations, checkpoints, data), since a trial that runs longer than predicted
// can outlive a SLURM time limit.
constexpr double kCpuTrainingEfficiency = 0.40;
// Without --gflops on CUDA: an assumed sustained bf16 throughput (about 40% of an L40S-class
// card's dense peak); say so in the output rather than pretend it was measured.
constexpr double kAssumedCudaGflops = 50000.0;

// The float32 matmul peak of the library the model's products run in (core/gemm.h: oneDNN's sgemm
// where it is the backend, else LibTorch's BLAS), times kCpuTrainingEfficiency. at::mm measured
// 26-43 GFLOP/s where Debian's OpenBLAS does not know the CPU and oneDNN 164-250 (BENCHMARKS.md),
// which made every predicted time 5-8x too long.
double measured_cpu_gflops() {
  at::set_num_threads(static_cast<int>(usable_cores()));
  const int64_t n = 1024;
  const auto a = at::randn({n, n}), b = at::randn({n, n});
  (void)core::gemm(a, b);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i) (void)core::gemm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n * 4 / s / 1e9);
  }
  return best * kCpuTrainingEfficiency;
}

double physical_memory() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

core::TrialConfig spec_trial_config(const std::string& spec_path, int64_t index) {
  const auto spec = sweep::parse_spec_file(spec_path);
  const auto expansion = sweep::expand(spec);
  if (index < 0 || index >= static_cast<int64_t>(expansion.trials.size())) {
    throw ConfigError("--trial " + std::to_string(index) + ": " + spec_path + " has trials 0.." +
                      std::to_string(expansion.trials.size() - 1));
  }
  return expansion.trials[static_cast<size_t>(index)].config;
}

int plan_verb(const std::string& spec_path, const PlanCli& o, std::ostream& out,
              std::ostream& err) {
  sweep::PlanOptions options;
  if (o.device == "cuda") {
    options.device = core::MemoryDevice::cuda;
    if (o.memory.empty()) {
      throw ConfigError("--device cuda needs --memory, the GPU's memory (e.g. --memory 48G)");
    }
  } else if (o.device != "cpu") {
    throw ConfigError("--device " + o.device + ": valid devices: cpu, cuda");
  }
  if (o.format != "text" && o.format != "csv" && o.format != "json") {
    throw ConfigError("--format " + o.format + ": valid formats: text, csv, json");
  }
  options.memory_bytes =
      o.memory.empty() ? physical_memory() : core::parse_byte_size("--memory", o.memory);
  options.ranks = o.ranks;
  const auto spec = sweep::parse_spec_file(spec_path);
  const auto expansion = sweep::expand(spec);
  for (const auto& w : expansion.warnings) err << "warning: " << w << "\n";
  for (const auto& d : expansion.duplicates) err << "duplicate: " << d << "\n";
  if (o.gflops > 0) {
    options.gflops = o.gflops;
  } else if (options.device == core::MemoryDevice::cpu) {
    options.gflops = measured_cpu_gflops();
    if (o.format == "text") {
      err << "throughput: measured float32 matmul peak x " << kCpuTrainingEfficiency << " = "
          << std::llround(options.gflops) << " GFLOP/s (override: --gflops)\n";
    }
  } else {
    options.gflops = kAssumedCudaGflops;
    err << "throughput: assumed " << static_cast<int64_t>(kAssumedCudaGflops)
        << " GFLOP/s on CUDA (not measured; pass --gflops)\n";
  }
  out << sweep::format_plan(sweep::make_plan(spec, expansion, options), o.format);
  return 0;
}

}  // namespace trm::launcher
