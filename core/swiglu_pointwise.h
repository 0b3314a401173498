// The pointwise half of SwiGLU on float32 CPU memory, one pass each way: p = silu(g) * u, and
// for the backward dg, du (and p again) from g, u and dp = dL/dp. ATen needs five passes over
// these tensors for the same (silu, the product, silu_backward, two products), each reading the
// activations back from memory: at the TRM's sizes (a [g; u] of 50-64 MiB) the pointwise work is
// bound by memory traffic, not arithmetic. BENCHMARKS.md "Fused SwiGLU pointwise" has the figures.
//
// The matrix: `rows` rows of `len` values; row r's g starts at gu + r * ld_gu, its u `u_offset`
// values further on; p's row r at p + r * ld_p, and dp's too. dg and du go to `dgu`, laid out as
// gu unless ld_dgu is set (then row r's dg at dgu + r * ld_dgu, its du dgu_u_offset further on).
#pragma once

#include <cstdint>

namespace trm::core {

struct SwiGluLayout {
  int64_t rows = 0, len = 0;
  int64_t ld_gu = 0, u_offset = 0, ld_p = 0;
  int64_t ld_dgu = -1, dgu_u_offset = -1;
};

// p = silu(g) * u.
void swiglu_forward(const float* gu, float* p, const SwiGluLayout& l);
// dg = dp * u * silu'(g), du = dp * silu(g) (into dgu, at gu's offsets), p = silu(g) * u.
void swiglu_backward(const float* gu, const float* dp, float* dgu, float* p, const SwiGluLayout& l);

}  // namespace trm::core
