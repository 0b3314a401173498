// The Tiny Recursive Model: input embedding with the puzzle prefix, the recursion of one
// supervision step (TRM, 1-step gradient, HRM, single and multi-scale z), and the LM and Q heads
// (TRM-SPEC §1-§2). Every ablation axis is a ModelConfig field switched here, in one place.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "core/config.h"
#include "core/layers.h"
#include "core/reasoning_module.h"

namespace trm::core {

// The states carried across supervision steps, each [B, L_total, D] in the forward dtype.
// latent = yz: {y, z}; single_z: {z}; multiscale_z: {y, z_1 .. z_6}. states[0] is decoded.
struct Latents {
  std::vector<at::Tensor> states;
};

// Outputs of one supervision step.
struct StepLogits {
  at::Tensor logits;      // [B, seq_len, vocab], forward dtype, prefix dropped
  at::Tensor q_halt;      // [B] float32
  at::Tensor q_continue;  // [B] float32
};

// The per-puzzle embedding table: a float32 buffer trained by sign-SGD, not by AdamATan2 (§1.2).
class PuzzleEmbeddingImpl : public torch::nn::Module {
 public:
  PuzzleEmbeddingImpl(int64_t num_ids, int64_t dim);
  // Training: rows copied into a leaf that collects the gradient; eval: a plain gather.
  at::Tensor forward(const at::Tensor& ids, at::ScalarType dtype);

  at::Tensor weights;        // [num_ids, dim], zeros at init (reference name)
  at::Tensor local_weights;  // rows of the last training forward, requires grad
  at::Tensor local_ids;      // their ids
};
TORCH_MODULE(PuzzleEmbedding);

class TrmModelImpl : public torch::nn::Module {
 public:
  // Weights in float32 on the CPU; `forward_dtype` is the resolved activation dtype.
  TrmModelImpl(const ModelConfig& config, at::ScalarType forward_dtype);

  const ModelConfig& config() const { return config_; }
  at::ScalarType forward_dtype() const { return dtype_; }

  // sqrt(D) * [puzzle prefix ; token embeddings] (+ learned positions), [B, L_total, D] (§1.1).
  at::Tensor input_embeddings(const at::Tensor& inputs, const at::Tensor& puzzle_ids);
  // Fresh states (the fixed init vectors broadcast) for a batch of B slots.
  Latents initial_latents(int64_t batch_size) const;
  // Rows where reset[b] is true restart from the init vectors; the others keep theirs.
  Latents reset_latents(const at::Tensor& reset, const Latents& latents) const;
  // One supervision step (§2): updates `latents` in place (detached) and returns the heads.
  StepLogits forward(Latents& latents, const at::Tensor& inputs, const at::Tensor& puzzle_ids);

  // The layout the networks run in: the token-MLP runs sequence-major [S, B, D] (its position
  // mixing is then one plain matrix product), attention batch-major [B, S, D]. Converted once per
  // supervision step; everything outside the recursion is [B, S, D].
  at::Tensor to_network_layout(const at::Tensor& bsd) const;
  at::Tensor from_network_layout(const at::Tensor& h) const;

  // Trainable parameters (those AdamATan2 and EMA see) and their count (§1.8 table).
  std::vector<at::Tensor> trainable_parameters() const;
  int64_t parameter_count() const;
  PuzzleEmbedding& puzzle_emb() { return puzzle_emb_; }
  ReasoningModule& l_level() { return l_level_; }
  RopeTables rope_tables() const;
  bool has_puzzle_emb() const { return !puzzle_emb_.is_empty(); }

 private:
  void recurse(Latents& latents, const at::Tensor& x, const RopeTables& rope);
  void update_z(Latents& s, int64_t i, const at::Tensor& x, const RopeTables& rope);
  void update_y(Latents& s, const RopeTables& rope);
  ReasoningModule& y_net() { return h_level_.is_empty() ? l_level_ : h_level_; }

  ModelConfig config_;
  at::ScalarType dtype_;
  CastedEmbedding embed_tokens_{nullptr};
  CastedEmbedding embed_pos_{nullptr};
  PuzzleEmbedding puzzle_emb_{nullptr};
  RotaryEmbedding rotary_emb_{nullptr};
  ReasoningModule l_level_{nullptr};  // the net (z-updates; also y-updates when shared)
  ReasoningModule h_level_{nullptr};  // y-updates when networks = separate
  CastedLinear lm_head_{nullptr};
  CastedLinear q_head_{nullptr};
  at::Tensor h_init_;  // [D] fixed init of y (reference H_init)
  at::Tensor l_init_;  // [D] fixed init of z, or [6, D] for multi-scale z (reference L_init)
};
TORCH_MODULE(TrmModel);

// The activation dtype a config resolves to on a device (auto: bfloat16 on CUDA, else float32).
at::ScalarType resolve_forward_dtype(const ModelConfig& c, const c10::Device& device);
// Validates the config, builds the model, moves it to the device.
TrmModel make_model(const ModelConfig& c, const c10::Device& device);

}  // namespace trm::core
