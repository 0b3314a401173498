#include <gtest/gtest.h>

#include "core/config.h"
#include "core/cost_model.h"

namespace trm::core {
namespace {

TEST(CostModel, CountsEveryMatmulOfTheSudokuTokenMlpBlock) {
  const ModelConfig c;  // D 512, 97 positions, channel inter 1536, token inter 512
  const double channel = 2.0 * 97 * 512 * 3072 + 2.0 * 97 * 1536 * 512;
  const double token = 2.0 * 512 * 97 * 1024 + 2.0 * 512 * 512 * 97;
  EXPECT_DOUBLE_EQ(network_flops(c, 1), 2 * (channel + token));
  EXPECT_DOUBLE_EQ(network_flops(c, 32), 32 * network_flops(c, 1));
}

TEST(CostModel, AttentionCountsProjectionsAndBothScoreProducts) {
  const auto c = trm_attention_config();
  const double S = 97, D = 512;
  const double attention = 2 * S * D * 3 * D + 2 * S * D * D + 4 * S * S * D;
  const double channel = 2.0 * 97 * 512 * 3072 + 2.0 * 97 * 1536 * 512;
  EXPECT_DOUBLE_EQ(network_flops(c, 1), 2 * (attention + channel));
}

TEST(CostModel, BackwardCoversOnlyTheBackPropagatedEvaluations) {
  ModelConfig c;
  const double eval = network_flops(c, 8);
  const double heads = 2.0 * 8 * 97 * 512 * 11 + 2.0 * 8 * 512 * 2;
  auto f = training_step_flops(c, 8);
  EXPECT_DOUBLE_EQ(f.forward, 21 * eval + heads);  // T (n + 1) = 3 * 7
  EXPECT_DOUBLE_EQ(f.backward, 2 * (7 * eval + heads));
  c.gradient = GradientMode::one_step;
  EXPECT_DOUBLE_EQ(training_step_flops(c, 8).backward, 2 * (2 * eval + heads));
  c.gradient = GradientMode::full;
  c.halting = Halting::act;  // the extra no-grad pass for the Q target
  EXPECT_DOUBLE_EQ(training_step_flops(c, 8).forward, 2 * (21 * eval + heads));
}

}  // namespace
}  // namespace trm::core
