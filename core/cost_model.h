// Analytic cost of a TRM training step, from the config alone (torch-free): the matmul FLOPs of
// every network evaluation (TRM-SPEC §2: T(n+1) per supervision step, n+1 of them back-propagated,
// one more pass with ACT), and the peak memory of training, calibrated against measured peak RSS.
// Used by the benchmarks, `plan` and the scheduler.
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

// Trainable parameters (what AdamATan2 and the EMA hold); equals TrmModel::parameter_count().
int64_t analytic_parameter_count(const ModelConfig& c);
// Network evaluations back-propagated per supervision step: n+1 (full) or 2 (1-step gradient).
int64_t graded_evaluations(const ModelConfig& c);

enum class MemoryDevice { cpu, cuda };

// Predicted peak memory of one training process, by part (bytes). On CPU this is the peak RSS
// (calibrated: BENCHMARKS.md); on CUDA the device memory, extrapolated from the same counts.
struct MemoryEstimate {
  double runtime = 0;      // the process itself: LibTorch and BLAS (CPU), the CUDA context
  double data = 0;         // the data set's arrays (CPU only; on CUDA they stay on the host)
  double parameters = 0;   // float32 trainable weights, their gradients and AdamATan2's m and v
  double ema = 0;          // the EMA shadow
  double buffers = 0;      // the puzzle-embedding table and the init vectors
  double carry = 0;        // the latent states of the B slots
  double activations = 0;  // what autograd keeps for the back-propagated evaluations
  double total() const { return runtime + data + parameters + ema + buffers + carry + activations; }
};

// `examples` = training + test examples held in memory (0 on CUDA); forward_dtype auto resolves
// to bfloat16 on CUDA and float32 on CPU, as the model does.
MemoryEstimate predict_training_memory(const ModelConfig& c, int64_t batch, bool ema,
                                       int64_t examples, MemoryDevice device);

}  // namespace trm::core
