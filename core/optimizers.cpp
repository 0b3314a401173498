#include "core/optimizers.h"

#include <ATen/ATen.h>
#include <c10/util/irange.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace trm::core {

namespace {

std::string state_key(const at::Tensor& p) {
  return std::to_string(reinterpret_cast<uintptr_t>(p.unsafeGetTensorImpl()));
}

}  // namespace

AdamATan2::AdamATan2(std::vector<at::Tensor> params, AdamATan2Options options)
    : Optimizer({torch::optim::OptimizerParamGroup(std::move(params))},
                std::make_unique<AdamATan2Options>(options)) {
  TORCH_CHECK(options.lr() >= 0, "AdamATan2: lr must be >= 0, got ", options.lr());
  TORCH_CHECK(options.beta1() >= 0 && options.beta1() < 1, "AdamATan2: beta1 in [0, 1), got ",
              options.beta1());
  TORCH_CHECK(options.beta2() >= 0 && options.beta2() < 1, "AdamATan2: beta2 in [0, 1), got ",
              options.beta2());
}

AdamATan2ParamState* AdamATan2::state_of(const at::Tensor& param) {
  const auto it = state_.find(state_key(param));
  return it == state_.end() ? nullptr : static_cast<AdamATan2ParamState*>(it->second.get());
}

void AdamATan2::set_state_of(const at::Tensor& param, int64_t step, const at::Tensor& exp_avg,
                             const at::Tensor& exp_avg_sq) {
  TORCH_CHECK(exp_avg.sizes() == param.sizes() && exp_avg_sq.sizes() == param.sizes(),
              "AdamATan2 state of shape ", exp_avg.sizes(), " for a parameter of shape ",
              param.sizes());
  auto fresh = std::make_unique<AdamATan2ParamState>();
  fresh->step(step);
  fresh->exp_avg(exp_avg.to(param.options(), /*non_blocking=*/false, /*copy=*/true));
  fresh->exp_avg_sq(exp_avg_sq.to(param.options(), /*non_blocking=*/false, /*copy=*/true));
  state_[state_key(param)] = std::move(fresh);
}

at::Tensor AdamATan2::step(LossClosure closure) {
  at::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& opt = static_cast<const AdamATan2Options&>(group.options());
    const double lr = opt.lr(), b1 = opt.beta1(), b2 = opt.beta2();
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto& g = p.grad();
      auto& slot = state_[state_key(p)];
      if (!slot) {
        auto fresh = std::make_unique<AdamATan2ParamState>();
        fresh->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& s = static_cast<AdamATan2ParamState&>(*slot);
      s.step(s.step() + 1);
      const auto t = static_cast<double>(s.step());
      p.mul_(1.0 - lr * opt.weight_decay());
      s.exp_avg().lerp_(g, 1.0 - b1);
      s.exp_avg_sq().mul_(b2).addcmul_(g, g, 1.0 - b2);
      const double step_size = lr / (1.0 - std::pow(b1, t));
      const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
      p.add_(at::atan2(s.exp_avg(), s.exp_avg_sq().sqrt() / bc2_sqrt), -step_size);
    }
  }
  return loss;
}

void sparse_sign_sgd_step(PuzzleEmbeddingImpl& emb, double lr, double weight_decay) {
  if (!emb.local_weights.defined() || !emb.local_weights.grad().defined()) return;
  at::NoGradGuard no_grad;
  const auto& grad = emb.local_weights.grad();
  const auto [ids, inverse, counts] =
      at::_unique2(emb.local_ids, /*sorted=*/true, /*return_inverse=*/true, false);
  const int64_t D = grad.size(-1);
  auto summed = at::zeros({ids.size(0), D}, grad.options());
  summed.scatter_add_(0, inverse.unsqueeze(-1).expand({-1, D}), grad);
  auto rows = emb.weights.index_select(0, ids);
  rows.mul_(1.0 - lr * weight_decay).add_(at::sign(summed), -lr);
  emb.weights.index_copy_(0, ids, rows);
}

double scheduled_lr(int64_t step, double base, int64_t warmup_steps, int64_t total_steps,
                    double min_ratio) {
  if (step < warmup_steps) {
    return base * static_cast<double>(step) /
           static_cast<double>(std::max<int64_t>(1, warmup_steps));
  }
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  return base *
         (min_ratio + std::max(0.0, (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(M_PI * progress))));
}

}  // namespace trm::core
