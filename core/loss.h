// The loss head of the reference (TRM-SPEC §4): stable-max (float64) or softmax token
// cross-entropy averaged per example, BCE halting on whole-sequence correctness, the ACT continue
// loss, and the §4.5 metrics over the slots that halted this step.
#pragma once

#include <ATen/core/Tensor.h>

#include "core/act.h"
#include "core/config.h"

namespace trm::core {

// Per-token -log p(label) with p the stable-max of the logits, in float64; 0 where !valid.
at::Tensor stablemax_cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                                   const at::Tensor& valid);
// Per-token softmax cross-entropy in float32; 0 where !valid.
at::Tensor softmax_cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                                 const at::Tensor& valid);

// Sums over the halted slots with >= 1 labelled token (reference metrics, before normalising).
struct StepMetrics {
  at::Tensor count;            // int64
  at::Tensor accuracy;         // float32, sum of per-slot token accuracies
  at::Tensor exact_accuracy;   // int64, whole sequence correct
  at::Tensor q_halt_accuracy;  // int64, (q_halt >= 0) == sequence correct
  at::Tensor steps;            // int64, supervision steps used
};

struct LossTerms {
  at::Tensor lm_loss;          // sum over slots of the per-example mean token loss
  at::Tensor q_halt_loss;      // sum over slots, float32
  at::Tensor q_continue_loss;  // sum over slots, float32; zero unless ACT in training
  at::Tensor total;            // lm + 0.5 (q_halt + q_continue); backward on total / batch
  at::Tensor preds;            // [B, seq_len] int64 argmax
  StepMetrics metrics;
};

// Loss and metrics of one act_step on the carry it left behind.
LossTerms act_loss(const ModelConfig& c, const Carry& carry, const ActStep& step);

}  // namespace trm::core
