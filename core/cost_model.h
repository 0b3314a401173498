// Analytic cost of a TRM training step, from the config alone (torch-free): the matmul FLOPs of
// every network evaluation (TRM-SPEC §2: T(n+1) per supervision step, n+1 of them back-propagated,
// one more pass with ACT). Used by the benchmarks and, later, by `plan` and the scheduler.
#pragma once

#include <cstdint>

#include "core/config.h"

namespace trm::core {

struct StepFlops {
  double forward = 0.0;   // every evaluation of the step, graded or not, plus the heads
  double backward = 0.0;  // about 2x the forward of what is back-propagated
  double total() const { return forward + backward; }
};

// Matmul FLOPs (2 per multiply-add) of one evaluation of the network on a batch.
double network_flops(const ModelConfig& c, int64_t batch);
// FLOPs of one training step (one supervision step for every slot, backward, no optimizer).
StepFlops training_step_flops(const ModelConfig& c, int64_t batch);

}  // namespace trm::core
