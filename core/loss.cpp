#include "core/loss.h"

#include <ATen/ATen.h>

namespace trm::core {

at::Tensor stablemax_cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                                   const at::Tensor& valid) {
  // s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0; log p = log(s(x) / sum s) (§4.1).
  const auto x = logits.to(at::kDouble);
  const auto s = at::where(x < 0, 1.0 / (1.0 - x + 1e-30), x + 1.0);
  const auto logprobs = at::log(s / s.sum(-1, /*keepdim=*/true));
  const auto safe_labels = at::where(valid, labels, at::zeros_like(labels)).to(at::kLong);
  const auto picked = logprobs.gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1);
  return -at::where(valid, picked, at::zeros_like(picked));
}

at::Tensor softmax_cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                                 const at::Tensor& valid) {
  const auto logprobs = at::log_softmax(logits.to(at::kFloat), -1);
  const auto safe_labels = at::where(valid, labels, at::zeros_like(labels)).to(at::kLong);
  const auto picked = logprobs.gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1);
  return -at::where(valid, picked, at::zeros_like(picked));
}

LossTerms act_loss(const ModelConfig& c, const Carry& carry, const ActStep& step) {
  const auto& labels = carry.current.labels;
  const auto& logits = step.out.logits;
  LossTerms out;
  at::Tensor mask, loss_counts, divisor, seq_correct;
  {
    at::NoGradGuard no_grad;
    out.preds = logits.argmax(-1);
    mask = labels != kIgnoreLabel;
    loss_counts = mask.sum(-1);
    divisor = loss_counts.clamp_min(1).unsqueeze(-1);
    const auto is_correct = mask & (out.preds == labels);
    seq_correct = is_correct.sum(-1) == loss_counts;
    const auto valid = carry.halted & (loss_counts > 0);
    auto& m = out.metrics;
    m.count = valid.sum();
    m.accuracy =
        at::where(valid, (is_correct.to(at::kFloat) / divisor).sum(-1), at::zeros({}, at::kFloat).to(labels.device()))
            .sum();
    m.exact_accuracy = (valid & seq_correct).sum();
    m.q_halt_accuracy = (valid & ((step.out.q_halt >= 0) == seq_correct)).sum();
    m.steps = at::where(valid, carry.steps, at::zeros_like(carry.steps)).sum();
  }
  const auto token_loss = c.loss == TokenLoss::stablemax
                              ? stablemax_cross_entropy(logits, labels, mask)
                              : softmax_cross_entropy(logits, labels, mask);
  out.lm_loss = (token_loss / divisor).sum();
  out.q_halt_loss = at::binary_cross_entropy_with_logits(
      step.out.q_halt, seq_correct.to(step.out.q_halt.scalar_type()), {}, {}, at::Reduction::Sum);
  if (step.target_q_continue.defined()) {
    out.q_continue_loss = at::binary_cross_entropy_with_logits(
        step.out.q_continue, step.target_q_continue, {}, {}, at::Reduction::Sum);
  } else {
    out.q_continue_loss = at::zeros({}, step.out.q_halt.options());
  }
  out.total = out.lm_loss + 0.5 * (out.q_halt_loss + out.q_continue_loss);
  return out;
}

}  // namespace trm::core
