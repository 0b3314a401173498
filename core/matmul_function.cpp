#include "core/matmul_function.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <vector>

#include "core/gemm.h"

namespace trm::core {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool float32_cpu(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat;
}

// Whether oneDNN takes the linear layer: the backend is oneDNN and x, w (and bias) are float32
// CPU tensors of matching, non-empty shapes.
bool linear_on_sgemm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  return raw_sgemm_available() && float32_cpu(x) && float32_cpu(w) &&
         (!bias.defined() || float32_cpu(bias)) && x.dim() >= 1 && w.dim() == 2 &&
         x.size(-1) == w.size(1) && x.numel() > 0 && w.numel() > 0;
}

// Whether batched_gemm runs in oneDNN: float32 CPU operands of one rank >= 3 with the same batch
// sizes (no broadcasting), matching inner sizes, nothing empty.
bool batched_on_sgemm(const at::Tensor& a, const at::Tensor& b) {
  if (!raw_sgemm_available() || !float32_cpu(a) || !float32_cpu(b) || a.dim() < 3 ||
      a.dim() != b.dim() || a.numel() == 0 || b.numel() == 0)
    return false;
  const int64_t r = a.dim();
  if (a.size(r - 1) != b.size(r - 2)) return false;
  for (int64_t i = 0; i < r - 2; ++i)
    if (a.size(i) != b.size(i)) return false;
  return true;
}

// t itself when raw_sgemm can read each of its matrices in place, else a contiguous copy.
at::Tensor sgemm_readable(const at::Tensor& t) {
  const int64_t r = t.dim();
  return sgemm_operand(t.size(r - 2), t.size(r - 1), t.stride(r - 2), t.stride(r - 1)).trans != 0
             ? t
             : t.contiguous();
}

// What a node keeps of an operand for its backward: the operand itself, or a compact copy when it
// is a view into a larger tensor, which keeping the view would keep alive whole (v, a third of
// the attention's qkv projection output). at::matmul's autograd keeps such copies too, so the
// memory model (core/cost_model.cpp) holds for both.
at::Tensor kept(const at::Tensor& t) {
  const auto bytes = static_cast<size_t>(t.numel()) * t.element_size();
  return t.storage().nbytes() > bytes ? t.clone(at::MemoryFormat::Contiguous) : t;
}

// x2 [N, in] @ w [out, in]^T. Keeps x2 and w; the backward is two more products.
struct LinearNode : public torch::autograd::Function<LinearNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x2, const at::Tensor& w) {
    ctx->save_for_backward({x2, w});
    return gemm(x2, w.t());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x2 = saved[0], &w = saved[1];
    const auto& dy = grads[0];
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) dx = gemm(dy, w);
    if (ctx->needs_input_grad(1)) dw = gemm(dy.t(), x2);
    return {dx, dw};
  }
};

// a @ b per batch. Keeps a and b; the backward is dc b^T and a^T dc, read as transposed views.
struct BatchedMatmulNode : public torch::autograd::Function<BatchedMatmulNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({kept(a), kept(b)});
    return batched_gemm(a, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &a = saved[0], &b = saved[1];
    const auto& dc = grads[0];
    at::Tensor da, db;
    if (ctx->needs_input_grad(0)) da = batched_gemm(dc, b.transpose(-2, -1));
    if (ctx->needs_input_grad(1)) db = batched_gemm(a.transpose(-2, -1), dc);
    return {da, db};
  }
};

}  // namespace

at::Tensor dense(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!linear_on_sgemm(x, w, bias))
    return bias.defined() ? at::linear(x, w, bias) : at::linear(x, w);
  std::vector<int64_t> out_sizes(x.sizes().begin(), x.sizes().end());
  out_sizes.back() = w.size(0);
  const auto x2 = x.reshape({-1, x.size(-1)});
  const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  auto y = grad ? LinearNode::apply(x2, w) : gemm(x2, w.t());
  if (bias.defined()) y = y + bias;
  return y.view(out_sizes);
}

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!batched_on_sgemm(a, b)) return at::matmul(a, b);
  const bool grad = at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad());
  return grad ? BatchedMatmulNode::apply(a, b) : batched_gemm(a, b);
}

at::Tensor batched_gemm(const at::Tensor& a_in, const at::Tensor& b_in) {
  if (!batched_on_sgemm(a_in, b_in)) return at::matmul(a_in, b_in);
  // Seen by LibTorch's profiler (bench_model --ops) with both shapes.
  RECORD_FUNCTION("trm::bgemm", std::vector<c10::IValue>({a_in, b_in}));
  const at::Tensor a = sgemm_readable(a_in), b = sgemm_readable(b_in);
  const int64_t r = a.dim();
  const int64_t M = a.size(r - 2), K = a.size(r - 1), N = b.size(r - 1);
  const auto oa = sgemm_operand(M, K, a.stride(r - 2), a.stride(r - 1));
  const auto ob = sgemm_operand(K, N, b.stride(r - 2), b.stride(r - 1));
  std::vector<int64_t> c_sizes(a.sizes().begin(), a.sizes().end());
  c_sizes[r - 1] = N;
  auto c = at::empty(c_sizes, a.options());
  // Each batch's offset in a and b from its index over the (strided) batch dimensions.
  const int64_t batches = c.numel() / (M * N);
  std::vector<int64_t> offset_a(batches), offset_b(batches);
  for (int64_t p = 0; p < batches; ++p) {
    int64_t rest = p;
    for (int64_t d = r - 3; d >= 0; --d) {
      const int64_t i = rest % a.size(d);
      rest /= a.size(d);
      offset_a[p] += i * a.stride(d);
      offset_b[p] += i * b.stride(d);
    }
  }
  const float* ad = a.data_ptr<float>();
  const float* bd = b.data_ptr<float>();
  float* cd = c.data_ptr<float>();
  const auto one = [&](int64_t p) {
    raw_sgemm(oa.trans, ob.trans, M, N, K, ad + offset_a[p], oa.ld, bd + offset_b[p], ob.ld,
              cd + p * M * N, N);
  };
  // Enough batches for every thread: one thread per batch, each product on its thread alone (the
  // attention's B·H products of [S, d] @ [d, S] are too small to split). Fewer: each product on
  // all threads, one after the other.
  if (batches >= at::get_num_threads() && !at::in_parallel_region()) {
    at::parallel_for(0, batches, 1, [&](int64_t first, int64_t last) {
      for (int64_t p = first; p < last; ++p) one(p);
    });
  } else {
    for (int64_t p = 0; p < batches; ++p) one(p);
  }
  return c;
}

}  // namespace trm::core
