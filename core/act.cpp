#include "core/act.h"

#include <ATen/ATen.h>

namespace trm::core {

Carry initial_carry(const TrmModel& model, const Batch& like) {
  const int64_t B = like.inputs.size(0);
  const auto device = like.inputs.device();
  Carry c;
  c.latents = model->initial_latents(B);
  c.steps = at::zeros({B}, at::TensorOptions().dtype(at::kInt).device(device));
  c.halted = at::ones({B}, at::TensorOptions().dtype(at::kBool).device(device));
  c.current = {at::zeros_like(like.inputs), at::zeros_like(like.labels),
               at::zeros_like(like.puzzle_identifiers)};
  return c;
}

namespace {

at::Tensor take_where(const at::Tensor& halted, const at::Tensor& fresh, const at::Tensor& old) {
  std::vector<int64_t> shape(fresh.dim(), 1);
  shape[0] = -1;
  return at::where(halted.view(shape), fresh, old);
}

}  // namespace

ActStep act_step(TrmModel& model, Carry& carry, const Batch& batch) {
  const ModelConfig& cfg = model->config();
  // Refill: halted slots take the new example and restart from the init vectors.
  carry.latents = model->reset_latents(carry.halted, carry.latents);
  carry.steps = at::where(carry.halted, at::zeros_like(carry.steps), carry.steps);
  carry.current = {take_where(carry.halted, batch.inputs, carry.current.inputs),
                   take_where(carry.halted, batch.labels, carry.current.labels),
                   take_where(carry.halted, batch.puzzle_identifiers,
                              carry.current.puzzle_identifiers)};

  ActStep result;
  result.out = model->forward(carry.latents, carry.current.inputs, carry.current.puzzle_identifiers);

  at::NoGradGuard no_grad;
  carry.steps = carry.steps + 1;
  const auto is_last_step = carry.steps >= cfg.halt_max_steps;
  auto halted = is_last_step;
  if (model->is_training() && cfg.halt_max_steps > 1) {
    const auto& q_halt = result.out.q_halt;
    halted = halted | (cfg.halting == Halting::bce ? q_halt > 0 : q_halt > result.out.q_continue);
    // Exploration: with probability p a slot must run at least m_min ~ U{2..N_sup} steps.
    const auto explore = at::rand_like(q_halt) < cfg.halt_exploration_prob;
    const auto min_steps = explore * at::randint_like(carry.steps, 2, cfg.halt_max_steps + 1);
    halted = halted & (carry.steps >= min_steps);
    if (cfg.halting == Halting::act) {
      // Q-learning target from one more pass on the new carry (§4.3); only its Q logits are used.
      Latents next = carry.latents;
      const auto q_next =
          model->forward(next, carry.current.inputs, carry.current.puzzle_identifiers);
      result.target_q_continue = at::sigmoid(
          at::where(is_last_step, q_next.q_halt, at::maximum(q_next.q_halt, q_next.q_continue)));
    }
  }
  carry.halted = halted;
  return result;
}

}  // namespace trm::core
