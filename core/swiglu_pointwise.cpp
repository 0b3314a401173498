#include "core/swiglu_pointwise.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <bit>
#include <cstdint>

namespace trm::core {

namespace {

// exp(x) for the sigmoid, written so that `omp simd` vectorises it (no libm call): Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial for e^r (within 2 ulp of
// expf), and 2^n put in the exponent bits. x is clamped to [-87, 89] first: e^-87 = 1.6e-38 is
// still a normal float (the sigmoid is 1 to float precision long before), and from x = 88.4 on
// n = 128 makes 2^n the bits of +inf, so the sigmoid of a very negative input is exactly 0, as
// ATen's (between 88.4 and 88.7, where e^x is still finite, that rounds 3e-39 down to 0).
#pragma omp declare simd
inline float exp_approx(float x) {
  x = __builtin_fminf(__builtin_fmaxf(x, -87.0f), 89.0f);
  // Round to nearest by the 1.5 * 2^23 trick (exact for |x log2 e| < 2^22).
  const float shifter = 12582912.0f;
  const float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  const float e = q * r * r + r + 1.0f;
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  return e * std::bit_cast<float>(bits);
}

// Elements a task takes: large enough that the thread pool's hand-off is noise (~50 µs of work).
constexpr int64_t kGrain = 1 << 15;

// Runs body(row, begin, end) over `l`'s elements in parallel, a row segment at a time.
template <typename Body>
void for_each_segment(const SwiGluLayout& l, const Body& body) {
  if (l.rows <= 0 || l.len <= 0) return;
  at::parallel_for(0, l.rows * l.len, kGrain, [&](int64_t begin, int64_t end) {
    int64_t r = begin / l.len, c = begin % l.len;
    while (begin < end) {
      const int64_t stop = std::min(l.len, c + (end - begin));
      body(r, c, stop);
      begin += stop - c;
      ++r;
      c = 0;
    }
  });
}

// Built for AVX-512 and for x86-64-v3 (AVX2 with FMA) too, chosen at load time by the CPU (GCC
// function multi-versioning); the loops are vectorised by `omp simd` in each version. A plain
// "avx2" clone has no FMA: on an AVX2-only CPU the v3 clone runs both kernels 1.4-1.6x faster
// (BENCHMARKS.md, "FMA in the SwiGLU kernels").
__attribute__((target_clones("avx512f", "arch=x86-64-v3", "default"))) void forward_segment(
    const float* g, const float* u, float* p, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const float s = 1.0f / (1.0f + exp_approx(-g[j]));
    p[j] = g[j] * s * u[j];
  }
}

__attribute__((target_clones("avx512f", "arch=x86-64-v3", "default"))) void backward_segment(
    const float* g, const float* u, const float* dp, float* dg, float* du, float* p, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const float x = g[j];
    const float s = 1.0f / (1.0f + exp_approx(-x));
    const float silu = x * s;
    const float d = dp[j];
    // d silu / dx = s (1 + x (1 - s)), as ATen's silu_backward.
    dg[j] = d * u[j] * (s * (1.0f + x * (1.0f - s)));
    du[j] = d * silu;
    p[j] = silu * u[j];
  }
}

}  // namespace

void swiglu_forward(const float* gu, float* p, const SwiGluLayout& l) {
  for_each_segment(l, [&](int64_t r, int64_t begin, int64_t end) {
    const float* g = gu + r * l.ld_gu;
    forward_segment(g + begin, g + l.u_offset + begin, p + r * l.ld_p + begin, end - begin);
  });
}

void swiglu_backward(const float* gu, const float* dp, float* dgu, float* p,
                     const SwiGluLayout& l) {
  const int64_t ld_dgu = l.ld_dgu >= 0 ? l.ld_dgu : l.ld_gu;
  const int64_t dgu_u_offset = l.dgu_u_offset >= 0 ? l.dgu_u_offset : l.u_offset;
  for_each_segment(l, [&](int64_t r, int64_t begin, int64_t end) {
    const float* g = gu + r * l.ld_gu;
    float* dg = dgu + r * ld_dgu;
    const int64_t o = r * l.ld_p + begin;
    backward_segment(g + begin, g + l.u_offset + begin, dp + o, dg + begin,
                     dg + dgu_u_offset + begin, p + o, end - begin);
  });
}

}  // namespace trm::core
