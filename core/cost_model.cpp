#include "core/cost_model.h"

namespace trm::core {

namespace {

double d(int64_t v) { return static_cast<double>(v); }

// SwiGLU of width h applied to `rows` vectors: gate|up (h -> 2 inter) and down (inter -> h).
double swiglu_flops(double rows, int64_t h, double expansion) {
  const double inter = d(swiglu_inter(h, expansion));
  return 2.0 * rows * d(h) * 2.0 * inter + 2.0 * rows * inter * d(h);
}

}  // namespace

double network_flops(const ModelConfig& c, int64_t batch) {
  const double B = d(batch), S = d(c.total_len()), D = d(c.hidden_size);
  double block = swiglu_flops(B * S, c.hidden_size, c.expansion);  // channel MLP
  switch (c.mixer) {
    case TokenMixer::attention:
      // qkv and output projections, q k^T and probs v over all heads.
      block += 2.0 * B * S * D * 3.0 * D + 2.0 * B * S * D * D + 2.0 * 2.0 * B * S * S * D;
      break;
    case TokenMixer::mlp:
      block += swiglu_flops(B * D, c.total_len(), c.expansion);  // mixes the S positions
      break;
  }
  return d(c.layers) * block;
}

StepFlops training_step_flops(const ModelConfig& c, int64_t batch) {
  const double B = d(batch), S = d(c.total_len()), D = d(c.hidden_size);
  const double eval = network_flops(c, batch);
  const double evals = d(c.h_cycles * (c.l_cycles + 1));
  const double graded = c.gradient == GradientMode::full ? d(c.l_cycles + 1) : 2.0;
  const double heads = 2.0 * B * S * D * d(c.vocab_size) + 2.0 * B * D * 2.0;
  StepFlops f;
  f.forward = evals * eval + heads;
  if (c.halting == Halting::act) f.forward += evals * eval + heads;  // the Q-target pass
  f.backward = 2.0 * (graded * eval + heads);
  return f;
}

}  // namespace trm::core
