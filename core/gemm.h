// The matrix products of the MLP nodes (core/swiglu_function.cpp). On float32 CPU tensors they go
// to oneDNN's sgemm when trm-sweep was built with oneDNN (libdnnl-dev, the library LibTorch itself
// links): its JIT kernels run the TRM shapes 1.0-1.3x faster than OpenBLAS, the BLAS behind
// at::mm (BENCHMARKS.md). Anything else (CUDA, bfloat16, a build without
// oneDNN, TRM_GEMM=aten in the environment) goes to at::mm.
#pragma once

#include <ATen/core/Tensor.h>

namespace trm::core {

// a [M, K] @ b [K, N] -> a new contiguous [M, N] tensor. a and b may be transposed views
// (`w.t()`); no autograd (used inside custom autograd nodes).
at::Tensor gemm(const at::Tensor& a, const at::Tensor& b);

// The same library on raw row-major float32 memory: c [M, N] (rows ldc apart) = op(a) op(b), or
// c += op(a) op(b) with `accumulate`, where op is the identity for 'N' and the transpose for 'T',
// and lda, ldb are the stored rows' strides. Only while raw_sgemm_available() (oneDNN is the
// backend); called inside a parallel region it runs on the calling thread alone. Throws
// OutOfMemoryError when oneDNN cannot allocate its work buffers. The fused token-MLP node
// (core/swiglu_function.cpp) uses it per block of columns.
bool raw_sgemm_available();
// Runs oneDNN's sgemm once in every operand layout, each way of adding to C, so that its JIT
// kernels are built now (set_cpu_memory_budget calls it before it limits the heap: under
// RLIMIT_DATA oneDNN's kernel generation crashes instead of failing). No-op without oneDNN.
void warm_up_raw_sgemm();
void raw_sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
               const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate = false);

// How raw_sgemm reads a [rows, cols] matrix stored with strides (s0, s1): trans 'N' with ld = s0
// (rows contiguous), 'T' with ld = s1 (columns contiguous), or trans = 0 when it can read neither
// (the caller makes the matrix contiguous first).
struct SgemmOperand {
  char trans = 0;
  int64_t ld = 0;
};
SgemmOperand sgemm_operand(int64_t rows, int64_t cols, int64_t s0, int64_t s1);

// Which library gemm() uses for float32 CPU tensors in this process: "onednn" or "aten". Read
// once from TRM_GEMM (see gemm_backend_for); throws ConfigError on a value it cannot honour.
const char* gemm_backend();

// The backend a TRM_GEMM value selects: unset or empty gives oneDNN when built with it, else
// at::mm; "aten" gives at::mm; "onednn" gives oneDNN. A ConfigError names the variable, the value
// and the valid ones for anything else, or for "onednn" in a build without it.
const char* gemm_backend_for(const char* trm_gemm, bool built_with_onednn);

}  // namespace trm::core
