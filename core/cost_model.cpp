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

int64_t graded_evaluations(const ModelConfig& c) {
  return c.gradient == GradientMode::full ? c.l_cycles + 1 : 2;
}

int64_t analytic_parameter_count(const ModelConfig& c) {
  const int64_t D = c.hidden_size, L = c.total_len();
  const int64_t ic = swiglu_inter(D, c.expansion);
  int64_t block = 3 * ic * D;  // channel SwiGLU: gate|up and down
  if (c.mixer == TokenMixer::attention) {
    block += 4 * D * D;  // qkv and output projections
  } else {
    block += 3 * swiglu_inter(L, c.expansion) * L;  // the token-MLP over the L positions
  }
  const int64_t networks = c.networks == Networks::separate ? 2 : 1;
  int64_t n = networks * c.layers * block;
  n += 2 * c.vocab_size * D;  // token embedding and lm_head
  n += 2 * D + 2;             // q_head
  if (c.pos_encodings == PosEncoding::learned) n += L * D;
  return n;
}

namespace {

// Calibration (BENCHMARKS.md, "Memory model"; rerun with bench/memory_fit.py): peak RSS of
// `trm-sweep train` over two steps (so that AdamATan2's state exists), 15 float32 and bfloat16
// configs on CPU, the heap keeping freed memory for reuse (core/heap.h) and checkpoints streamed
// to their file, the MLP products in oneDNN's sgemm (core/gemm.h). The process itself (LibTorch,
// BLAS, oneDNN, code) with a tiny model:
constexpr double kCpuRuntimeBytes = 177.1 * 1024 * 1024;
// Fitted by least squares over the 13 float32 configs (all within 3%): measured / counted bytes.
constexpr double kCpuActivationFactor = 0.95;
constexpr double kCpuStateFactor = 0.87;  // on weights + gradients + AdamATan2 state + EMA
// The peak's working memory beyond what autograd keeps (the gradients and temporaries of the
// block being differentiated, and oneDNN's packed copies of the operands), per counted block
// evaluation on the batch. It was 1.25 with every product in OpenBLAS.
constexpr double kCpuTransientFactor = 1.57;
// CUDA is not measured here: a typical context, the transient factor the CPU measured without
// oneDNN's packing buffers (1.25: the same backward computes the same temporaries, and cuBLAS
// packs nothing), and an activation factor for the caching allocator's slack
// (rounding, blocks split and cached) on the same counted tensors. 1.31 is the factor CPU
// training measured while glibc's heap had that kind of slack; the paper's Table 3 bounds it too:
// n = 8 fits a 48 GB card at batch 768 and n = 12 does not (1.08-1.55 with this count).
constexpr double kCudaRuntimeBytes = 600.0 * 1024 * 1024;
constexpr double kCudaActivationFactor = 1.31;
constexpr double kCudaTransientFactor = 1.25;
constexpr double kCudaStateFactor = 1.0;

// Bytes autograd keeps for one block on one example, counted from core/layers.cpp: every tensor
// an op saves for its backward. `a` is the activation size in bytes; RMSNorm (and RoPE) compute
// in float32 and keep float32 copies when activations are bfloat16.
double block_saved_bytes(const ModelConfig& c, double a) {
  const double S = d(c.total_len()), D = d(c.hidden_size), H = d(c.num_heads);
  const double ic = d(swiglu_inter(c.hidden_size, c.expansion));
  const bool low = a < 4.0;
  // RMSNorm: its float32 input (a copy when activations are bfloat16); ×2 norms per block.
  const double norms = 2.0 * S * D * 4.0;
  // Channel SwiGLU (one autograd node, core/swiglu_function.h): its input and gate|up.
  const double channel = (S * D + 2.0 * S * ic) * a;
  double mixer = 0;
  if (c.mixer == TokenMixer::mlp) {
    const double it = d(swiglu_inter(c.total_len(), c.expansion));
    mixer = (S * D + 2.0 * it * D) * a;  // the same SwiGLU over positions
  } else {
    // The qkv projection's input; nothing of RoPE (its products are with the cos/sin buffers,
    // which need no gradient, so autograd keeps only those); q and k in float32 (the scores
    // are) and v, as copies (at::matmul's batched products on a GPU) or as they leave RoPE and
    // a compact copy of v (core/matmul_function.h on a CPU);
    // the softmax output (float32, plus its bfloat16 copy); the o_proj input.
    mixer =
        S * D * a + 2.0 * S * D * 4.0 + S * D * a + H * S * S * (4.0 + (low ? a : 0.0)) + S * D * a;
  }
  return norms + channel + mixer;
}

}  // namespace

MemoryEstimate predict_training_memory(const ModelConfig& c, int64_t batch, bool ema,
                                       int64_t examples, MemoryDevice device) {
  const bool cuda = device == MemoryDevice::cuda;
  const bool bf16 =
      c.forward_dtype == ForwardDtype::bfloat16 || (c.forward_dtype == ForwardDtype::auto_ && cuda);
  const double a = bf16 ? 2.0 : 4.0;
  const double P = d(analytic_parameter_count(c)), B = d(batch);
  const double networks = c.networks == Networks::separate ? 2.0 : 1.0;
  MemoryEstimate m;
  m.runtime = cuda ? kCudaRuntimeBytes : kCpuRuntimeBytes;
  // inputs and labels as uint8, plus what generating and indexing them leaves behind.
  m.data = cuda ? 0.0 : 1.2 * 2.0 * d(examples) * d(c.seq_len);
  const double state = cuda ? kCudaStateFactor : kCpuStateFactor;
  m.parameters = state * 4.0 * P * 4.0;  // weights, gradients, m, v
  // bfloat16 copies of the weights, kept by every back-propagated evaluation's matmuls.
  if (bf16) m.parameters += 2.0 * P / networks * d(graded_evaluations(c));
  m.ema = ema ? state * P * 4.0 : 0.0;
  m.buffers = 4.0 * (d(c.num_puzzle_identifiers) * d(c.puzzle_emb_ndim) + 2.0 * d(c.hidden_size));
  const double latents = c.latent == Latent::multiscale_z ? d(kMultiscaleLatents) + 1.0 : 2.0;
  m.carry = latents * B * d(c.total_len()) * d(c.hidden_size) * 4.0;
  const double per_eval = d(c.layers) * block_saved_bytes(c, a);
  const double block = B * block_saved_bytes(c, a);
  m.activations = (cuda ? kCudaActivationFactor : kCpuActivationFactor) * B *
                      d(graded_evaluations(c)) * per_eval +
                  (cuda ? kCudaTransientFactor : kCpuTransientFactor) * block;
  return m;
}

}  // namespace trm::core
