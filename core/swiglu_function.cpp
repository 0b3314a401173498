#include "core/swiglu_function.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace trm::core {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// silu(g) * u, and with `dp` (the gradient of that product) also d[g; u] into *dgu, written in
// place into one [g; u]-shaped tensor. ATen's vectorised silu and silu_backward do the work; the
// product is recomputed here instead of being kept from the forward.
at::Tensor swiglu_pointwise(const at::Tensor& gate_up, int64_t axis, const at::Tensor& dp,
                            at::Tensor* dgu) {
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
    const auto gate_up = at::mm(x, w_gu.t());
    ctx->save_for_backward({x, gate_up, w_gu, w_down});
    return at::mm(product(gate_up, 1), w_down.t());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gate_up = saved[1], &w_gu = saved[2], &w_down = saved[3];
    const auto& dy = grads[0];
    const auto dp = at::mm(dy, w_down);
    at::Tensor dgu;
    const auto p = swiglu_pointwise(gate_up, 1, dp, &dgu);
    const auto d_down = at::mm(dy.t(), p);
    return {at::mm(dgu, w_gu), at::mm(dgu.t(), x), d_down};
  }
};

struct SwiGluCols : public torch::autograd::Function<SwiGluCols> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w_gu,
                            const at::Tensor& w_down) {
    const auto gate_up = at::mm(w_gu, x);
    ctx->save_for_backward({x, gate_up, w_gu, w_down});
    return at::mm(w_down, product(gate_up, 0));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gate_up = saved[1], &w_gu = saved[2], &w_down = saved[3];
    const auto& dy = grads[0];
    const auto dp = at::mm(w_down.t(), dy);
    at::Tensor dgu;
    const auto p = swiglu_pointwise(gate_up, 0, dp, &dgu);
    const auto d_down = at::mm(dy, p.t());
    return {at::mm(w_gu.t(), dgu), at::mm(dgu, x.t()), d_down};
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
