// Deep supervision with a persistent carry and adaptive halting (TRM-SPEC §3.1): one supervision
// step for every slot of the batch; halted slots restart on the new batch's rows, the others keep
// their state and their old example. Also the ACT Q-learning target pass (§4.3).
#pragma once

#include <ATen/core/Tensor.h>

#include "core/trm_model.h"

namespace trm::core {

// One batch as the reference loader yields it; labels use -100 for ignored positions.
struct Batch {
  at::Tensor inputs;              // [B, seq_len] int32
  at::Tensor labels;              // [B, seq_len] int32 (or int64)
  at::Tensor puzzle_identifiers;  // [B] int32
};

inline constexpr int64_t kIgnoreLabel = -100;

struct Carry {
  Latents latents;
  at::Tensor steps;   // [B] int32, supervision steps taken by the slot's current example
  at::Tensor halted;  // [B] bool, true = the slot restarts on the next step
  Batch current;      // the example each slot is working on
};

struct ActStep {
  StepLogits out;
  at::Tensor target_q_continue;  // [B] float32; defined only for halting = act in training
};

// All slots halted, so the first step loads the batch and resets the states (reference
// initial_carry).
Carry initial_carry(const TrmModel& model, const Batch& like);

// One supervision step (§3.1). Training (model->is_training()): halt on q_halt > 0 (bce) or
// q_halt > q_continue (act), with the exploration minimum re-drawn for every slot (uses the
// global torch generator); eval: halt only at N_sup. Rows of `batch` for slots that did not halt
// are discarded.
ActStep act_step(TrmModel& model, Carry& carry, const Batch& batch);

}  // namespace trm::core
