#include "core/swiglu_function.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

#include "core/gemm.h"
#include "core/swiglu_pointwise.h"

namespace trm::core {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// silu(g) * u, and with `dp` (the gradient of that product) also d[g; u] into *dgu, written in
// place into one [g; u]-shaped tensor. The product is recomputed here instead of being kept from
// the forward. float32 CPU tensors take the one-pass kernels of core/swiglu_pointwise.h; anything
// else (CUDA, bfloat16) ATen's vectorised silu and silu_backward.
at::Tensor swiglu_pointwise(const at::Tensor& gate_up, int64_t axis, const at::Tensor& dp,
                            at::Tensor* dgu) {
  if (gate_up.device().is_cpu() && gate_up.scalar_type() == at::kFloat && gate_up.dim() == 2 &&
      gate_up.is_contiguous() && (dp.defined() ? dp.is_contiguous() : true)) {
    SwiGluLayout l;
    const int64_t i = gate_up.size(axis) / 2;
    if (axis == 1) {
      l = {gate_up.size(0), i, 2 * i, i, i};
    } else {
      const int64_t n = i * gate_up.size(1);
      l = {1, n, 0, n, 0};
    }
    const std::vector<int64_t> p_shape = axis == 1 ? std::vector<int64_t>{gate_up.size(0), i}
                                                   : std::vector<int64_t>{i, gate_up.size(1)};
    auto p = at::empty(p_shape, gate_up.options());
    // Named for LibTorch's profiler (bench_model --ops); the forward is in no autograd node.
    RECORD_FUNCTION(dgu == nullptr ? "trm::swiglu_pointwise" : "trm::swiglu_pointwise_backward",
                    std::vector<c10::IValue>());
    if (dgu == nullptr) {
      swiglu_forward(gate_up.data_ptr<float>(), p.data_ptr<float>(), l);
    } else {
      *dgu = at::empty_like(gate_up);
      swiglu_backward(gate_up.data_ptr<float>(), dp.data_ptr<float>(), dgu->data_ptr<float>(),
                      p.data_ptr<float>(), l);
    }
    return p;
  }
  const auto parts = gate_up.chunk(2, axis);
  const auto& g = parts[0];
  const auto& u = parts[1];
  const auto silu = at::silu(g);
  if (dgu != nullptr) {
    *dgu = at::empty_like(gate_up);
    const int64_t i = g.size(axis);
    auto dg = dgu->narrow(axis, 0, i), du = dgu->narrow(axis, i, i);
    at::silu_backward_out(dg, dp * u, g);
    at::mul_out(du, dp, silu);
  }
  return silu.mul_(u);
}

at::Tensor product(const at::Tensor& gate_up, int64_t axis) {
  return swiglu_pointwise(gate_up, axis, at::Tensor(), nullptr);
}

struct SwiGluRows : public torch::autograd::Function<SwiGluRows> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w_gu,
                            const at::Tensor& w_down) {
    const auto gate_up = gemm(x, w_gu.t());
    ctx->save_for_backward({x, gate_up, w_gu, w_down});
    return gemm(product(gate_up, 1), w_down.t());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gate_up = saved[1], &w_gu = saved[2], &w_down = saved[3];
    const auto& dy = grads[0];
    const auto dp = gemm(dy, w_down);
    at::Tensor dgu;
    const auto p = swiglu_pointwise(gate_up, 1, dp, &dgu);
    const auto d_down = gemm(dy.t(), p);
    return {gemm(dgu, w_gu), gemm(dgu.t(), x), d_down};
  }
};

// The row stride, in floats, of a buffer of `cols` columns that oneDNN's sgemm reads or writes
// a panel at a time: a whole number of cache lines, and an odd one. A stride that is a multiple
// of a large power of two (2 KiB for the 512 columns of a forward block, 64 KiB for the Sudoku
// batch's [g; u]) puts a panel's rows in a few cache sets, which evict each other: the product
// y = W_down p ran 1.5-2x slower from p at a 512- or 1024-float stride than at 16 floats more
// (BENCHMARKS.md, "Padded strides in the token-MLP").
int64_t padded_ld(int64_t cols) {
  const int64_t lines = (cols + 15) / 16;
  return 16 * (lines % 2 == 0 ? lines + 1 : lines);
}

// The bytes of [g; u] one thread computes at a time in the fused token-MLP forward: with the
// block's p (half as much) it stays in the core's L2 cache (2 MiB per core on this machine's
// Xeon; smaller caches only lose some of the gain).
constexpr int64_t kColumnBlockBytes = int64_t{2} << 20;

