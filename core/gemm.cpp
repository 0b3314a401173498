#include "core/gemm.h"

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/out_of_memory.h"

#ifdef TRM_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace trm::core {

namespace {

#ifdef TRM_HAVE_ONEDNN
constexpr bool kBuiltWithOnednn = true;
#else
constexpr bool kBuiltWithOnednn = false;
#endif

#ifdef TRM_HAVE_ONEDNN
bool onednn_enabled() { return std::strcmp(gemm_backend(), "onednn") == 0; }

// Row-major operand as (pointer, 'N' or 'T', leading dimension) for dnnl_sgemm, or {nullptr}
// when neither the tensor nor its transpose is a strided row-major matrix.
struct Operand {
  const float* data = nullptr;
  char trans = 'N';
  int64_t ld = 0;
};

Operand as_operand(const at::Tensor& t) {
  const auto o = sgemm_operand(t.size(0), t.size(1), t.stride(0), t.stride(1));
  if (o.trans == 0) return {};
  return {t.data_ptr<float>(), o.trans, o.ld};
}
#endif

}  // namespace

SgemmOperand sgemm_operand(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1))
    return {'N', std::max<int64_t>(s0, 1)};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1))
    return {'T', std::max<int64_t>(s1, 1)};
  return {};
}

const char* gemm_backend_for(const char* trm_gemm, bool built_with_onednn) {
  const std::string v = trm_gemm == nullptr ? "" : trm_gemm;
  if (v.empty()) return built_with_onednn ? "onednn" : "aten";
  if (v == "aten") return "aten";
  if (v == "onednn" && built_with_onednn) return "onednn";
  if (v == "onednn")
    throw ConfigError(
        "TRM_GEMM=onednn: this build has no oneDNN (libdnnl-dev was not installed "
        "when it was configured, or -DTRM_ONEDNN=OFF); valid here: aten");
  throw ConfigError("TRM_GEMM=" + v + ": unknown matrix-product backend; valid: onednn, aten");
}

const char* gemm_backend() {
  static const char* const backend = gemm_backend_for(std::getenv("TRM_GEMM"), kBuiltWithOnednn);
  return backend;
}

bool raw_sgemm_available() {
#ifdef TRM_HAVE_ONEDNN
  return onednn_enabled();
#else
  return false;
#endif
}

void warm_up_raw_sgemm() {
  if (!raw_sgemm_available()) return;
  for (const int64_t n : {8, 300}) {
    std::vector<float> a(static_cast<size_t>(n * n), 0.5f), b(a), c(a);
    for (const char ta : {'N', 'T'}) {
      for (const char tb : {'N', 'T'}) {
        for (const bool accumulate : {false, true}) {
          raw_sgemm(ta, tb, n, n, n, a.data(), n, b.data(), n, c.data(), n, accumulate);
        }
      }
    }
  }
}

void raw_sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
               const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
#ifdef TRM_HAVE_ONEDNN
  if (raw_sgemm_available()) {
    const auto status =
        dnnl_sgemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
    if (status == dnnl_out_of_memory)
      throw OutOfMemoryError(
          "out of memory (CPU): oneDNN sgemm could not allocate its work buffers", -1);
    if (status != dnnl_success)
      throw std::runtime_error("oneDNN sgemm failed (status " + std::to_string(status) + ") on [" +
                               std::to_string(M) + ", " + std::to_string(K) + "] @ [" +
                               std::to_string(K) + ", " + std::to_string(N) + "]");
    return;
  }
#endif
  (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)a, (void)lda, (void)b, (void)ldb, (void)c,
      (void)ldc, (void)accumulate;
  throw std::logic_error("raw_sgemm called where raw_sgemm_available() is false");
}

at::Tensor gemm(const at::Tensor& a, const at::Tensor& b) {
#ifdef TRM_HAVE_ONEDNN
  if (onednn_enabled() && a.dim() == 2 && b.dim() == 2 && a.device().is_cpu() &&
      b.device().is_cpu() && a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat &&
      a.size(1) == b.size(0) && a.numel() > 0 && b.numel() > 0) {
    // Seen by LibTorch's profiler (bench_model --ops) as "trm::sgemm" with both shapes.
    RECORD_FUNCTION("trm::sgemm", std::vector<c10::IValue>({a, b}));
    const at::Tensor ac = as_operand(a).data ? a : a.contiguous();
    const at::Tensor bc = as_operand(b).data ? b : b.contiguous();
    const Operand oa = as_operand(ac), ob = as_operand(bc);
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    if (oa.trans == 'T' && ob.trans == 'N' && M > N && K >= M) {
      // A weight gradient (x^T dy: both operands stored K-major, a long reduction into a small
      // result). oneDNN's sgemm runs these 1.2-1.5x faster as (dy^T x)^T when the result has
      // more rows than columns (BENCHMARKS.md, "Weight gradients"); the transpose back costs
      // 3% of the product. The same operands always take the same path, so results stay
      // reproducible run to run.
      auto ct = at::empty({N, M}, a.options());
      raw_sgemm('T', 'N', N, M, K, ob.data, ob.ld, oa.data, oa.ld, ct.data_ptr<float>(), M);
      return ct.t().contiguous();
    }
    auto c = at::empty({M, N}, a.options());
    raw_sgemm(oa.trans, ob.trans, M, N, K, oa.data, oa.ld, ob.data, ob.ld, c.data_ptr<float>(), N);
    return c;
  }
#endif
  return at::mm(a, b);
}

}  // namespace trm::core
