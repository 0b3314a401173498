#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/act.h"
#include "core/ema.h"
#include "core/gemm.h"
#include "core/heap.h"
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
    EXPECT_TRUE(at::equal(model->puzzle_emb()->weights, puzzle_table))
        << "buffers are not averaged";
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
// the bytes it asked for, and the process goes on (a small tensor still allocates). `reuse`: the
// heap keeps freed memory, as in the train verb.
void allocate_beyond_budget(bool reuse) {
  if (reuse && !keep_freed_memory_for_reuse()) std::exit(4);
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
  EXPECT_EXIT(allocate_beyond_budget(false), testing::ExitedWithCode(42), "");
  EXPECT_EXIT(allocate_beyond_budget(true), testing::ExitedWithCode(42), "") << "heap reuse";
}

int64_t resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}

// oneDNN builds its sgemm kernels at its first product, and under the heap limit that crashed
// (SIGSEGV in its kernel generator) where it should have failed: a trial with a tight budget
// died without a word. set_cpu_memory_budget has them built first; here a budget just above
// what the process already holds leaves no room to build them later.
void products_in_every_layout_just_within_the_budget() {
  set_cpu_memory_budget(resident_bytes() + (int64_t{1} << 20));
  std::vector<float> a(64 * 64, 0.5f), b(a), c(a);
  for (const char ta : {'N', 'T'}) {
    for (const char tb : {'N', 'T'}) {
      try {
        if (raw_sgemm_available()) {
          raw_sgemm(ta, tb, 64, 64, 64, a.data(), 64, b.data(), 64, c.data(), 64, false);
        }
      } catch (const std::exception& e) {
        if (!as_out_of_memory(e)) std::exit(2);  // out of memory is an answer; anything else not
      }
    }
  }
  std::exit(42);
}

TEST(OutOfMemoryDeathTest, TheMatrixProductsUnderATightBudgetDoNotCrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(products_in_every_layout_just_within_the_budget(), testing::ExitedWithCode(42), "");
}

long minor_page_faults() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

// A training step frees and asks again for the same large activations at every evaluation: with
// the heap set as the train verb sets it, the second round of tensors takes the first round's
// pages instead of faulting in fresh zeroed ones (glibc's default maps a block above 32 MiB
// afresh each time). A thread can still allocate a block larger than its arena.
TEST(Heap, FreedLargeTensorsAreReusedWithoutFaultingTheirPagesInAgain) {
  ASSERT_TRUE(keep_freed_memory_for_reuse());
  auto round = [] {
    const long before = minor_page_faults();
    std::vector<at::Tensor> live;
    for (const int64_t mib : {48, 8, 64, 1, 40}) {
      live.push_back(at::empty({mib << 18}, at::kFloat));
      live.back().fill_(static_cast<float>(mib));
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(live.back().data_ptr()) % 64, 0u) << "aligned";
    }
    EXPECT_EQ(live[2][(64 << 18) - 1].item<float>(), 64.0f);
    return minor_page_faults() - before;
  };
  const long first = round();
  const long second = round();
  EXPECT_GT(first, 0);
  EXPECT_LT(second * 4, first) << "first " << first << " faults, second " << second;

  // A size that cannot be padded is an allocation failure, not a wrapped-around small block.
  try {
    (void)c10::GetCPUAllocator()->allocate(SIZE_MAX - 8);
    ADD_FAILURE() << "allocated SIZE_MAX - 8 bytes";
  } catch (const c10::Error& e) {
    const auto oom = as_out_of_memory(e);
    ASSERT_TRUE(oom.has_value()) << e.what();
    EXPECT_EQ(oom->requested_bytes(), std::numeric_limits<int64_t>::max()) << "beyond int64";
  }

  double sum = 0;
  std::thread([&] { sum = at::ones({int64_t{64} << 20}, at::kFloat).sum().item<double>(); }).join();
  EXPECT_EQ(sum, static_cast<double>(int64_t{64} << 20));
}

}  // namespace
}  // namespace trm::core
