#include "core/layers.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/config.h"
#include "core/matmul_function.h"
#include "core/swiglu_function.h"

namespace trm::core {

void trunc_normal_(at::Tensor& t, double std) {
  at::NoGradGuard no_grad;
  if (std == 0.0) {
    t.zero_();
    return;
  }
  // Truncate at [-2, 2] underlying sigmas and rescale so the truncated law has the target std.
  constexpr double lower = -2.0, upper = 2.0;
  const double sqrt2 = std::sqrt(2.0);
  const double a = std::erf(lower / sqrt2), b = std::erf(upper / sqrt2);
  const double z = (b - a) / 2.0;
  const double c = 1.0 / std::sqrt(2.0 * M_PI);
  const double pdf_u = c * std::exp(-0.5 * lower * lower);
  const double pdf_l = c * std::exp(-0.5 * upper * upper);
  const double comp_std =
      std / std::sqrt(1.0 - (upper * pdf_u - lower * pdf_l) / z - std::pow((pdf_u - pdf_l) / z, 2));
  // In the tensor's own dtype, as the reference: the y/z init vectors are bfloat16 buffers under
  // a bfloat16 forward, and bfloat16 draws give other values than float32 draws rounded.
  t.uniform_(a, b).erfinv_().mul_(sqrt2 * comp_std).clamp_(lower * comp_std, upper * comp_std);
}

at::Tensor rms_norm(const at::Tensor& h, double eps, int64_t dim) {
  const auto h32 = h.to(at::kFloat);
  const auto variance = h32.square().mean(dim, /*keepdim=*/true);
  return (h32 * at::rsqrt(variance + eps)).to(h.scalar_type());
}

CastedLinearImpl::CastedLinearImpl(int64_t in_features, int64_t out_features, bool bias_on) {
  weight = at::empty({out_features, in_features});
  trunc_normal_(weight, 1.0 / std::sqrt(static_cast<double>(in_features)));
  weight = register_parameter("weight", weight);
  if (bias_on) bias = register_parameter("bias", at::zeros({out_features}));
}

at::Tensor CastedLinearImpl::forward(const at::Tensor& x) {
  const auto w = weight.to(x.scalar_type());
  return dense(x, w, bias.defined() ? bias.to(x.scalar_type()) : at::Tensor());
}

CastedEmbeddingImpl::CastedEmbeddingImpl(int64_t num, int64_t dim, double init_std) {
  embedding_weight = at::empty({num, dim});
  trunc_normal_(embedding_weight, init_std);
  embedding_weight = register_parameter("embedding_weight", embedding_weight);
}

at::Tensor CastedEmbeddingImpl::forward(const at::Tensor& ids, at::ScalarType dtype) {
  return at::embedding(embedding_weight.to(dtype), ids.to(at::kLong));
}

SwiGLUImpl::SwiGLUImpl(int64_t hidden, double expansion) {
  const int64_t inter = swiglu_inter(hidden, expansion);
  gate_up_proj_ = register_module("gate_up_proj", CastedLinear(hidden, 2 * inter, false));
  down_proj_ = register_module("down_proj", CastedLinear(inter, hidden, false));
}

at::Tensor SwiGLUImpl::forward(const at::Tensor& x) {
  const auto dtype = x.scalar_type();
  const auto rows = x.reshape({-1, x.size(-1)});
  return swiglu_rows(rows, gate_up_proj_->weight.to(dtype), down_proj_->weight.to(dtype))
      .view(x.sizes());
}

at::Tensor SwiGLUImpl::forward_axis0(const at::Tensor& x) {
  const auto dtype = x.scalar_type();
  const auto columns = x.reshape({x.size(0), -1});
  return swiglu_cols(columns, gate_up_proj_->weight.to(dtype), down_proj_->weight.to(dtype))
      .view(x.sizes());
}

RotaryEmbeddingImpl::RotaryEmbeddingImpl(int64_t head_dim, int64_t positions, double theta) {
  const auto inv_freq =
      1.0 / at::pow(theta, at::arange(0, head_dim, 2, at::kFloat) / static_cast<double>(head_dim));
  const auto t = at::arange(positions, at::kFloat);
  const auto freqs = at::outer(t, inv_freq);
  const auto emb = at::cat({freqs, freqs}, -1);
  cos_cached = register_buffer("cos_cached", emb.cos());
  sin_cached = register_buffer("sin_cached", emb.sin());
}

namespace {

// (-b, a) for a head vector split into halves (a, b).
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

// q' = q cos + rot(q) sin in the tables' dtype (float32), back to q's dtype (§1.3).
at::Tensor apply_rope(const at::Tensor& q, const at::Tensor& cos, const at::Tensor& sin) {
  const auto q32 = q.to(cos.scalar_type());
  return (q32 * cos.unsqueeze(-2) + rotate_half(q32) * sin.unsqueeze(-2)).to(q.scalar_type());
}

}  // namespace

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v) {
  // The scores and the softmax are float32 whatever the dtype of q, k and v, as in the fused
  // attention kernels the reference's scaled_dot_product_attention runs in bfloat16 on a GPU:
  // scores rounded to bfloat16 (8 bits) before the softmax move its probabilities by several
  // percent once they reach a few tens.
  const auto scores = batched_matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(-2, -1)) /
                      std::sqrt(static_cast<double>(q.size(-1)));
  const auto probs = at::softmax(scores, -1, at::kFloat).to(v.scalar_type());
  return batched_matmul(probs, v);
}

AttentionImpl::AttentionImpl(int64_t hidden, int64_t num_heads)
    : num_heads_(num_heads), head_dim_(hidden / num_heads) {
  qkv_proj_ = register_module("qkv_proj", CastedLinear(hidden, 3 * hidden, false));
  o_proj_ = register_module("o_proj", CastedLinear(hidden, hidden, false));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos,
                                  const at::Tensor& sin) {
  const int64_t B = x.size(0), S = x.size(1);
  const auto qkv = qkv_proj_(x).view({B, S, 3 * num_heads_, head_dim_});
  auto q = qkv.slice(2, 0, num_heads_);
  auto k = qkv.slice(2, num_heads_, 2 * num_heads_);
  auto v = qkv.slice(2, 2 * num_heads_);
  if (cos.defined()) {
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
  }
  // [B, S, H, d] -> [B, H, S, d] and back.
  const auto out =
      scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
          .transpose(1, 2)
          .reshape({B, S, num_heads_ * head_dim_});
  return o_proj_(out);
}

}  // namespace trm::core
