// SwiGLU as one autograd node: y = W_down (silu(g) * u), [g; u] = W_gate_up x. Autograd on the
// separate ops keeps x, [g; u], silu(g) and silu(g) * u for the backward; this node keeps only x
// and [g; u] and recomputes the rest, 45% less activation memory per TRM block (BENCHMARKS.md)
// for the same values. That is what lets back-propagation through n + 1 = 9 evaluations fit a
// 48 GB GPU at the paper's batch of 768, as it did for the authors (TRM-SPEC §8.3).
#pragma once

#include <ATen/core/Tensor.h>

namespace trm::core {

// Rows: x [N, h], w_gate_up [2i, h], w_down [h, i] -> [N, h] (the channel MLP).
at::Tensor swiglu_rows(const at::Tensor& x, const at::Tensor& w_gate_up, const at::Tensor& w_down);
// Columns: x [h, M], w_gate_up [2i, h], w_down [h, i] -> [h, M] (the token-MLP, sequence-major).
at::Tensor swiglu_cols(const at::Tensor& x, const at::Tensor& w_gate_up, const at::Tensor& w_down);

}  // namespace trm::core
