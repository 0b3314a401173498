// The reference's building blocks (TRM-SPEC §1.3-§1.6): truncated LeCun init with the JAX
// correction, parameter-free RMSNorm, casted linear/embedding, SwiGLU, RoPE and attention.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace trm::core {

// Fills t with a normal truncated at +-2 underlying sigma whose *actual* std is `std` (JAX
// recipe, TRM-SPEC §1.6); std = 0 zeroes it. Samples in t's own dtype, as the reference.
void trunc_normal_(at::Tensor& t, double std);

// h * rsqrt(mean(h^2, axis dim) + eps), computed in float32, returned in h's dtype (§1.4).
at::Tensor rms_norm(const at::Tensor& h, double eps, int64_t dim = -1);

// Linear layer with float32 master weights cast to the input's dtype at each call (§1.8).
class CastedLinearImpl : public torch::nn::Module {
 public:
  CastedLinearImpl(int64_t in_features, int64_t out_features, bool bias);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight;  // [out, in], LeCun truncated normal
  at::Tensor bias;    // [out] zeros, or undefined
};
TORCH_MODULE(CastedLinear);

// Embedding table [num, dim] (std given), looked up in the forward dtype.
class CastedEmbeddingImpl : public torch::nn::Module {
 public:
  CastedEmbeddingImpl(int64_t num, int64_t dim, double init_std);
  at::Tensor forward(const at::Tensor& ids, at::ScalarType dtype);

  at::Tensor embedding_weight;  // reference name
};
TORCH_MODULE(CastedEmbedding);

// down(silu(gate) * up) with one fused gate|up projection (§1.4).
class SwiGLUImpl : public torch::nn::Module {
 public:
  SwiGLUImpl(int64_t hidden, double expansion);
  // Over the last axis of x [..., hidden].
  at::Tensor forward(const at::Tensor& x);
  // Over axis 0 of x [hidden, ...]: the same function as forward applied to every column, as
  // two plain matrix products W @ x (the token-MLP on the sequence-major layout, no transposes).
  at::Tensor forward_axis0(const at::Tensor& x);

 private:
  CastedLinear gate_up_proj_{nullptr};
  CastedLinear down_proj_{nullptr};
};
TORCH_MODULE(SwiGLU);

// cos/sin tables [L_total, head_dim] of RoPE, "rotate-half" layout (§1.3).
class RotaryEmbeddingImpl : public torch::nn::Module {
 public:
  RotaryEmbeddingImpl(int64_t head_dim, int64_t positions, double theta);
  at::Tensor cos_cached;
  at::Tensor sin_cached;
};
TORCH_MODULE(RotaryEmbedding);

// Non-causal multi-head attention, no mask, fused [q | k | v] projection, RoPE on q and k.
// softmax(q k^T / sqrt(d)) v over [..., S, d] tensors, no mask; the scores and the softmax in
// float32 whatever the dtype of q, k and v; the result in v's dtype.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t hidden, int64_t num_heads);
  // cos/sin undefined = no rotation.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

 private:
  int64_t num_heads_;
  int64_t head_dim_;
  CastedLinear qkv_proj_{nullptr};
  CastedLinear o_proj_{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace trm::core