// Whether the token-MLP node can run by blocks of columns: oneDNN is the backend, float32 CPU
// tensors of matching shapes, contiguous, and not called from inside a parallel region (the
// blocks use the threads themselves).
bool cols_fusable(const at::Tensor& x, const at::Tensor& w_gu, const at::Tensor& w_down) {
  const int64_t h = x.size(0), m = x.size(1), i = w_down.size(1);
  return raw_sgemm_available() && !at::in_parallel_region() && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat && w_gu.scalar_type() == at::kFloat &&
         w_down.scalar_type() == at::kFloat && x.is_contiguous() && w_gu.is_contiguous() &&
         w_down.is_contiguous() && w_gu.size(0) == 2 * i && w_gu.size(1) == h &&
         w_down.size(0) == h && m > 0 && h > 0 && i > 0;
}

// The token-MLP forward, y = W_down (silu(g) * u) with [g; u] = W_gate_up x, x [h, M]: fused per
// block of columns where oneDNN is the backend. Each thread takes blocks of x's columns and runs
// the three steps on one block at a time: [g; u] for the block (into a buffer of its own, or into
// *gate_up when the backward needs it), p, and the block's columns of y, so that p and the block's
// [g; u] never leave the cache. Unfused, the 64 MiB [g; u] of the Sudoku config at batch 32 goes
// to memory and is read back, and so is p: with K = h = 97 the products are bound by that traffic.
// Each column of y is the same sums as unfused, so the two paths agree to float32 rounding (on
// this machine bit for bit; ctest -R SwiGluFused).
// Elsewhere (at::mm backend, CUDA, bfloat16, strided operands): the three steps on whole tensors.
at::Tensor cols_forward(const at::Tensor& x, const at::Tensor& w_gu, const at::Tensor& w_down,
                        at::Tensor* gate_up) {
  const int64_t h = x.size(0), m = x.size(1), i = w_down.size(1);
  if (!cols_fusable(x, w_gu, w_down)) {
    auto gu = gemm(w_gu, x);
    auto y = gemm(w_down, product(gu, 0));
    if (gate_up != nullptr) *gate_up = std::move(gu);
    return y;
  }
  RECORD_FUNCTION("trm::swiglu_cols_fused", std::vector<c10::IValue>({x, w_gu, w_down}));
  const int64_t width =
      std::max<int64_t>(16, kColumnBlockBytes / (2 * i * int64_t{sizeof(float)}) / 16 * 16);
  const int64_t blocks = (m + width - 1) / width;
  auto y = at::empty({h, m}, x.options());
  // The kept [g; u] is a [2i, M] view of rows padded_ld(M) apart (the backward reads it so).
  const int64_t ld_kept = padded_ld(m);
  if (gate_up != nullptr) *gate_up = at::empty({2 * i, ld_kept}, x.options()).narrow(1, 0, m);
  const float* xs = x.data_ptr<float>();
  const float* wgu = w_gu.data_ptr<float>();
  const float* wd = w_down.data_ptr<float>();
  float* ys = y.data_ptr<float>();
  float* kept = gate_up != nullptr ? gate_up->data_ptr<float>() : nullptr;
  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    const int64_t ld_block = padded_ld(std::min(width, m));
    auto gu_buffer = kept != nullptr ? at::Tensor() : at::empty({2 * i * ld_block}, x.options());
    auto p_buffer = at::empty({i * ld_block}, x.options());
    float* p = p_buffer.data_ptr<float>();
    for (int64_t b = first; b < last; ++b) {
      const int64_t c0 = b * width, w = std::min(width, m - c0);
      float* gu = kept != nullptr ? kept + c0 : gu_buffer.data_ptr<float>();
      const int64_t ld = kept != nullptr ? ld_kept : ld_block;
      raw_sgemm('N', 'N', 2 * i, w, h, wgu, h, xs + c0, m, gu, ld);
      swiglu_forward(gu, p, SwiGluLayout{i, w, ld, i * ld, ld_block});
      raw_sgemm('N', 'N', h, w, i, wd, i, p, ld_block, ys + c0, m);
    }
  });
  return y;
}

// The backward's blocks are twice as wide: its products by blocks include the two weight
// gradients, whose reduction runs over the block's columns. On the Sudoku config's backward,
// blocks of 512-2048 columns ran 1.20-1.31x faster than unfused and 4096 only 1.05x
// (BENCHMARKS.md).
constexpr int64_t kBackwardBlockBytes = int64_t{4} << 20;

