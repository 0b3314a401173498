// Exponential moving average of the trainable parameters (TRM-SPEC §5.4): shadow starts at the
// initial weights, shadow = (1 - mu) param + mu shadow after every step; buffers (the puzzle table,
// the y/z init vectors, RoPE) are not averaged. Evaluation and exported weights use the shadow.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "core/trm_model.h"

namespace trm::core {

class Ema {
 public:
  Ema(const TrmModel& model, double rate);  // rate = mu, 0.999 in the paper
  void update(const TrmModel& model);
  const std::vector<at::Tensor>& shadow() const { return shadow_; }
  std::vector<at::Tensor>& shadow() { return shadow_; }

  // While alive, the model's trainable parameters hold the shadow; the training weights come back
  // when it is destroyed (also on an exception).
  class Applied {
   public:
    Applied(Ema& ema, TrmModel model);
    ~Applied();
    Applied(const Applied&) = delete;
    Applied& operator=(const Applied&) = delete;

   private:
    void swap();
    Ema& ema_;
    TrmModel model_;
  };

 private:
  double rate_;
  std::vector<at::Tensor> shadow_;
};

}  // namespace trm::core
