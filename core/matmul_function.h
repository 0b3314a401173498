// The linear layers and the attention products as autograd nodes on core/gemm.h: on float32 CPU
// tensors, where oneDNN is the backend, every matrix product of the model runs in oneDNN's sgemm,
// not only the MLP products. at::linear and at::matmul go to the BLAS LibTorch was built with
// (OpenBLAS on Debian), whose speed depends on it knowing the CPU: Debian 12's OpenBLAS 0.3.21
// does not know recent Xeons (family 6, model 207) and falls back to its generic Prescott
// kernels, 5-8x slower (BENCHMARKS.md, "OpenBLAS on an unknown CPU"). oneDNN picks its kernels
// from the CPU's instruction sets and has no such gap. Anything else (CUDA, bfloat16, a build
// without oneDNN, TRM_GEMM=aten) takes at::linear and at::matmul as before, bit for bit.
#pragma once

#include <ATen/core/Tensor.h>

namespace trm::core {

// The linear layer: x [..., in] @ w [out, in]^T (+ bias [out]) -> [..., out], with gradients for
// x, w and bias (named apart from at::linear, which argument-dependent lookup would also find).
at::Tensor dense(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = at::Tensor());

// a [..., M, K] @ b [..., K, N] -> [..., M, N] for equal leading (batch) sizes, with gradients
// for a and b. Operands may be transposed or strided views (the attention's [B, H, S, d] views of
// [B, S, H, d]); each batch's product is read in place. Broadcast batch sizes go to at::matmul.
at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b);

// The product alone, no autograd: what batched_matmul runs forward and backward.
at::Tensor batched_gemm(const at::Tensor& a, const at::Tensor& b);

}  // namespace trm::core
