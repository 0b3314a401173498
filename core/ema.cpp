#include "core/ema.h"

#include <ATen/ATen.h>

namespace trm::core {

Ema::Ema(const TrmModel& model, double rate) : rate_(rate) {
  at::NoGradGuard no_grad;
  for (const auto& p : model->trainable_parameters()) shadow_.push_back(p.detach().clone());
}

void Ema::update(const TrmModel& model) {
  at::NoGradGuard no_grad;
  const auto params = model->trainable_parameters();
  for (size_t i = 0; i < params.size(); ++i) shadow_[i].lerp_(params[i].detach(), 1.0 - rate_);
}

Ema::Applied::Applied(Ema& ema, TrmModel model) : ema_(ema), model_(std::move(model)) { swap(); }

Ema::Applied::~Applied() { swap(); }

void Ema::Applied::swap() {
  at::NoGradGuard no_grad;
  const auto params = model_->trainable_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    auto held = params[i].detach().clone();
    params[i].detach().copy_(ema_.shadow_[i]);
    ema_.shadow_[i].copy_(held);
  }
}

}  // namespace trm::core
