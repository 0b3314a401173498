#include "core/swiglu_function.h"

#include "core/gemm.h"
#include "core/swiglu_pointwise.h"

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <vector>

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
    const std::vector<int64_t> p_shape =
        axis == 1 ? std::vector<int64_t>{gate_up.size(0), i} : std::vector<int64_t>{i, gate_up.size(1)};
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

struct SwiGluCols : public torch::autograd::Function<SwiGluCols> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w_gu,
                            const at::Tensor& w_down) {
    const auto gate_up = gemm(w_gu, x);
    ctx->save_for_backward({x, gate_up, w_gu, w_down});
    return gemm(w_down, product(gate_up, 0));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gate_up = saved[1], &w_gu = saved[2], &w_down = saved[3];
    const auto& dy = grads[0];
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
  return SwiGluCols::apply(x, w_gate_up, w_down);
}

}  // namespace trm::core
