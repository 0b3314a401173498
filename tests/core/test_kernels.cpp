// The speed kernels under the MLP nodes: core/gemm.h (oneDNN's sgemm when built with it) and the
// one-pass SwiGLU pointwise kernels, each against a float64 ATen computation of the same values.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/gemm.h"
#include "core/matmul_function.h"
#include "core/swiglu_function.h"
#include "core/swiglu_pointwise.h"

namespace trm::core {
namespace {

bool close(const at::Tensor& got, const at::Tensor& want, double rtol, double atol) {
  return at::allclose(got.to(at::kDouble), want.to(at::kDouble), rtol, atol);
}

// Every layout the MLP nodes hand it: plain, transposed views on either side, a row-strided
// slice, an expanded (stride 0) operand, sizes that are not multiples of any kernel's block,
// and the degenerate shapes (an empty K, one row, one column).
TEST(Gemm, EqualsTheFloat64ProductForEveryOperandLayout) {
  at::manual_seed(11);
  const auto a = at::randn({37, 97}), b = at::randn({97, 53});
  const auto check = [](const at::Tensor& x, const at::Tensor& y, const std::string& what) {
    const auto got = gemm(x, y);
    EXPECT_EQ(got.sizes(), (std::vector<int64_t>{x.size(0), y.size(1)})) << what;
    EXPECT_TRUE(got.is_contiguous()) << what;
    EXPECT_TRUE(close(got, at::mm(x.to(at::kDouble), y.to(at::kDouble)), 1e-5, 1e-4)) << what;
  };
  check(a, b, "plain");
  check(a.t().contiguous().t(), b, "a transposed view");
  check(a, b.t().contiguous().t(), "b transposed view");
  check(at::randn({300, 60}).t(), at::randn({300, 20}),
        "a weight gradient (a transposed, K long, M > N)");
  check(at::randn({300, 20}).t(), at::randn({300, 60}),
        "a weight gradient (a transposed, K long, M < N)");
  check(at::randn({97, 37}).t(), at::randn({53, 97}).t(), "both transposed");
  check(at::randn({37, 200}).narrow(1, 10, 97), b, "a row-strided slice");
  check(a, at::randn({1, 53}).expand({97, 53}), "an expanded b");
  check(at::randn({1, 97}), b, "one row");
  check(a, at::randn({97, 1}), "one column");
  const auto empty_k = gemm(at::randn({5, 0}), at::randn({0, 7}));
  EXPECT_TRUE(at::equal(empty_k, at::zeros({5, 7})));
  // bfloat16 and other types go to at::mm.
  const auto h = gemm(a.to(at::kBFloat16), b.to(at::kBFloat16));
  EXPECT_EQ(h.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(close(h, at::mm(a, b), 2e-2, 0.5));
  const std::string backend = gemm_backend();
  EXPECT_TRUE(backend == "onednn" || backend == "aten") << backend;
}

// TRM_GEMM picks the backend; a value that cannot be honoured is a ConfigError naming it.
TEST(Gemm, TheBackendVariableTakesOnlyValuesItCanHonour) {
  EXPECT_STREQ(gemm_backend_for(nullptr, true), "onednn");
  EXPECT_STREQ(gemm_backend_for("", true), "onednn");
  EXPECT_STREQ(gemm_backend_for(nullptr, false), "aten");
  EXPECT_STREQ(gemm_backend_for("aten", true), "aten");
  EXPECT_STREQ(gemm_backend_for("aten", false), "aten");
  EXPECT_STREQ(gemm_backend_for("onednn", true), "onednn");
  for (const auto& [value, built] :
       {std::pair<const char*, bool>{"blas", true}, {"ATEN", true}, {"onednn", false}}) {
    try {
      gemm_backend_for(value, built);
      ADD_FAILURE() << value << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("TRM_GEMM=") + value), std::string::npos)
          << e.what();
    }
  }
}

// g values over the whole float range the sigmoid must handle: around 0, near and beyond the
// exp's clamps (-87, 88.4), and huge; u and dp are of the activations' usual sizes.
at::Tensor wide_values(int64_t rows, int64_t cols) {
  auto t = at::randn({rows, cols}) * 4.0;
  const std::vector<float> edges = {0.0f,   -0.0f,   1e-30f, -1e-30f, 86.5f, -86.5f,
                                    87.5f,  -87.5f,  88.5f,  -88.5f,  89.5f, -89.5f,
                                    100.0f, -100.0f, 1e4f,   -1e4f,   3e38f, -3e38f};
  auto flat = t.view({-1});
  for (size_t k = 0; k < edges.size(); ++k)
    flat[static_cast<int64_t>(k) * 7 % flat.numel()] = edges[k];
  return t;
}

// The one-pass kernels equal silu(g) u and its gradients computed in float64, for the row layout
// (channel MLP: g and u side by side in each row) and the column layout (token MLP: g above u),
// with lengths that leave a vector tail; a NaN in g reaches every output.
TEST(SwiGluPointwise, OnePassKernelsEqualTheFloat64Formulas) {
  at::manual_seed(5);
  for (const bool rows : {true, false}) {
    const int64_t n = 29, i = 37;  // rows layout: [n, 2i]; column layout: [2i, n]
    const auto gu = rows ? at::cat({wide_values(n, i), at::randn({n, i})}, 1)
                         : at::cat({wide_values(i, n), at::randn({i, n})}, 0);
    const auto dp = rows ? at::randn({n, i}) : at::randn({i, n});
    const auto g = gu.chunk(2, rows ? 1 : 0)[0].to(at::kDouble);
    const auto u = gu.chunk(2, rows ? 1 : 0)[1].to(at::kDouble);
    const auto s = at::sigmoid(g), silu = g * s;
    const auto want_p = silu * u;
    const auto want_dg = dp.to(at::kDouble) * u * s * (1.0 + g * (1.0 - s));
    const auto want_du = dp.to(at::kDouble) * silu;
    const SwiGluLayout l =
        rows ? SwiGluLayout{n, i, 2 * i, i, i} : SwiGluLayout{1, i * n, 0, i * n, 0};
    auto p = at::empty_like(dp), dgu = at::empty_like(gu);
    swiglu_forward(gu.data_ptr<float>(), p.data_ptr<float>(), l);
    // Where float64 is beyond float32's range (silu(3e38) u), float32 must be infinite too;
    // values under 1e-30 are zero to the training (silu(-88) is -5e-37).
    const auto cmp = [&](const at::Tensor& got, const at::Tensor& want, const char* what) {
      EXPECT_TRUE(close(got, want.to(at::kFloat), 1e-5, 1e-30))
          << what << (rows ? " (rows)" : " (columns)") << "\n"
          << ((got.to(at::kDouble) - want).abs() / (want.abs() + 1e-30)).max();
    };
    // dg = dp u s (1 + g (1 - s)) cancels near silu's minimum (g = -1.278, where the last factor
    // is 0): there float32 (ATen's silu_backward as much as these kernels) is exact only to
    // float32's rounding of the terms, so dg is held to 1e-5 of the terms' size, not of itself.
    const auto cmp_dg = [&](const at::Tensor& got) {
      const auto scale = (dp.to(at::kDouble) * u * s).abs() * (1.0 + (g * (1.0 - s)).abs());
      const auto err = (got.to(at::kDouble) - want_dg).abs();
      EXPECT_TRUE(got.isfinite().all().item<bool>()) << "dg" << (rows ? " (rows)" : " (columns)");
      EXPECT_TRUE((err <= scale * 1e-5 + 1e-30).all().item<bool>())
          << "dg" << (rows ? " (rows)" : " (columns)") << ": error / terms' size up to "
          << ((err - 1e-30).clamp_min(0) / (scale + 1e-300)).max().item<double>();
    };
    cmp(p, want_p, "forward p");
    auto p2 = at::empty_like(dp);
    swiglu_backward(gu.data_ptr<float>(), dp.data_ptr<float>(), dgu.data_ptr<float>(),
                    p2.data_ptr<float>(), l);
    const auto dg = dgu.chunk(2, rows ? 1 : 0)[0], du = dgu.chunk(2, rows ? 1 : 0)[1];
    cmp(p2, want_p, "backward p");
    cmp_dg(dg);
    cmp(du, want_du, "du");
  }
  auto gu = at::randn({3, 40});
  gu[1][2] = std::numeric_limits<float>::quiet_NaN();
  auto p = at::empty({3, 20}), dgu = at::empty_like(gu);
  const SwiGluLayout l{3, 20, 40, 20, 20};
  swiglu_forward(gu.data_ptr<float>(), p.data_ptr<float>(), l);
  EXPECT_TRUE(std::isnan(p[1][2].item<float>()));
  EXPECT_EQ(p.isnan().sum().item<int64_t>(), 1);
  swiglu_backward(gu.data_ptr<float>(), at::ones({3, 20}).data_ptr<float>(), dgu.data_ptr<float>(),
                  p.data_ptr<float>(), l);
  EXPECT_TRUE(std::isnan(dgu[1][2].item<float>()));
  EXPECT_TRUE(std::isnan(dgu[1][22].item<float>()));
}

// The SwiGLU node (oneDNN products, one-pass kernels) against autograd on the separate float64
// ops, value and all three gradients, in both layouts.
TEST(SwiGluPointwise, TheMlpNodeEqualsAutogradOnTheSeparateFloat64Ops) {
  at::manual_seed(9);
  for (const bool rows : {true, false}) {
    const int64_t h = 24, inter = 40, m = 53;
    const auto x0 = rows ? at::randn({m, h}) : at::randn({h, m});
    const auto wgu0 = at::randn({2 * inter, h}) * 0.3, wd0 = at::randn({h, inter}) * 0.3;
    const auto dy = rows ? at::randn({m, h}) : at::randn({h, m});
    auto x = x0.clone().requires_grad_(), wgu = wgu0.clone().requires_grad_(),
         wd = wd0.clone().requires_grad_();
    auto xd = x0.to(at::kDouble).requires_grad_(), wgud = wgu0.to(at::kDouble).requires_grad_(),
         wdd = wd0.to(at::kDouble).requires_grad_();
    const auto y = rows ? swiglu_rows(x, wgu, wd) : swiglu_cols(x, wgu, wd);
    at::Tensor yd;
    if (rows) {
      const auto gu = at::mm(xd, wgud.t()).chunk(2, 1);
      yd = at::mm(at::silu(gu[0]) * gu[1], wdd.t());
    } else {
      const auto gu = at::mm(wgud, xd).chunk(2, 0);
      yd = at::mm(wdd, at::silu(gu[0]) * gu[1]);
    }
    (y * dy).sum().backward();
    (yd * dy.to(at::kDouble)).sum().backward();
    const char* where = rows ? "rows" : "columns";
    EXPECT_TRUE(close(y, yd, 1e-5, 1e-5)) << where;
    EXPECT_TRUE(close(x.grad(), xd.grad(), 1e-5, 1e-5)) << where;
    EXPECT_TRUE(close(wgu.grad(), wgud.grad(), 1e-5, 1e-5)) << where;
    EXPECT_TRUE(close(wd.grad(), wdd.grad(), 1e-5, 1e-5)) << where;
  }
}

// The linear layers' node (core/matmul_function.h, dense), value and the gradients of x, w and bias
// against float64 autograd: a 3-D input, a transposed (non-contiguous) one, one that needs no
// gradient (only w and bias get one), and the no-grad path, which must give the same value.
TEST(MatmulNodes, DenseEqualsFloat64Autograd) {
  at::manual_seed(21);
  const auto w0 = at::randn({19, 33}) * 0.2, b0 = at::randn({19});
  for (const int input : {0, 1, 2}) {
    const auto x0 = input == 1 ? at::randn({4, 33, 7}).transpose(1, 2) : at::randn({4, 7, 33});
    const bool x_grad = input != 2;
    const auto dy = at::randn({4, 7, 19});
    auto x = x0.clone().requires_grad_(x_grad), w = w0.clone().requires_grad_(),
         b = b0.clone().requires_grad_();
    auto xd = x0.to(at::kDouble).requires_grad_(x_grad), wd = w0.to(at::kDouble).requires_grad_(),
         bd = b0.to(at::kDouble).requires_grad_();
    const auto y = dense(x, w, b);
    const auto yd = at::linear(xd, wd, bd);
    ASSERT_EQ(y.sizes(), yd.sizes()) << input;
    (y * dy).sum().backward();
    (yd * dy.to(at::kDouble)).sum().backward();
    EXPECT_TRUE(close(y, yd, 1e-5, 1e-5)) << input;
    if (x_grad) {
      EXPECT_TRUE(close(x.grad(), xd.grad(), 1e-5, 1e-5)) << input;
    } else {
      EXPECT_FALSE(x.grad().defined()) << input;
    }
    EXPECT_TRUE(close(w.grad(), wd.grad(), 1e-5, 1e-5)) << input;
    EXPECT_TRUE(close(b.grad(), bd.grad(), 1e-5, 1e-5)) << input;
    at::NoGradGuard no_grad;
    EXPECT_TRUE(at::equal(dense(x0, w0, b0), y.detach())) << input;
    EXPECT_TRUE(
        close(dense(x0, w0), at::linear(x0.to(at::kDouble), w0.to(at::kDouble)), 1e-5, 1e-5))
        << input;
  }
}

// The attention's batched products: [B, H, S, d] views of [B, S, H, d] (the layout attention
// hands over), the transposed k, a single batch (the product on all threads), a batch count
// that is not a multiple of the thread count, and broadcast batch sizes (left to at::matmul),
// value and both gradients against float64 autograd.
TEST(MatmulNodes, BatchedMatmulEqualsFloat64Autograd) {
  at::manual_seed(22);
  struct Case {
    at::Tensor a, b;
    const char* what;
  };
  const std::vector<Case> cases = {
      {at::randn({2, 9, 3, 8}).transpose(1, 2),
       at::randn({2, 9, 3, 8}).transpose(1, 2).transpose(-2, -1), "q k^T as attention views"},
      {at::randn({2, 3, 9, 9}), at::randn({2, 9, 3, 8}).transpose(1, 2), "probs v"},
      {at::randn({1, 6, 5}), at::randn({1, 5, 4}), "one batch"},
      {at::randn({7, 6, 5}), at::randn({7, 5, 4}), "seven batches"},
      {at::randn({3, 6, 5}), at::randn({1, 5, 4}), "broadcast batch"},
  };
  for (const auto& c : cases) {
    auto a = c.a.clone().requires_grad_(), b = c.b.clone().requires_grad_();
    auto ad = c.a.to(at::kDouble).requires_grad_(), bd = c.b.to(at::kDouble).requires_grad_();
    const auto y = batched_matmul(a, b);
    const auto yd = at::matmul(ad, bd);
    ASSERT_EQ(y.sizes(), yd.sizes()) << c.what;
    const auto dy = at::randn(y.sizes());
    (y * dy).sum().backward();
    (yd * dy.to(at::kDouble)).sum().backward();
    EXPECT_TRUE(close(y, yd, 1e-5, 1e-5)) << c.what;
    EXPECT_TRUE(close(a.grad(), ad.grad(), 1e-5, 1e-5)) << c.what;
    EXPECT_TRUE(close(b.grad(), bd.grad(), 1e-5, 1e-5)) << c.what;
    at::NoGradGuard no_grad;
    EXPECT_TRUE(at::equal(batched_matmul(c.a, c.b), y.detach())) << c.what;
  }
}

// The token-MLP node runs by blocks of columns that stay in cache (core/swiglu_function.cpp):
// with 2 i = 1024 a forward block is 512 columns and a backward block 1024, so here 8 + 1 and
// 4 + 1 ragged ones, several per thread (the weight gradients add up blocks within a thread and
// then across threads). Its output equals the whole-tensor products and pointwise kernel, and
// the float64 ops; the no-grad and the grad path give the same y; the gradients equal float64
// autograd's.
TEST(SwiGluFused, TokenMlpBlocksEqualTheWholeTensorSteps) {
  at::manual_seed(13);
  const int64_t h = 97, inter = 512, m = 4 * 1024 + 7;
  const auto x0 = at::randn({h, m}), wgu0 = at::randn({2 * inter, h}) * 0.2,
             wd0 = at::randn({h, inter}) * 0.05;
  at::Tensor y_nograd;
  {
    at::NoGradGuard no_grad;
    y_nograd = swiglu_cols(x0, wgu0, wd0);
  }
  auto x = x0.clone().requires_grad_(), wgu = wgu0.clone().requires_grad_(),
       wd = wd0.clone().requires_grad_();
  const auto y = swiglu_cols(x, wgu, wd);
  // The steps one at a time on whole tensors, with the same kernels.
  const auto gu = gemm(wgu0, x0);
  auto p = at::empty({inter, m});
  swiglu_forward(gu.data_ptr<float>(), p.data_ptr<float>(), {1, inter * m, 0, inter * m, 0});
  const auto y_steps = gemm(wd0, p);
  const double scale = y_steps.abs().max().item<double>();
  EXPECT_LE((y - y_steps).abs().max().item<double>(), 1e-6 * scale);
  EXPECT_LE((y_nograd - y_steps).abs().max().item<double>(), 1e-6 * scale);
  // Against float64 ops, and the backward through the kept [g; u].
  auto xd = x0.to(at::kDouble).requires_grad_(), wgud = wgu0.to(at::kDouble).requires_grad_(),
       wdd = wd0.to(at::kDouble).requires_grad_();
  const auto gud = at::mm(wgud, xd).chunk(2, 0);
  const auto yd = at::mm(wdd, at::silu(gud[0]) * gud[1]);
  EXPECT_TRUE(close(y, yd, 1e-5, 1e-5 * scale));
  const auto dy = at::randn({h, m});
  (y * dy).sum().backward();
  (yd * dy.to(at::kDouble)).sum().backward();
  for (const auto& [got, want, what] :
       {std::tuple<at::Tensor, at::Tensor, const char*>{x.grad(), xd.grad(), "dx"},
        {wgu.grad(), wgud.grad(), "dW_gate_up"},
        {wd.grad(), wdd.grad(), "dW_down"}}) {
    const double s = want.abs().max().item<double>();
    EXPECT_LE((got.to(at::kDouble) - want).abs().max().item<double>(), 1e-5 * s) << what;
  }
}

}  // namespace
}  // namespace trm::core
