// The reference's two optimizers (TRM-SPEC §5.1, §1.2) and its learning-rate schedule (§5.2):
// AdamATan2 for the network, sparse sign-SGD for the rows of the puzzle-embedding table.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <vector>

#include "core/trm_model.h"

namespace trm::core {

struct AdamATan2Options : public torch::optim::OptimizerCloneableOptions<AdamATan2Options> {
  explicit AdamATan2Options(double lr = 1e-4) : lr_(lr) {}
  TORCH_ARG(double, lr);                  // current learning rate (set per step by the schedule)
  TORCH_ARG(double, beta1) = 0.9;         // first-moment decay
  TORCH_ARG(double, beta2) = 0.95;        // second-moment decay
  TORCH_ARG(double, weight_decay) = 0.1;  // decoupled decay, applied to every parameter

  double get_lr() const override { return lr_; }
  void set_lr(const double lr) override { lr_ = lr; }
};

struct AdamATan2ParamState
    : public torch::optim::OptimizerCloneableParamState<AdamATan2ParamState> {
  TORCH_ARG(int64_t, step) = 0;
  TORCH_ARG(at::Tensor, exp_avg);     // m
  TORCH_ARG(at::Tensor, exp_avg_sq);  // v
};

// Adam with atan2(m, sqrt(v)) in place of m / (sqrt(v) + eps): no epsilon, scale-free at t = 1.
// Per element, t incremented first: p *= 1 - lr wd; m = lerp(m, g, 1 - b1);
// v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t)).
class AdamATan2 : public torch::optim::Optimizer {
 public:
  AdamATan2(std::vector<at::Tensor> params, AdamATan2Options options);
  at::Tensor step(LossClosure closure = nullptr) override;

  // The state of one parameter (created at its first step); nullptr before.
  AdamATan2ParamState* state_of(const at::Tensor& param);
  // Restores one parameter's state (a checkpoint): step count and both moments, copied.
  void set_state_of(const at::Tensor& param, int64_t step, const at::Tensor& exp_avg,
                    const at::Tensor& exp_avg_sq);
};

// One sign-SGD step on the rows of the table used by the last training forward (§1.2): duplicate
// ids' gradients summed, w[ids] = w[ids] (1 - lr wd) - lr sign(G); other rows untouched.
void sparse_sign_sgd_step(PuzzleEmbeddingImpl& emb, double lr, double weight_decay);

// Learning rate at `step` (counted from 1 for the first update): linear warm-up to `base`, then
// cosine to base * min_ratio over the remaining steps; min_ratio = 1 is constant (§5.2).
double scheduled_lr(int64_t step, double base, int64_t warmup_steps, int64_t total_steps,
                    double min_ratio);

}  // namespace trm::core
