// Benchmark of the bare training step (forward of every evaluation, loss, backward, AdamATan2 and
// sign-SGD) for the Sudoku TRM-MLP and a small config: examples/s, achieved GFLOP/s (matmuls
// counted by core/cost_model) and the fraction of this machine's float32 matmul peak (the faster of
// at::mm and oneDNN's sgemm on a 2048^2 product), measured right before and after each config.
// Prints a Markdown table; `--profile` adds where the step's time goes.
//
// The heap keeps freed memory for reuse, as the trainer's does (core/heap.h); `--glibc-heap`
// leaves glibc's defaults, to measure what that setting is worth.
//
// `--ops` adds, per config, the self time of every ATen operator and autograd node over one step
// (LibTorch's profiler), the largest first: where the time that is not matmul goes.
//
// Usage: bench_model [--threads N] [--seconds S] [--profile] [--ops] [--quick] [--only SUBSTRING]
//                    [--glibc-heap]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/act.h"
#include "core/cost_model.h"
#include "core/gemm.h"
#include "core/heap.h"
#include "core/loss.h"
#include "core/optimizers.h"
#include "core/trm_model.h"

namespace {

using Clock = std::chrono::steady_clock;
using trm::core::ModelConfig;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best-of-3 GFLOP/s of `product` (2·n³ FLOPs a call), each round at least 0.25 s of calls.
template <typename Product>
double best_rate(int64_t n, const Product& product) {
  product();
  double best = 0.0;
  for (int round = 0; round < 3; ++round) {
    int calls = 0;
    const auto t0 = Clock::now();
    double s = 0;
    do {
      product();
      ++calls;
      s = seconds_since(t0);
    } while (s < 0.25);
    best = std::max(best, 2.0 * n * n * n * calls / s / 1e9);
  }
  return best;
}

struct Peak {
  double mm = 0, sgemm = 0;  // GFLOP/s of at::mm (LibTorch's BLAS) and of oneDNN's sgemm
  double best() const { return std::max(mm, sgemm); }
};

// The machine's float32 matmul peak on an n x n product: at::mm (OpenBLAS on Debian) and oneDNN's
// sgemm (core/gemm.h, where the model's products run; 0 where it is not the backend). at::mm
// alone can be far below what the machine does where the BLAS does not know the CPU: Debian 12's
// OpenBLAS on family 6 model 207 runs its generic Prescott kernels (BENCHMARKS.md).
Peak matmul_peak(int64_t n) {
  const auto a = at::randn({n, n}), b = at::randn({n, n});
  auto c = at::empty({n, n});
  Peak p;
  p.mm = best_rate(n, [&] { at::mm_out(c, a, b); });
  if (trm::core::raw_sgemm_available())
    p.sgemm = best_rate(n, [&] {
      trm::core::raw_sgemm('N', 'N', n, n, n, a.data_ptr<float>(), n, b.data_ptr<float>(), n,
                           c.data_ptr<float>(), n);
    });
  return p;
}

// m, k, n of a matrix product's label (op_label), by at::mm or by core/gemm's oneDNN sgemm.
bool product_shape(const std::string& label, long long* m, long long* k, long long* n) {
  long long k2 = 0;
  for (const char* name : {"aten::mm", "trm::sgemm"}) {
    const std::string format = std::string(name) + " %lldx%lld @ %lldx%lld";
    if (std::sscanf(label.c_str(), format.c_str(), m, k, &k2, n) == 4) return true;
  }
  return false;
}

// The FLOPs of one call of an operator that multiplies matrices: 2·m·k·n for a product, and for
// the fused token-MLP blocks (core/swiglu_function.cpp, x [h, m], intermediate i) the products
// inside: 6·h·m·i forward, 12·h·m·i backward. 0 for anything else.
double call_flops(const std::string& label) {
  long long m = 0, k = 0, n = 0;
  if (product_shape(label, &m, &k, &n)) return 2.0 * m * k * n;
  long long batches = 0, k2 = 0;
  if (std::sscanf(label.c_str(), "trm::bgemm %lld x %lldx%lld @ %lldx%lld", &batches, &m, &k, &k2,
                  &n) == 5)
    return 2.0 * batches * m * k * n;
  long long h = 0, cols = 0, i = 0;
  if (std::sscanf(label.c_str(), "trm::swiglu_cols_fused_backward %lldx%lld i%lld", &h, &cols,
                  &i) == 3)
    return 12.0 * h * cols * i;
  if (std::sscanf(label.c_str(), "trm::swiglu_cols_fused %lldx%lld i%lld", &h, &cols, &i) == 3)
    return 6.0 * h * cols * i;
  return 0;
}

struct Phases {
  double forward = 0, loss = 0, backward = 0, optimizer = 0;
};

struct OpTime {
  double self_us = 0;
  int64_t calls = 0;
};

struct Result {
  double step_s = 0;
  Phases phases;
  std::map<std::string, OpTime> ops;  // self time per operator over one step (--ops)
};

// "aten::mm 3104x512 @ 512x3072" for a matrix product (their shapes decide their speed), the
// operator's name otherwise.
std::string op_label(const torch::autograd::profiler::LegacyEvent& e) {
  std::string label = e.name();
  const auto shapes = e.shapes();
  // The fused token-MLP blocks: x [h, m] and w_down [h, i] say their products' sizes.
  if ((label == "trm::swiglu_cols_fused" || label == "trm::swiglu_cols_fused_backward") &&
      shapes.size() == 3 && shapes[0].size() == 2 && shapes[2].size() == 2)
    return label + " " + std::to_string(shapes[0][0]) + "x" + std::to_string(shapes[0][1]) + " i" +
           std::to_string(shapes[2][1]);
  // The attention's batched products (core/matmul_function.cpp): "trm::bgemm P x MxK @ KxN".
  if (label == "trm::bgemm" && shapes.size() == 2 && shapes[0].size() >= 3 &&
      shapes[0].size() == shapes[1].size()) {
    const auto& a = shapes[0];
    const auto& b = shapes[1];
    const size_t r = a.size();
    int64_t batches = 1;
    for (size_t i = 0; i + 2 < r; ++i) batches *= a[i];
    return label + " " + std::to_string(batches) + " x " + std::to_string(a[r - 2]) + "x" +
           std::to_string(a[r - 1]) + " @ " + std::to_string(b[r - 2]) + "x" +
           std::to_string(b[r - 1]);
  }
  if ((label != "aten::mm" && label != "trm::sgemm") || shapes.size() < 2) return label;
  for (size_t i = 0; i < 2; ++i) {
    if (shapes[i].size() != 2) return label;
    label +=
        (i == 0 ? " " : " @ ") + std::to_string(shapes[i][0]) + "x" + std::to_string(shapes[i][1]);
  }
  return label;
}

// Self time (own time less that of the operators it called) per name, from the profiler's
// push/pop events of each thread.
std::map<std::string, OpTime> self_times(
    const torch::autograd::profiler::thread_event_lists& threads) {
  using torch::autograd::profiler::EventKind;
  using torch::autograd::profiler::LegacyEvent;
  std::map<std::string, OpTime> out;
  for (const auto& events : threads) {
    struct Open {
      const LegacyEvent* push;
      double children_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == EventKind::PopRange && !stack.empty()) {
        const Open open = stack.back();
        stack.pop_back();
        const double us = open.push->cpuElapsedUs(e);
        auto& t = out[op_label(*open.push)];
        t.self_us += us - open.children_us;
        t.calls += 1;
        if (!stack.empty()) stack.back().children_us += us;
      }
    }
  }
  return out;
}

