// The TRM trainer (TRM-SPEC §3, §5): a persistent carry of B slots, one supervision step and one
// optimizer step per training step, AdamATan2 + sign-SGD under the warm-up schedule, the EMA
// shadow, evaluation over the held-out split, and checkpoints that resume bit for bit.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/act.h"
#include "core/ema.h"
#include "core/metrics.h"
#include "core/optimizers.h"
#include "core/trial_config.h"
#include "core/trial_data.h"
#include "core/trm_model.h"

namespace trm::core {

// Caller-owned numbers saved with a checkpoint and handed back on load (e.g. how many bytes of
// the metrics file belong to the checkpointed state).
using CheckpointExtras = std::map<std::string, int64_t>;

class Trainer {
 public:
  // Seeds torch with train.seed, then builds the model on `device`; `data` must outlive it.
  Trainer(const TrialConfig& config, const TrialData& data, c10::Device device);

  const TrialConfig& config() const { return config_; }
  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  const TrmModel& model() const { return model_; }
  const Carry& carry() const { return carry_; }
  bool uses_ema() const { return ema_.has_value(); }

  // One training step (§3.1): refill halted slots, one supervision step for every slot,
  // backward on loss / B, both optimizers, EMA. Returns the step's metrics (§4.5).
  TrainRecord train_step();
  // Every test example for all N_sup steps from a fresh carry, without exploration, with the EMA
  // weights when train.ema is on (§3.2). The training carry and weights are left as they were.
  EvalRecord evaluate();
  // ARC's submission.json of the last evaluation's votes (core/arc_eval.h); "" when the data set is
  // not ARC's or nothing was evaluated yet.
  std::string arc_submission() const;

  // Everything needed to continue: weights and buffers, EMA shadow, AdamATan2 state, step,
  // carry, data position, torch RNG states, and the config it belongs to. Written atomically.
  void save_checkpoint(const std::string& path, const CheckpointExtras& extras) const;
  // Restores a checkpoint of this config. DataError if it is unreadable or malformed (the file is
  // not touched), ConfigError if it was written for another config (naming the fields).
  CheckpointExtras load_checkpoint(const std::string& path);
  // The weights to export: the EMA shadow when on (§5.4), with the buffers; atomic.
  void save_weights(const std::string& path);
  // Weights to evaluate: a weights.pt that save_weights wrote (for a model of the same shapes),
  // or a reference checkpoint (torch.save of a state_dict, by the reference's names; TRM-SPEC
  // §5.5). They become the model's and, with train.ema on, the EMA shadow too, so evaluate()
  // uses them. DataError (naming the file and every mismatch) leaves the trainer as it was.
  // A training checkpoint (checkpoint.pt) works too: its EMA weights with train.ema on. Returns
  // what the file was, e.g. "trm-sweep weights" or "reference state_dict".
  std::string load_weights(const std::string& path);

 private:
  Batch make_batch(const PuzzleArrays& split, const std::vector<int64_t>& examples,
                   int64_t rows) const;
  std::vector<at::Tensor> optimized_parameters() const;

  TrialConfig config_;
  const TrialData& data_;
  c10::Device device_;
  TrmModel model_{nullptr};
  std::unique_ptr<AdamATan2> adam_;
  std::optional<Ema> ema_;
  ExampleSampler sampler_;
  Carry carry_;
  bool carry_ready_ = false;
  int64_t step_ = 0;
  int64_t total_steps_ = 0;
  // ARC's votes pooled over the run's evaluations (train.arc_aggregated_voting on an ARC set);
  // checkpoints keep them.
  std::optional<ArcVoter> arc_votes_;
  std::optional<ArcVoter> last_arc_votes_;  // the last evaluation's own, when not pooled
  mutable std::string data_fingerprint_;    // data_fingerprint(data_), made at first use
};

// When and how the loop stops and checkpoints; everything optional.
struct LoopControl {
  std::function<bool()> stop_requested;  // polled after every step (signals)
  int64_t stop_at_step = 0;              // stop once this step is done; 0 = run to the end
  int64_t checkpoint_every = 0;          // steps between checkpoints; 0 = at evaluations only
  std::function<void()> checkpoint;      // writes one; called at every checkpoint point
};

enum class LoopEnd { finished, stopped };

// Trains to total_steps: evaluates every train.eval_interval steps and after the last step,
// checkpoints after each evaluation, every checkpoint_every steps, at the end and when stopped.
LoopEnd train_loop(Trainer& trainer, MetricSink& sink, const LoopControl& control);

}  // namespace trm::core
