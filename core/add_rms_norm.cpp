#include "core/add_rms_norm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/layers.h"

namespace trm::core {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A [rows, cols] float32 matrix normalised along its rows (`over_rows` false: each row's cols
// values, the last axis) or down its columns (`over_rows` true: each column's rows values, axis 0).
struct Layout {
  int64_t rows = 0, cols = 0;
  bool over_rows = false;
  int64_t vectors() const { return over_rows ? cols : rows; }
  int64_t length() const { return over_rows ? rows : cols; }
};

Layout layout_of(const at::Tensor& t, int64_t dim) {
  Layout l;
  l.over_rows = dim == 0;
  l.rows = l.over_rows ? t.size(0) : t.numel() / t.size(-1);
  l.cols = l.over_rows ? t.numel() / t.size(0) : t.size(-1);
  return l;
}

constexpr int64_t kColumnBlock = 256;  // columns per task when normalising down the columns

// out = s * scale, scale = rsqrt(mean(s^2) + eps), s = x + y; `scale` gets one value a vector.
void forward_kernel(const float* x, const float* y, float* out, float* scale, const Layout& l,
                    float eps) {
  const float inv_n = 1.0f / static_cast<float>(l.length());
  if (!l.over_rows) {
    at::parallel_for(0, l.rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* a = x + r * l.cols;
        const float* b = y + r * l.cols;
        float* o = out + r * l.cols;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int64_t c = 0; c < l.cols; ++c) {
          const float s = a[c] + b[c];
          o[c] = s;
          ss += s * s;
        }
        const float k = 1.0f / std::sqrt(ss * inv_n + eps);
        scale[r] = k;
#pragma omp simd
        for (int64_t c = 0; c < l.cols; ++c) o[c] *= k;
      }
    });
    return;
  }
  at::parallel_for(0, l.cols, kColumnBlock, [&](int64_t begin, int64_t end) {
    const int64_t w = end - begin;
    std::vector<float> ss(static_cast<size_t>(w), 0.0f);
    float* acc = ss.data();
    for (int64_t r = 0; r < l.rows; ++r) {
      const float* a = x + r * l.cols + begin;
      const float* b = y + r * l.cols + begin;
      float* o = out + r * l.cols + begin;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) {
        const float s = a[c] + b[c];
        o[c] = s;
        acc[c] += s * s;
      }
    }
    for (int64_t c = 0; c < w; ++c) acc[c] = 1.0f / std::sqrt(acc[c] * inv_n + eps);
    std::copy(acc, acc + w, scale + begin);
    for (int64_t r = 0; r < l.rows; ++r) {
      float* o = out + r * l.cols + begin;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) o[c] *= acc[c];
    }
  });
}

// d(x + y) = scale * (g - out * mean(g * out)) along each normalised vector.
void backward_kernel(const float* g, const float* out, const float* scale, float* dx,
                     const Layout& l) {
  const float inv_n = 1.0f / static_cast<float>(l.length());
  if (!l.over_rows) {
    at::parallel_for(0, l.rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* gr = g + r * l.cols;
        const float* o = out + r * l.cols;
        float* d = dx + r * l.cols;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < l.cols; ++c) dot += gr[c] * o[c];
        const float m = dot * inv_n, k = scale[r];
#pragma omp simd
        for (int64_t c = 0; c < l.cols; ++c) d[c] = k * (gr[c] - o[c] * m);
      }
    });
    return;
  }
  at::parallel_for(0, l.cols, kColumnBlock, [&](int64_t begin, int64_t end) {
    const int64_t w = end - begin;
    std::vector<float> dots(static_cast<size_t>(w), 0.0f);
    float* acc = dots.data();
    for (int64_t r = 0; r < l.rows; ++r) {
      const float* gr = g + r * l.cols + begin;
      const float* o = out + r * l.cols + begin;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) acc[c] += gr[c] * o[c];
    }
    for (int64_t c = 0; c < w; ++c) acc[c] *= inv_n;
    const float* k = scale + begin;
    for (int64_t r = 0; r < l.rows; ++r) {
      const float* gr = g + r * l.cols + begin;
      const float* o = out + r * l.cols + begin;
      float* d = dx + r * l.cols + begin;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) d[c] = k[c] * (gr[c] - o[c] * acc[c]);
    }
  });
}

struct AddRmsNorm : public torch::autograd::Function<AddRmsNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& y,
                            double eps, int64_t dim) {
    RECORD_FUNCTION("trm::add_rms_norm", std::vector<c10::IValue>());  // for bench_model --ops
    const auto xc = x.contiguous(), yc = y.contiguous();
    const Layout l = layout_of(xc, dim);
    auto out = at::empty_like(xc, at::MemoryFormat::Contiguous);
    auto scale = at::empty({l.vectors()}, xc.options());
    forward_kernel(xc.data_ptr<float>(), yc.data_ptr<float>(), out.data_ptr<float>(),
                   scale.data_ptr<float>(), l, static_cast<float>(eps));
    ctx->save_for_backward({out, scale});
    ctx->saved_data["dim"] = dim;
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& out = saved[0];
    const auto& scale = saved[1];
    const auto g = grads[0].contiguous();
    const Layout l = layout_of(out, ctx->saved_data["dim"].toInt());
    auto dx = at::empty_like(out);
    backward_kernel(g.data_ptr<float>(), out.data_ptr<float>(), scale.data_ptr<float>(),
                    dx.data_ptr<float>(), l);
    return {dx, dx, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor add_rms_norm(const at::Tensor& x, const at::Tensor& y, double eps, int64_t dim) {
  const int64_t last = x.dim() - 1;
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  const bool fused = x.is_cpu() && y.is_cpu() && x.scalar_type() == at::kFloat &&
                     y.scalar_type() == at::kFloat && x.sizes() == y.sizes() && x.dim() >= 2 &&
                     (d == 0 || d == last);
  if (!fused) return rms_norm(x + y, eps, dim);
  return AddRmsNorm::apply(x, y, eps, d == last ? int64_t{-1} : int64_t{0});
}

}  // namespace trm::core