// The token-MLP backward by blocks of columns, as cols_forward: for each block dp = W_down^T dy,
// then dg, du and p (one pass), then the block's columns of dx = W_gate_up^T [dg; du], and the
// block's share of the two weight gradients, [dg; du] x^T and dy p^T, added into a partial sum
// of the thread's own. The partial sums are added in thread order, so a run with the same number
// of threads gets the same gradients every time. Unfused, [dg; du] (64 MiB at the Sudoku
// config's batch 32), p and dp each go to memory and are read back.
torch::autograd::variable_list cols_backward_fused(const at::Tensor& x, const at::Tensor& gate_up,
                                                   const at::Tensor& w_gu, const at::Tensor& w_down,
                                                   const at::Tensor& dy_in) {
  RECORD_FUNCTION("trm::swiglu_cols_fused_backward", std::vector<c10::IValue>({x, w_gu, w_down}));
  const at::Tensor dy = dy_in.contiguous();
  const int64_t h = x.size(0), m = x.size(1), i = w_down.size(1);
  const int64_t width =
      std::max<int64_t>(16, kBackwardBlockBytes / (2 * i * int64_t{sizeof(float)}) / 16 * 16);
  const int64_t blocks = (m + width - 1) / width;
  const int threads = at::get_num_threads();
  auto dx = at::empty({h, m}, x.options());
  auto partial_gu = at::empty({threads, 2 * i, h}, x.options());
  auto partial_down = at::empty({threads, h, i}, x.options());
  std::vector<char> used(static_cast<size_t>(threads), 0);
  const float* xs = x.data_ptr<float>();
  const float* gus = gate_up.data_ptr<float>();
  const int64_t ld_gu = gate_up.stride(0);
  const float* wgu = w_gu.data_ptr<float>();
  const float* wd = w_down.data_ptr<float>();
  const float* dys = dy.data_ptr<float>();
  float* dxs = dx.data_ptr<float>();
  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    const auto t = static_cast<size_t>(at::get_thread_num());
    const int64_t ld = padded_ld(std::min(width, m));
    auto buffer = at::empty({4 * i * ld}, x.options());
    float* dp = buffer.data_ptr<float>();
    float* p = dp + i * ld;
    float* dgu = p + i * ld;
    float* acc_gu = partial_gu[static_cast<int64_t>(t)].data_ptr<float>();
    float* acc_down = partial_down[static_cast<int64_t>(t)].data_ptr<float>();
    for (int64_t b = first; b < last; ++b) {
      const int64_t c0 = b * width, w = std::min(width, m - c0);
      const bool accumulate = used[t] != 0;  // onto this thread's earlier blocks
      raw_sgemm('T', 'N', i, w, h, wd, i, dys + c0, m, dp, ld);
      SwiGluLayout l{i, w, ld_gu, i * ld_gu, ld};
      l.ld_dgu = ld;
      l.dgu_u_offset = i * ld;
      swiglu_backward(gus + c0, dp, dgu, p, l);
      raw_sgemm('T', 'N', h, w, 2 * i, wgu, h, dgu, ld, dxs + c0, m);
      raw_sgemm('N', 'T', 2 * i, h, w, dgu, ld, xs + c0, m, acc_gu, h, accumulate);
      raw_sgemm('N', 'T', h, i, w, dys + c0, m, p, ld, acc_down, i, accumulate);
      used[t] = 1;
    }
  });
  at::Tensor d_gu, d_down;
  for (int t = 0; t < threads; ++t) {
    if (!used[static_cast<size_t>(t)]) continue;
    if (!d_gu.defined()) {
      d_gu = partial_gu[t].clone();
      d_down = partial_down[t].clone();
    } else {
      d_gu.add_(partial_gu[t]);
      d_down.add_(partial_down[t]);
    }
  }
  return {dx, d_gu, d_down};
}

struct SwiGluCols : public torch::autograd::Function<SwiGluCols> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w_gu,
                            const at::Tensor& w_down) {
    at::Tensor gate_up;
    auto y = cols_forward(x, w_gu, w_down, &gate_up);
    ctx->save_for_backward({x, gate_up, w_gu, w_down});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gate_up = saved[1], &w_gu = saved[2], &w_down = saved[3];
    const auto& dy = grads[0];
    if (cols_fusable(x, w_gu, w_down) && gate_up.stride(1) == 1 &&
        gate_up.stride(0) >= gate_up.size(1) && dy.scalar_type() == at::kFloat &&
        dy.device().is_cpu())
      return cols_backward_fused(x, gate_up, w_gu, w_down, dy);
    const auto dp = gemm(w_down.t(), dy);
    at::Tensor dgu;
    const auto p = swiglu_pointwise(gate_up, 0, dp, &dgu);
    const auto d_down = gemm(dy, p.t());
    return {gemm(w_gu.t(), dgu), gemm(dgu, x.t()), d_down};
  }
};

}  // namespace

at::Tensor swiglu_rows(const at::Tensor& x, const at::Tensor& w_gate_up, const at::Tensor& w_down) {
  return SwiGluRows::apply(x, w_gate_up, w_down);
}

at::Tensor swiglu_cols(const at::Tensor& x, const at::Tensor& w_gate_up, const at::Tensor& w_down) {
  // The no-grad evaluations (all but the last of the T cycles) keep nothing for a backward.
  if (!at::GradMode::is_enabled() ||
      !(x.requires_grad() || w_gate_up.requires_grad() || w_down.requires_grad()))
    return cols_forward(x, w_gate_up, w_down, nullptr);
  return SwiGluCols::apply(x, w_gate_up, w_down);
}

}  // namespace trm::core
