#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <stdexcept>

#include "core/act.h"
#include "core/ema.h"
#include "core/out_of_memory.h"
#include "core/trm_model.h"
#include "tests/core/tiny_config.h"

namespace trm::core {
namespace {

ModelConfig tiny() { return tiny_config(); }

TEST(Ema, TheShadowIsTheMovingAverageOfTheParameters) {
  auto model = make_model(tiny(), c10::Device(c10::kCPU));
  Ema ema(model, 0.75);
  const auto before = model->trainable_parameters()[0].detach().clone();
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->trainable_parameters()) p.add_(1.0);
  }
  ema.update(model);
  EXPECT_TRUE(at::allclose(ema.shadow()[0], before + 0.25));
}

TEST(Ema, EvaluationUnderTheShadowUsesItAndRestoresTheTrainingWeights) {
  auto model = make_model(tiny(), c10::Device(c10::kCPU));
  Ema ema(model, 0.999);
  const auto shadow_copy = ema.shadow()[0].clone();
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->trainable_parameters()) p.mul_(2.0);
  }
  const auto trained = model->trainable_parameters()[0].detach().clone();
  const auto puzzle_table = model->puzzle_emb()->weights.clone();
  {
    Ema::Applied applied(ema, model);
    EXPECT_TRUE(at::equal(model->trainable_parameters()[0], shadow_copy));
    EXPECT_TRUE(at::equal(model->puzzle_emb()->weights, puzzle_table)) << "buffers are not averaged";
  }
  EXPECT_TRUE(at::equal(model->trainable_parameters()[0], trained));
  EXPECT_TRUE(at::equal(ema.shadow()[0], shadow_copy));
}

TEST(OutOfMemory, AllocationFailuresOfEveryKindAreRecognised) {
  const auto bad = as_out_of_memory(std::bad_alloc());
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->requested_bytes(), -1);
  EXPECT_FALSE(as_out_of_memory(std::runtime_error("can't allocate memory")).has_value())
      << "only allocator errors count, not any text";
  try {
    at::ones({2}).view({3});
  } catch (const std::exception& e) {
    EXPECT_FALSE(as_out_of_memory(e).has_value()) << "a shape error is not an OOM";
  }
}

// In a child process: with a 1 GiB heap budget an 8 GiB tensor fails as OutOfMemoryError with
// the bytes it asked for, and the process goes on (a small tensor still allocates).
void allocate_beyond_budget() {
  set_cpu_memory_budget(int64_t{1} << 30);
  try {
    auto big = at::empty({int64_t{2} << 30}, at::kFloat);
    std::exit(1);  // the budget did not hold
  } catch (const std::exception& e) {
    const auto oom = as_out_of_memory(e);
    if (!oom || oom->requested_bytes() != (int64_t{8} << 30)) std::exit(2);
  }
  auto small = at::ones({1024});
  std::exit(small.sum().item<double>() == 1024.0 ? 42 : 3);
}

TEST(OutOfMemoryDeathTest, ATensorBeyondTheBudgetIsAnOutOfMemoryErrorNotACrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(allocate_beyond_budget(), testing::ExitedWithCode(42), "");
}

TEST(OutOfMemory, ANonPositiveBudgetIsAConfigError) {
  EXPECT_THROW(set_cpu_memory_budget(0), ConfigError);
}

}  // namespace
}  // namespace trm::core
