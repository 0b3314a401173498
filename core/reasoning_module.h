// The tiny network: a stack of post-norm blocks whose token mixer is attention or the token-MLP,
// applied to state + injection (TRM-SPEC §1.4-§1.5).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "core/config.h"
#include "core/layers.h"

namespace trm::core {

// RoPE tables for one forward; both undefined when the model has no rotary encoding.
struct RopeTables {
  at::Tensor cos;
  at::Tensor sin;
};

// One post-norm block. Its input is [B, S, D] for attention and sequence-major [S, B, D] for the
// token-MLP (see TrmModelImpl::to_network_layout).
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& c);
  at::Tensor forward(const at::Tensor& h, const RopeTables& rope);

 private:
  TokenMixer mixer_;
  double eps_;
  Attention self_attn_{nullptr};  // mixer = attention
  SwiGLU mlp_t_{nullptr};         // mixer = mlp: SwiGLU over the L_total positions
  SwiGLU mlp_{nullptr};           // channel SwiGLU over D
};
TORCH_MODULE(Block);

class ReasoningModuleImpl : public torch::nn::Module {
 public:
  explicit ReasoningModuleImpl(const ModelConfig& c);
  // Adds the injection once, then runs the blocks (reference ReasoningModule); an undefined
  // injection adds nothing (the single-z variant's last update).
  at::Tensor forward(const at::Tensor& state, const at::Tensor& injection, const RopeTables& rope);
  Block& block(size_t i) { return blocks_.at(i); }

 private:
  std::vector<Block> blocks_;
};
TORCH_MODULE(ReasoningModule);

}  // namespace trm::core
