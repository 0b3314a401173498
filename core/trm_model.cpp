#include "core/trm_model.h"

#include <ATen/ATen.h>

#include <cmath>

namespace trm::core {

PuzzleEmbeddingImpl::PuzzleEmbeddingImpl(int64_t num_ids, int64_t dim) {
  weights = register_buffer("weights", at::zeros({num_ids, dim}));
}

at::Tensor PuzzleEmbeddingImpl::forward(const at::Tensor& ids, at::ScalarType dtype) {
  const auto long_ids = ids.to(at::kLong);
  // No-grad passes (eval, the ACT target pass) must not replace the leaf of the graded pass.
  if (!is_training() || !at::GradMode::is_enabled()) {
    return weights.index_select(0, long_ids).to(dtype);
  }
  {
    at::NoGradGuard no_grad;
    local_weights = weights.index_select(0, long_ids);
    local_ids = long_ids.clone();
  }
  local_weights.requires_grad_(true);
  return local_weights.to(dtype);
}

TrmModelImpl::TrmModelImpl(const ModelConfig& config, at::ScalarType forward_dtype)
    : config_(config), dtype_(forward_dtype) {
  validate(config_);
  const int64_t D = config_.hidden_size;
  const double embed_std = 1.0 / std::sqrt(static_cast<double>(D));
  // Registration order follows the reference constructor, so parameters come out in its order.
  embed_tokens_ = register_module("embed_tokens", CastedEmbedding(config_.vocab_size, D, embed_std));
  lm_head_ = register_module("lm_head", CastedLinear(D, config_.vocab_size, false));
  q_head_ = register_module("q_head", CastedLinear(D, 2, true));
  if (config_.puzzle_emb_ndim > 0) {
    puzzle_emb_ = register_module(
        "puzzle_emb", PuzzleEmbedding(config_.num_puzzle_identifiers, config_.puzzle_emb_ndim));
  }
  if (config_.pos_encodings == PosEncoding::rope) {
    rotary_emb_ = register_module(
        "rotary_emb", RotaryEmbedding(config_.head_dim(), config_.total_len(), config_.rope_theta));
  } else if (config_.pos_encodings == PosEncoding::learned) {
    embed_pos_ = register_module("embed_pos", CastedEmbedding(config_.total_len(), D, embed_std));
  }
  if (config_.networks == Networks::separate) {
    h_level_ = register_module("H_level", ReasoningModule(config_));
  }
  l_level_ = register_module("L_level", ReasoningModule(config_));

  // Fixed init vectors of y and z: truncated normal, std 1, stored in the forward dtype (§1.6).
  if (config_.latent != Latent::single_z) {
    h_init_ = at::empty({D}, at::TensorOptions().dtype(dtype_));
    trunc_normal_(h_init_, 1.0);
    h_init_ = register_buffer("H_init", h_init_);
  }
  l_init_ = config_.latent == Latent::multiscale_z
                ? at::empty({kMultiscaleLatents, D}, at::TensorOptions().dtype(dtype_))
                : at::empty({D}, at::TensorOptions().dtype(dtype_));
  trunc_normal_(l_init_, 1.0);
  l_init_ = register_buffer("L_init", l_init_);

  // Q head starts at weight 0, bias -5: nothing halts early (§1.6).
  at::NoGradGuard no_grad;
  q_head_->weight.zero_();
  q_head_->bias.fill_(-5.0);
}

at::Tensor TrmModelImpl::input_embeddings(const at::Tensor& inputs, const at::Tensor& puzzle_ids) {
  const int64_t D = config_.hidden_size;
  auto embedding = embed_tokens_(inputs, dtype_);
  if (has_puzzle_emb()) {
    // The puzzle vector right-padded with zeros to prefix_len * D positions (§1.1).
    auto prefix = puzzle_emb_(puzzle_ids, dtype_);
    const int64_t pad = config_.prefix_len() * D - prefix.size(-1);
    if (pad > 0) prefix = at::constant_pad_nd(prefix, {0, pad});
    embedding = at::cat({prefix.view({-1, config_.prefix_len(), D}), embedding}, -2);
  }
  if (!embed_pos_.is_empty()) {
    embedding = 0.707106781 * (embedding + embed_pos_->embedding_weight.to(dtype_));
  }
  return std::sqrt(static_cast<double>(D)) * embedding;
}

Latents TrmModelImpl::initial_latents(int64_t batch_size) const {
  const std::vector<int64_t> shape{batch_size, config_.total_len(), config_.hidden_size};
  Latents out;
  switch (config_.latent) {
    case Latent::yz:
      out.states = {h_init_.expand(shape), l_init_.expand(shape)};
      break;
    case Latent::single_z:
      out.states = {l_init_.expand(shape)};
      break;
    case Latent::multiscale_z:
      out.states = {h_init_.expand(shape)};
      for (int64_t i = 0; i < kMultiscaleLatents; ++i) out.states.push_back(l_init_[i].expand(shape));
      break;
  }
  return out;
}

Latents TrmModelImpl::reset_latents(const at::Tensor& reset, const Latents& latents) const {
  const auto fresh = initial_latents(reset.size(0));
  const auto mask = reset.to(at::kBool).view({-1, 1, 1});
  Latents out;
  for (size_t i = 0; i < fresh.states.size(); ++i) {
    out.states.push_back(latents.states.size() == fresh.states.size() && latents.states[i].defined()
                             ? at::where(mask, fresh.states[i], latents.states[i])
                             : fresh.states[i].contiguous());
  }
  return out;
}

void TrmModelImpl::update_z(Latents& s, int64_t i, const at::Tensor& x, const RopeTables& rope) {
  auto& st = s.states;
  switch (config_.latent) {
    case Latent::yz:  // z <- net(z + y + x)
      st[1] = l_level_(st[1], st[0] + x, rope);
      break;
    case Latent::single_z:  // z <- net(z + x)
      st[0] = l_level_(st[0], x, rope);
      break;
    case Latent::multiscale_z: {  // z_i <- net(sum_j z_j + y + x)
      auto sum_z = st[1];
      for (int64_t j = 2; j <= kMultiscaleLatents; ++j) sum_z = sum_z + st[j];
      st[1 + i] = l_level_(sum_z, st[0] + x, rope);
      break;
    }
  }
}

void TrmModelImpl::update_y(Latents& s, const RopeTables& rope) {
  auto& st = s.states;
  switch (config_.latent) {
    case Latent::yz:  // y <- net(y + z)
      st[0] = y_net()(st[0], st[1], rope);
      break;
    case Latent::single_z:  // z <- net(z), no x
      st[0] = l_level_(st[0], at::Tensor(), rope);
      break;
    case Latent::multiscale_z: {  // y <- net(y + sum_j z_j)
      auto sum_z = st[1];
      for (int64_t j = 2; j <= kMultiscaleLatents; ++j) sum_z = sum_z + st[j];
      st[0] = y_net()(st[0], sum_z, rope);
      break;
    }
  }
}

void TrmModelImpl::recurse(Latents& s, const at::Tensor& x, const RopeTables& rope) {
  // T-1 rounds without gradient, then one with (§2.1). The 1-step gradient (§2.2: HRM and the
  // TRM ablation) keeps the gradient on the last z-update and the y-update only.
  const bool grad_wanted = at::GradMode::is_enabled();
  const int64_t T = config_.h_cycles, n = config_.l_cycles;
  for (int64_t t = 0; t < T; ++t) {
    const bool last_round = t == T - 1;
    for (int64_t i = 0; i < n; ++i) {
      const bool graded = last_round && (config_.gradient == GradientMode::full || i == n - 1);
      at::AutoGradMode mode(grad_wanted && graded);
      update_z(s, i, x, rope);
    }
    at::AutoGradMode mode(grad_wanted && last_round);
    update_y(s, rope);
  }
}

StepLogits TrmModelImpl::forward(Latents& latents, const at::Tensor& inputs,
                                 const at::Tensor& puzzle_ids) {
  const auto x = input_embeddings(inputs, puzzle_ids);
  const RopeTables rope = rope_tables();
  Latents s;
  for (const auto& state : latents.states) s.states.push_back(to_network_layout(state));
  recurse(s, to_network_layout(x), rope);
  const auto y = from_network_layout(s.states[0]);
  StepLogits out;
  out.logits = lm_head_(y).slice(1, config_.prefix_len());
  const auto q = q_head_(y.select(1, 0)).to(at::kFloat);
  out.q_halt = q.select(-1, 0);
  out.q_continue = q.select(-1, 1);
  latents.states[0] = y.detach();
  for (size_t i = 1; i < s.states.size(); ++i) {
    latents.states[i] = from_network_layout(s.states[i].detach());
  }
  return out;
}

at::Tensor TrmModelImpl::to_network_layout(const at::Tensor& bsd) const {
  return config_.mixer == TokenMixer::mlp ? bsd.transpose(0, 1).contiguous() : bsd;
}

at::Tensor TrmModelImpl::from_network_layout(const at::Tensor& h) const {
  return config_.mixer == TokenMixer::mlp ? h.transpose(0, 1).contiguous() : h;
}

RopeTables TrmModelImpl::rope_tables() const {
  if (rotary_emb_.is_empty()) return {};
  return {rotary_emb_->cos_cached, rotary_emb_->sin_cached};
}

std::vector<at::Tensor> TrmModelImpl::trainable_parameters() const {
  return parameters(/*recurse=*/true);
}

int64_t TrmModelImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : trainable_parameters()) n += p.numel();
  return n;
}

at::ScalarType resolve_forward_dtype(const ModelConfig& c, const c10::Device& device) {
  switch (c.forward_dtype) {
    case ForwardDtype::float32:
      return at::kFloat;
    case ForwardDtype::bfloat16:
      return at::kBFloat16;
    case ForwardDtype::auto_:
      return device.is_cuda() ? at::kBFloat16 : at::kFloat;
  }
  return at::kFloat;
}

TrmModel make_model(const ModelConfig& c, const c10::Device& device) {
  TrmModel model(c, resolve_forward_dtype(c, device));
  model->to(device);
  return model;
}

}  // namespace trm::core
