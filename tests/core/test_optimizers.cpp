#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/optimizers.h"

namespace trm::core {
namespace {

TEST(LearningRate, WarmsUpLinearlyFromTheFirstStepThenStaysConstant) {
  EXPECT_DOUBLE_EQ(scheduled_lr(1, 1e-4, 2000, 65104, 1.0), 1e-4 / 2000);
  EXPECT_DOUBLE_EQ(scheduled_lr(1000, 1e-4, 2000, 65104, 1.0), 0.5e-4);
  EXPECT_DOUBLE_EQ(scheduled_lr(2000, 1e-4, 2000, 65104, 1.0), 1e-4);
  EXPECT_DOUBLE_EQ(scheduled_lr(60000, 1e-4, 2000, 65104, 1.0), 1e-4);
}

TEST(LearningRate, CosineDecaysToTheMinimumRatio) {
  EXPECT_NEAR(scheduled_lr(100, 1.0, 0, 100, 0.1), 0.1, 1e-12);
  EXPECT_NEAR(scheduled_lr(50, 1.0, 0, 100, 0.1), 0.55, 1e-12);
}

TEST(AdamATan2, TheFirstStepIsSignLikeWhateverTheGradientScale) {
  for (double scale : {1e-8, 1.0, 1e6}) {
    auto p = at::zeros({3});
    p.mutable_grad() = at::tensor({scale, -scale, 0.0}, at::kFloat);
    AdamATan2 opt({p}, AdamATan2Options(1e-3).weight_decay(0.0));
    opt.step();
    const double expected = 1e-3 * std::atan(0.1) / 0.1;  // lr / (1 - b1) * atan2(0.1 g, |g|)
    EXPECT_NEAR(p[0].item<double>(), -expected, 1e-9) << scale;
    EXPECT_NEAR(p[1].item<double>(), expected, 1e-9) << scale;
    EXPECT_EQ(p[2].item<double>(), 0.0) << "atan2(0, 0) = 0: no move without gradient";
  }
}

TEST(AdamATan2, DecayIsDecoupledAndAppliedToEveryParameter) {
  auto p = at::ones({2});
  p.mutable_grad() = at::zeros({2});
  AdamATan2 opt({p}, AdamATan2Options(0.5).weight_decay(0.1));
  opt.step();
  EXPECT_NEAR(p[0].item<double>(), 1.0 - 0.5 * 0.1, 1e-7);
  EXPECT_EQ(opt.state_of(p)->step(), 1);
}

TEST(SparseSignSGD, SumsDuplicateIdsAndLeavesUnusedRowsAlone) {
  PuzzleEmbeddingImpl emb(3, 2);
  emb.weights.copy_(at::ones({3, 2}));
  emb.local_ids = at::tensor({1, 1, 0}, at::kLong);
  emb.local_weights = at::zeros({3, 2}).requires_grad_(true);
  // Row id 1: +2 and -3 sum to -1 (sign -1); id 0: +0.5.
  emb.local_weights.mutable_grad() = at::tensor({2.0f, 1.0f, -3.0f, 1.0f, 0.5f, -0.5f}).view({3, 2});
  sparse_sign_sgd_step(emb, 0.1, 1.0);
  const double decayed = 1.0 * (1.0 - 0.1);
  EXPECT_NEAR(emb.weights[1][0].item<double>(), decayed + 0.1, 1e-7);
  EXPECT_NEAR(emb.weights[1][1].item<double>(), decayed - 0.1, 1e-7);
  EXPECT_NEAR(emb.weights[0][0].item<double>(), decayed - 0.1, 1e-7);
  EXPECT_NEAR(emb.weights[0][1].item<double>(), decayed + 0.1, 1e-7);
  EXPECT_EQ(emb.weights[2][0].item<double>(), 1.0) << "id 2 was not in the batch: no decay";
}

}  // namespace
}  // namespace trm::core
