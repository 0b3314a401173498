// The fused autograd nodes against the separate ATen ops they replace, on the Sudoku TRM-MLP's
// shapes at batch 32, alternating in one run:
//  - SwiGLU forward + backward as separate ops (silu, mul, two matmuls) against the one node of
//    core/swiglu_function.h: time per call and the bytes each keeps for the backward;
//  - residual add + RMSNorm forward + backward (core/layers.h's rms_norm(x + y)) against
//    core/add_rms_norm.h, over the last axis and over axis 0 (the token-MLP's norm);
//  - the attention's products, forward + backward (qkv projection, q k^T, probs v, o_proj) by
//    at::linear / at::matmul (LibTorch's BLAS) against core/matmul_function.h (oneDNN's sgemm).
//
// Usage: bench_fused [--threads N] [--seconds S]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>

#include "core/add_rms_norm.h"
#include "core/heap.h"
#include "core/layers.h"
#include "core/matmul_function.h"
#include "core/swiglu_function.h"
#include "core/swiglu_pointwise.h"

namespace {

using Clock = std::chrono::steady_clock;

double time_it(const std::function<void()>& f, double seconds) {
  f();
  int n = 0;
  const auto t0 = Clock::now();
  do {
    f();
    ++n;
  } while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds);
  return std::chrono::duration<double>(Clock::now() - t0).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double seconds = 4.0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_fused [--threads N] [--seconds S]\n");
      return 2;
    }
  }
  trm::core::keep_freed_memory_for_reuse();  // as the train verb does
  at::set_num_threads(threads);
  at::manual_seed(0);
  const int64_t B = 32, S = 97, D = 512;
  struct Shape {
    const char* name;
    int64_t h, inter, m;  // x is [m, h] (rows) or [h, m] (cols)
    bool rows;
  };
  const Shape shapes[] = {{"channel MLP (rows)", D, 1536, B * S, true},
                          {"token MLP (cols)", S, 512, B * D, false}};
  std::printf("threads %d, batch %lld\n\n", threads, static_cast<long long>(B));
  std::printf(
      "| shape | autograd ops ms | one node ms | speed-up | kept for backward: ops | one node |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& s : shapes) {
    auto x = s.rows ? at::randn({s.m, s.h}) : at::randn({s.h, s.m});
    auto wgu = (at::randn({2 * s.inter, s.h}) * 0.02).requires_grad_();
    auto wd = (at::randn({s.h, s.inter}) * 0.02).requires_grad_();
    x.requires_grad_();
    auto ops = [&] {
      at::Tensor y;
      if (s.rows) {
        const auto gu = at::mm(x, wgu.t()).chunk(2, 1);
        y = at::mm(at::silu(gu[0]) * gu[1], wd.t());
      } else {
        const auto gu = at::mm(wgu, x).chunk(2, 0);
        y = at::mm(wd, at::silu(gu[0]) * gu[1]);
      }
      y.sum().backward();
    };
    auto node = [&] {
      const auto y =
          s.rows ? trm::core::swiglu_rows(x, wgu, wd) : trm::core::swiglu_cols(x, wgu, wd);
      y.sum().backward();
    };
    double t_ops = 0, t_node = 0;
    for (int round = 0; round < 2; ++round) {
      t_ops += time_it(ops, seconds / 4);
      t_node += time_it(node, seconds / 4);
    }
    // Saved tensors: x, [g; u], silu(g), silu(g) u for the ops; x and [g; u] for the node.
    const double x_b = 4.0 * s.m * s.h, gu_b = 4.0 * s.m * 2 * s.inter, i_b = 4.0 * s.m * s.inter;
    std::printf("| %s | %.1f | %.1f | %.2fx | %.0f MiB | %.0f MiB |\n", s.name, t_ops / 2 * 1e3,
                t_node / 2 * 1e3, t_ops / t_node, (x_b + gu_b + 2 * i_b) / 1048576.0,
                (x_b + gu_b) / 1048576.0);
  }

  // The pointwise half alone: ATen's ops (as the node did before) against the one-pass kernels of
  // core/swiglu_pointwise.h, on the channel MLP's [g | u] ([B S, 2 i], row layout).
  std::printf("\n| SwiGLU pointwise, [%lld, 2 x 1536] | ATen ops ms | one pass ms | speed-up |\n",
              static_cast<long long>(B * S));
  std::printf("|---|---:|---:|---:|\n");
  {
    const int64_t n = B * S, i = 1536;
    const auto gu = at::randn({n, 2 * i}), dp = at::randn({n, i});
    const trm::core::SwiGluLayout l{n, i, 2 * i, i, i};
    auto p = at::empty({n, i}), dgu = at::empty({n, 2 * i});
    const auto g = gu.narrow(1, 0, i), u = gu.narrow(1, i, i);
    auto fwd_ops = [&] { p = at::silu(g).mul_(u); };
    auto fwd_one = [&] { trm::core::swiglu_forward(gu.data_ptr<float>(), p.data_ptr<float>(), l); };
    auto bwd_ops = [&] {
      const auto s = at::silu(g);
      auto dg = dgu.narrow(1, 0, i), du = dgu.narrow(1, i, i);
      at::silu_backward_out(dg, dp * u, g);
      at::mul_out(du, dp, s);
      p = s.mul_(u);
    };
    auto bwd_one = [&] {
      trm::core::swiglu_backward(gu.data_ptr<float>(), dp.data_ptr<float>(), dgu.data_ptr<float>(),
                                 p.data_ptr<float>(), l);
    };
    for (const auto& [name, a, b] :
         {std::tuple<const char*, std::function<void()>, std::function<void()>>{"forward", fwd_ops,
                                                                                fwd_one},
          {"backward (dg, du, p)", bwd_ops, bwd_one}}) {
      double t_a = 0, t_b = 0;
      for (int round = 0; round < 2; ++round) {
        t_a += time_it(a, seconds / 8);
        t_b += time_it(b, seconds / 8);
      }
      std::printf("| %s | %.2f | %.2f | %.2fx |\n", name, t_a / 2 * 1e3, t_b / 2 * 1e3, t_a / t_b);
    }
  }

  std::printf("\n| residual + RMSNorm [S, B, D] | autograd ops ms | one node ms | speed-up |\n");
  std::printf("|---|---:|---:|---:|\n");
  for (const int64_t dim : {int64_t{-1}, int64_t{0}}) {
    auto x = at::randn({S, B, D}).requires_grad_(), y = at::randn({S, B, D}).requires_grad_();
    const auto g = at::randn({S, B, D});
    auto ops = [&] { trm::core::rms_norm(x + y, 1e-5, dim).backward(g); };
    auto node = [&] { trm::core::add_rms_norm(x, y, 1e-5, dim).backward(g); };
    double t_ops = 0, t_node = 0;
    for (int round = 0; round < 2; ++round) {
      t_ops += time_it(ops, seconds / 8);
      t_node += time_it(node, seconds / 8);
    }
    std::printf("| over %s | %.2f | %.2f | %.2fx |\n",
                dim == 0 ? "axis 0 (positions)" : "the last axis (channels)", t_ops / 2 * 1e3,
                t_node / 2 * 1e3, t_ops / t_node);
  }

  // The attention's products as core/layers.cpp runs them (8 heads of 64), the softmax between.
  std::printf(
      "\n| attention products, forward + backward, [%lld, %lld, %lld], 8 heads | at::linear / "
      "at::matmul ms | core/matmul_function.h ms | speed-up |\n",
      static_cast<long long>(B), static_cast<long long>(S), static_cast<long long>(D));
  std::printf("|---|---:|---:|---:|\n");
  {
    const int64_t H = 8, hd = D / H;
    auto x = at::randn({B, S, D}).requires_grad_();
    auto w_qkv = (at::randn({3 * D, D}) * 0.04).requires_grad_();
    auto w_o = (at::randn({D, D}) * 0.04).requires_grad_();
    const auto g = at::randn({B, S, D});
    const auto attention = [&](bool nodes) {
      const auto lin = [&](const at::Tensor& in, const at::Tensor& w) {
        return nodes ? trm::core::dense(in, w) : at::linear(in, w);
      };
      const auto mm = [&](const at::Tensor& a, const at::Tensor& b) {
        return nodes ? trm::core::batched_matmul(a, b) : at::matmul(a, b);
      };
      const auto qkv = lin(x, w_qkv).view({B, S, 3 * H, hd});
      const auto q = qkv.slice(2, 0, H).transpose(1, 2), k = qkv.slice(2, H, 2 * H).transpose(1, 2),
                 v = qkv.slice(2, 2 * H).transpose(1, 2);
      const auto probs = at::softmax(mm(q, k.transpose(-2, -1)) / 8.0, -1);
      const auto out = mm(probs, v).transpose(1, 2).reshape({B, S, D});
      lin(out, w_o).backward(g);
    };
    double t_aten = 0, t_nodes = 0;
    for (int round = 0; round < 2; ++round) {
      t_aten += time_it([&] { attention(false); }, seconds / 4);
      t_nodes += time_it([&] { attention(true); }, seconds / 4);
    }
    std::printf("| float32 | %.1f | %.1f | %.2fx |\n", t_aten / 2 * 1e3, t_nodes / 2 * 1e3,
                t_aten / t_nodes);
  }
  return 0;
}