Result time_steps(const ModelConfig& c, int64_t batch, double budget_s, bool ops) {
  at::manual_seed(0);
  auto model = trm::core::make_model(c, c10::Device(c10::kCPU));
  model->train();
  trm::core::AdamATan2 adam(model->trainable_parameters(), trm::core::AdamATan2Options(1e-4));
  const trm::core::Batch data{at::randint(1, c.vocab_size, {batch, c.seq_len}, at::kInt),
                              at::randint(2, c.vocab_size, {batch, c.seq_len}, at::kInt),
                              at::zeros({batch}, at::kInt)};
  auto carry = trm::core::initial_carry(model, data);
  Phases ph;
  auto step = [&](bool record) {
    auto t = Clock::now();
    const auto out = trm::core::act_step(model, carry, data);
    const double f = seconds_since(t);
    t = Clock::now();
    const auto loss = trm::core::act_loss(c, carry, out);
    const auto scaled = loss.total / static_cast<double>(batch);
    const double l = seconds_since(t);
    t = Clock::now();
    scaled.backward();
    const double b = seconds_since(t);
    t = Clock::now();
    adam.step();
    trm::core::sparse_sign_sgd_step(*model->puzzle_emb(), 1e-4, 1.0);
    adam.zero_grad();
    const double o = seconds_since(t);
    if (record) {
      ph.forward += f;
      ph.loss += l;
      ph.backward += b;
      ph.optimizer += o;
    }
  };
  step(false);  // warm-up: allocator, optimizer state
  int steps = 0;
  const auto t0 = Clock::now();
  do {
    step(true);
    ++steps;
  } while (seconds_since(t0) < budget_s || steps < 2);
  const double total = seconds_since(t0);
  Result r;
  if (ops) {  // one more step, not timed above: the profiler slows it
    torch::autograd::profiler::enableProfilerLegacy(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU,
                                              /*report_input_shapes=*/true));
    step(false);
    r.ops = self_times(torch::autograd::profiler::disableProfilerLegacy());
  }
  r.step_s = total / steps;
  r.phases = {ph.forward / steps, ph.loss / steps, ph.backward / steps, ph.optimizer / steps};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double budget = 10.0;
  bool profile = false, ops = false, quick = false, glibc_heap = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
      budget = std::stod(argv[++i]);
    else if (!std::strcmp(argv[i], "--profile"))
      profile = true;
    else if (!std::strcmp(argv[i], "--ops"))
      ops = true;
    else if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--glibc-heap"))
      glibc_heap = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: bench_model [--threads N] [--seconds S] [--profile] [--ops] [--quick] "
                   "[--only TEXT] [--glibc-heap]\n");
      return 2;
    }
  }
  if (!glibc_heap) trm::core::keep_freed_memory_for_reuse();
  at::set_num_threads(threads);
  at::manual_seed(0);
  const int64_t n = quick ? 512 : 2048;
  const Peak first = matmul_peak(n);
  std::printf(
      "threads %d; heap: %s; MLP products: %s; float32 matmul peak (%lld^2, best of 3): "
      "at::mm %.1f GFLOP/s, oneDNN sgemm %.1f GFLOP/s\n\n",
      threads, glibc_heap ? "glibc defaults" : "freed memory kept for reuse",
      trm::core::gemm_backend(), static_cast<long long>(n), first.mm, first.sgemm);

  ModelConfig full;  // Sudoku TRM-MLP: D 512, T 3, n 6, 16-token prefix (97 positions)
  full.forward_dtype = trm::core::ForwardDtype::float32;
  ModelConfig small = full;
  small.hidden_size = 128;
  small.h_cycles = 2;
  small.l_cycles = 2;
  small.puzzle_emb_ndim = 128;
  struct Case {
    const char* name;
    ModelConfig c;
    int64_t batch;
  };
  std::vector<Case> cases;
  for (int64_t b : {32, 128}) cases.push_back({"sudoku-mlp D512 T3 n6", full, b});
  for (int64_t b : {32, 128}) cases.push_back({"small D128 T2 n2", small, b});
  ModelConfig attention = full;  // Sudoku TRM-Att: self-attention with RoPE, 8 heads
  attention.mixer = trm::core::TokenMixer::attention;
  attention.pos_encodings = trm::core::PosEncoding::rope;
  cases.push_back({"sudoku-att D512 T3 n6", attention, 32});
  ModelConfig full_bf16 = full;
  full_bf16.forward_dtype = trm::core::ForwardDtype::bfloat16;
  ModelConfig small_bf16 = small;
  small_bf16.forward_dtype = trm::core::ForwardDtype::bfloat16;
  cases.push_back({"sudoku-mlp D512 T3 n6 bf16", full_bf16, 32});
  cases.push_back({"small D128 T2 n2 bf16", small_bf16, 128});
  if (quick) cases.resize(1), cases[0].batch = 4, cases[0].c.h_cycles = 1, cases[0].c.l_cycles = 1;

  // Each config against the peak measured right before and right after it (the higher of the
  // two, and of at::mm and sgemm): this VM's speed drifts by 20-40% within minutes, and a peak
  // taken minutes away from the step it is compared with says little.
  std::printf(
      "| config | batch | dtype | examples/s | step ms | GFLOP/step | GFLOP/s | peak GFLOP/s | %% "
      "of peak |\n");
  std::printf("|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
  std::vector<std::pair<std::string, Result>> profiles;
  std::map<std::string, double> peaks;
  Peak before = first;
  for (const auto& k : cases) {
    const std::string label = std::string(k.name) + " b" + std::to_string(k.batch);
    if (!only.empty() && label.find(only) == std::string::npos) continue;
    const auto r = time_steps(k.c, k.batch, quick ? 0.1 : budget, ops);
    const Peak after = matmul_peak(n);
    const double peak = std::max(before.best(), after.best());
    before = after;
    const double gflop = trm::core::training_step_flops(k.c, k.batch).total() / 1e9;
    const bool bf16 = k.c.forward_dtype == trm::core::ForwardDtype::bfloat16;
    std::printf("| %s | %lld | %s | %.2f | %.1f | %.2f | %.1f | %.1f | %.0f%% |\n", k.name,
                static_cast<long long>(k.batch), bf16 ? "bfloat16" : "float32", k.batch / r.step_s,
                r.step_s * 1e3, gflop, gflop / r.step_s, peak, 100.0 * gflop / r.step_s / peak);
    std::fflush(stdout);
    profiles.emplace_back(label, r);
    peaks[label] = peak;
  }
  if (profile) {
    std::printf(
        "\n| config | forward ms | loss ms | backward ms | optimizer ms "
        "|\n|---|---:|---:|---:|---:|\n");
    for (const auto& [name, r] : profiles) {
      std::printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", name.c_str(), r.phases.forward * 1e3,
                  r.phases.loss * 1e3, r.phases.backward * 1e3, r.phases.optimizer * 1e3);
    }
  }
  if (ops) {
    for (const auto& [name, r] : profiles) {
      std::vector<std::pair<std::string, OpTime>> rows(r.ops.begin(), r.ops.end());
      std::sort(rows.begin(), rows.end(),
                [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
      double total_us = 0, mm_us = 0, mm_flops = 0;
      for (const auto& [label, t] : rows) {
        total_us += t.self_us;
        if (const double f = call_flops(label); f > 0) {
          mm_us += t.self_us;
          mm_flops += f * t.calls;
        }
      }
      // What the step would reach if everything but the matrix products took no time.
      std::printf(
          "\n%s, one profiled step (%.1f ms of operator time); its matrix products alone (with "
          "the fused token-MLP blocks, their pointwise work included): "
          "%.1f ms, %.1f GFLOP, %.1f GFLOP/s = %.0f%% of peak\n\n",
          name.c_str(), total_us / 1e3, mm_us / 1e3, mm_flops / 1e9, mm_flops / (mm_us * 1e3),
          100.0 * mm_flops / (mm_us * 1e3) / peaks[name]);
      std::printf("| operator | calls | self ms | share | GFLOP/s |\n|---|---:|---:|---:|---:|\n");
      for (size_t i = 0; i < rows.size() && i < 30; ++i) {
        const auto& [label, t] = rows[i];
        std::string rate;  // of an operator that multiplies matrices (call_flops)
        if (const double f = call_flops(label); f > 0)
          rate = std::to_string(static_cast<int>(f * t.calls / (t.self_us * 1e3)));
        std::printf("| %s | %lld | %.1f | %.1f%% | %s |\n", label.c_str(),
                    static_cast<long long>(t.calls), t.self_us / 1e3, 100.0 * t.self_us / total_us,
                    rate.c_str());
      }
    }
  }
  return 0;
}
