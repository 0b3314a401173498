#include "core/reasoning_module.h"

#include <string>

#include "core/add_rms_norm.h"

namespace trm::core {

BlockImpl::BlockImpl(const ModelConfig& c) : mixer_(c.mixer), eps_(c.rms_norm_eps) {
  switch (mixer_) {
    case TokenMixer::attention:
      self_attn_ = register_module("self_attn", Attention(c.hidden_size, c.num_heads));
      break;
    case TokenMixer::mlp:
      mlp_t_ = register_module("mlp_t", SwiGLU(c.total_len(), c.expansion));
      break;
  }
  mlp_ = register_module("mlp", SwiGLU(c.hidden_size, c.expansion));
}

at::Tensor BlockImpl::forward(const at::Tensor& h_in, const RopeTables& rope) {
  at::Tensor h;
  switch (mixer_) {
    case TokenMixer::attention:
      h = add_rms_norm(h_in, self_attn_(h_in, rope.cos, rope.sin), eps_, -1);
      break;
    case TokenMixer::mlp:
      // Mix positions per channel; the norm runs over the sequence axis here (§1.4). h is
      // sequence-major [S, B, D], so this is the reference's transpose / SwiGLU / RMSNorm /
      // transpose as two plain matrix products and a norm over axis 0, without copies.
      h = add_rms_norm(h_in, mlp_t_->forward_axis0(h_in), eps_, 0);
      break;
  }
  return add_rms_norm(h, mlp_(h), eps_, -1);
}

ReasoningModuleImpl::ReasoningModuleImpl(const ModelConfig& c) {
  // Children named layers.0, layers.1, ... as in the reference's state_dict.
  auto layers = register_module("layers", std::make_shared<torch::nn::Module>("layers"));
  for (int64_t i = 0; i < c.layers; ++i) {
    blocks_.push_back(layers->register_module(std::to_string(i), Block(c)));
  }
}

at::Tensor ReasoningModuleImpl::forward(const at::Tensor& state, const at::Tensor& injection,
                                        const RopeTables& rope) {
  auto h = injection.defined() ? state + injection : state;
  for (auto& block : blocks_) h = block(h, rope);
  return h;
}

}  // namespace trm::core
