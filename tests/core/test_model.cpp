#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "core/act.h"
#include "core/add_rms_norm.h"
#include "core/errors.h"
#include "core/layers.h"
#include "core/loss.h"
#include "core/trm_model.h"
#include "tests/core/tiny_config.h"

namespace trm::core {
namespace {

ModelConfig tiny(TokenMixer mixer = TokenMixer::mlp) { return tiny_config(mixer); }

Batch tiny_batch(const ModelConfig& c, int64_t B = 3) {
  at::manual_seed(7);
  auto inputs = at::randint(1, c.vocab_size, {B, c.seq_len}, at::kInt);
  auto labels = at::randint(2, c.vocab_size, {B, c.seq_len}, at::kInt);
  auto ids = at::randint(0, c.num_puzzle_identifiers, {B}, at::kInt);
  return {inputs, labels, ids};
}

int64_t count_of(ModelConfig c) { return make_model(c, c10::Device(c10::kCPU))->parameter_count(); }

// The fused residual + RMSNorm equals the reference's separate ops, forward and backward, over
// the last axis and over axis 0 (the token-MLP's norm over positions), on shapes that do not
// divide its row and column blocks; a strided input is accepted; bfloat16 takes the ops' path.
TEST(ModelNorm, FusedAddRmsNormEqualsTheSeparateOpsForwardAndBackward) {
  at::manual_seed(3);
  for (const int64_t dim : {int64_t{-1}, int64_t{0}}) {
    for (const auto& shape : {std::vector<int64_t>{37, 5, 24}, std::vector<int64_t>{97, 3, 300}}) {
      const auto x0 = at::randn(shape) * 3.0, y0 = at::randn(shape), g = at::randn(shape);
      const auto xa = x0.clone().requires_grad_(), ya = y0.clone().requires_grad_();
      const auto xb = x0.clone().requires_grad_(), yb = y0.clone().requires_grad_();
      const auto fused = add_rms_norm(xa, ya, 1e-5, dim);
      const auto ops = rms_norm(xb + yb, 1e-5, dim);
      EXPECT_TRUE(at::allclose(fused, ops, 1e-5, 1e-6)) << "dim " << dim;
      (fused * g).sum().backward();
      (ops * g).sum().backward();
      EXPECT_TRUE(at::allclose(xa.grad(), xb.grad(), 1e-4, 1e-6)) << "dim " << dim;
      EXPECT_TRUE(at::allclose(ya.grad(), yb.grad(), 1e-4, 1e-6)) << "dim " << dim;
      // The value along each normalised vector has mean square 1 (up to eps).
      const auto ms = fused.detach().square().mean(dim);
      EXPECT_TRUE(at::allclose(ms, at::ones_like(ms), 1e-3, 1e-3));
    }
  }
  const auto a = at::randn({8, 16}), b = at::randn({16, 8}).t();  // b is strided
  EXPECT_TRUE(at::allclose(add_rms_norm(a, b, 1e-5, -1), rms_norm(a + b, 1e-5, -1), 1e-5, 1e-6));
  const auto h = add_rms_norm(a.to(at::kBFloat16), a.to(at::kBFloat16), 1e-5, -1);
  EXPECT_EQ(h.scalar_type(), at::kBFloat16);
}

TEST(ModelParameters, CountsMatchThePapersModels) {
  EXPECT_EQ(count_of(ModelConfig{}), 5'028'866);           // Sudoku TRM-MLP, "5M"
  EXPECT_EQ(count_of(trm_attention_config()), 6'828'034);  // Sudoku TRM-Att, "7M"
  ModelConfig four_layers;
  four_layers.layers = 4;
  four_layers.l_cycles = 3;
  EXPECT_EQ(count_of(four_layers), 10'045'442);  // "w/ 4-layers, n = 3", "10M"
  ModelConfig separate;
  separate.networks = Networks::separate;
  EXPECT_EQ(count_of(separate), 10'045'442);      // "w/ separate fH, fL", "10M"
  EXPECT_EQ(count_of(hrm_config()), 27'275'266);  // HRM, "27M"
}

TEST(ModelInit, TruncatedNormalHasTheTargetStdAndTheJaxBound) {
  at::manual_seed(0);
  auto t = at::empty({400000});
  trunc_normal_(t, 0.5);
  EXPECT_NEAR(t.std().item<double>(), 0.5, 0.005);
  // Truncation at 2 underlying sigmas, underlying sigma = std / 0.8796...
  EXPECT_LE(t.abs().max().item<double>(), 2.0 * 0.5 / 0.87962566103423978 + 1e-6);
  EXPECT_GT(t.abs().max().item<double>(), 1.1);
}

TEST(ModelInit, QHeadStartsAtZeroWeightAndBiasMinusFive) {
  auto model = make_model(tiny(), c10::Device(c10::kCPU));
  const auto c = tiny();
  auto batch = tiny_batch(c);
  auto latents = model->initial_latents(3);
  const auto out = model->forward(latents, batch.inputs, batch.puzzle_identifiers);
  EXPECT_TRUE(at::allclose(out.q_halt, at::full({3}, -5.0)));
  EXPECT_TRUE(at::allclose(out.q_continue, at::full({3}, -5.0)));
}

TEST(ModelShapes, EveryVariantRunsAStepWithTheReferenceShapes) {
  struct Case {
    const char* name;
    ModelConfig c;
  };
  std::vector<Case> cases;
  for (auto mixer : {TokenMixer::mlp, TokenMixer::attention}) {
    for (auto latent : {Latent::yz, Latent::single_z, Latent::multiscale_z}) {
      for (auto grad : {GradientMode::full, GradientMode::one_step}) {
        auto c = tiny(mixer);
        c.latent = latent;
        c.gradient = grad;
        cases.push_back({"variant", c});
      }
    }
  }
  auto separate = tiny();
  separate.networks = Networks::separate;
  cases.push_back({"separate", separate});
  auto learned = tiny();
  learned.pos_encodings = PosEncoding::learned;
  cases.push_back({"learned", learned});
  for (auto& [name, c] : cases) {
    SCOPED_TRACE(std::string(name) + " latent " + std::to_string(static_cast<int>(c.latent)));
    auto model = make_model(c, c10::Device(c10::kCPU));
    model->train();
    auto batch = tiny_batch(c);
    auto carry = initial_carry(model, batch);
    const auto step = act_step(model, carry, batch);
    EXPECT_EQ(step.out.logits.sizes(), (std::vector<int64_t>{3, c.seq_len, c.vocab_size}));
    EXPECT_EQ(step.out.q_halt.scalar_type(), at::kFloat);
    const auto loss = act_loss(c, carry, step);
    loss.total.backward();
    for (const auto& p : model->named_parameters()) {
      if (p.key().find("embed_pos") != std::string::npos && c.pos_encodings != PosEncoding::learned)
        continue;
      EXPECT_TRUE(p.value().grad().defined()) << p.key() << " got no gradient";
    }
  }
}

TEST(ModelGradient, OneStepGradientEqualsFullWhenThereIsOneZUpdate) {
  // n = 1: the last round has one z-update and one y-update, both graded in either mode.
  auto grads = [](GradientMode mode, int64_t n) {
    auto c = tiny();
    c.l_cycles = n;
    c.gradient = mode;
    at::manual_seed(3);
    auto model = make_model(c, c10::Device(c10::kCPU));
    model->train();
    auto batch = tiny_batch(c);
    auto carry = initial_carry(model, batch);
    const auto step = act_step(model, carry, batch);
    act_loss(c, carry, step).total.backward();
    return model->named_parameters()["L_level.layers.0.mlp.down_proj.weight"].grad().clone();
  };
  EXPECT_TRUE(at::equal(grads(GradientMode::full, 1), grads(GradientMode::one_step, 1)));
  EXPECT_FALSE(at::allclose(grads(GradientMode::full, 3), grads(GradientMode::one_step, 3)));
}

TEST(ModelNetworks, SeparateNetworksAddAnHLevelThatOnlyTheYUpdateUses) {
  auto c = tiny();
  c.networks = Networks::separate;
  auto model = make_model(c, c10::Device(c10::kCPU));
  const auto params = model->named_parameters();
  EXPECT_TRUE(params.contains("H_level.layers.0.mlp.gate_up_proj.weight"));
  EXPECT_TRUE(params.contains("L_level.layers.0.mlp.gate_up_proj.weight"));
  EXPECT_FALSE(make_model(tiny(), c10::Device(c10::kCPU))
                   ->named_parameters()
                   .contains("H_level.layers.0.mlp.gate_up_proj.weight"));
}

TEST(ModelHalting, EvalRunsExactlyNSupStepsEvenWhenQHaltSaysStop) {
  auto c = tiny();
  auto model = make_model(c, c10::Device(c10::kCPU));
  {
    at::NoGradGuard no_grad;
    model->named_parameters()["q_head.bias"].fill_(10.0);  // q_halt >> 0: "halt now"
  }
  auto batch = tiny_batch(c);
  model->train();
  auto train_carry = initial_carry(model, batch);
  act_step(model, train_carry, batch);
  EXPECT_TRUE(train_carry.halted.all().item<bool>()) << "training halts on q_halt > 0";

  model->eval();
  at::NoGradGuard no_grad;
  auto carry = initial_carry(model, batch);
  for (int64_t s = 1; s <= c.halt_max_steps; ++s) {
    const auto step = act_step(model, carry, batch);
    EXPECT_EQ(carry.halted.all().item<bool>(), s == c.halt_max_steps) << "step " << s;
    EXPECT_FALSE(step.target_q_continue.defined());
  }
}

TEST(ModelHalting, ActTrainingComputesTheContinueTargetFromAnExtraPass) {
  auto c = tiny();
  c.halting = Halting::act;
  auto model = make_model(c, c10::Device(c10::kCPU));
  model->train();
  auto batch = tiny_batch(c);
  auto carry = initial_carry(model, batch);
  const auto step = act_step(model, carry, batch);
  ASSERT_TRUE(step.target_q_continue.defined());
  // Fresh Q head: every next-step logit is -5, so the target is sigmoid(-5).
  EXPECT_TRUE(at::allclose(step.target_q_continue, at::full({3}, 1.0 / (1.0 + std::exp(5.0)))));
  const auto loss = act_loss(c, carry, step);
  EXPECT_GT(loss.q_continue_loss.item<double>(), 0.0);
}

TEST(ModelHalting, HaltedSlotsTakeTheNewExampleOthersKeepTheirs) {
  auto c = tiny();
  auto model = make_model(c, c10::Device(c10::kCPU));
  model->train();
  auto first = tiny_batch(c);
  auto carry = initial_carry(model, first);
  act_step(model, carry, first);  // nothing halts at step 1 (q_halt = -5)
  carry.halted = at::tensor({1, 0, 0}, at::kInt).to(at::kBool);
  auto second = first;
  second.inputs = (first.inputs % (c.vocab_size - 1)) + 1;
  act_step(model, carry, second);
  EXPECT_TRUE(at::equal(carry.current.inputs[0], second.inputs[0]));
  EXPECT_TRUE(at::equal(carry.current.inputs[1], first.inputs[1]));
  EXPECT_EQ(carry.steps[0].item<int>(), 1);
  EXPECT_EQ(carry.steps[1].item<int>(), 2);
}

TEST(ModelDtype, BFloat16ActivationsKeepFloat32MasterWeights) {
  auto c = tiny(TokenMixer::attention);
  c.forward_dtype = ForwardDtype::bfloat16;
  auto model = make_model(c, c10::Device(c10::kCPU));
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
  auto batch = tiny_batch(c);
  auto latents = model->initial_latents(3);
  const auto out = model->forward(latents, batch.inputs, batch.puzzle_identifiers);
  EXPECT_EQ(out.logits.scalar_type(), at::kBFloat16);
  EXPECT_EQ(latents.states[0].scalar_type(), at::kBFloat16);
  EXPECT_EQ(out.q_halt.scalar_type(), at::kFloat);
}

// bfloat16 attention keeps its scores and softmax in float32 (as the GPU kernels behind the
// reference's scaled_dot_product_attention do): against float64 on the same bfloat16 q, k, v the
// output is off by the rounding of the probabilities and of the result only. Scores of a few tens
// rounded to bfloat16 (spacing 0.125 to 0.25 there) would move the probabilities by several
// percent.
TEST(ModelDtype, BFloat16AttentionScoresAreFloat32) {
  at::manual_seed(3);
  const auto q = (at::randn({2, 4, 97, 16}) * 3.0).to(at::kBFloat16);
  const auto k = (at::randn({2, 4, 97, 16}) * 3.0).to(at::kBFloat16);
  const auto v = at::randn({2, 4, 97, 16}).to(at::kBFloat16);
  const auto out = scaled_dot_product_attention(q, k, v);
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  const auto q64 = q.to(at::kDouble), k64 = k.to(at::kDouble), v64 = v.to(at::kDouble);
  const auto scores = at::matmul(q64, k64.transpose(-2, -1)) / 4.0;
  ASSERT_GT(scores.abs().max().item<double>(), 40.0);  // the range where bfloat16 scores fail
  const auto expected = at::matmul(at::softmax(scores, -1), v64);
  const double err = (out.to(at::kDouble) - expected).abs().max().item<double>();
  EXPECT_LT(err, 0.03) << "max |bfloat16 - float64| of the attention output";  // bf16 scores: 0.11
  // float32 inputs: float32 throughout, equal to float64 to float32 rounding.
  const auto out32 =
      scaled_dot_product_attention(q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat));
  EXPECT_LT((out32.to(at::kDouble) - expected).abs().max().item<double>(), 1e-4);
}

// The y/z init vectors of a bfloat16 forward are drawn in bfloat16, in place, as the reference's
// trunc_normal_init_ on torch.empty(D, dtype=bfloat16). Expected values: Debian's PyTorch 1.13.1,
// torch.manual_seed(7), then the reference's trunc_normal_init_ (std 1) on an empty bf16 [8]
// (float32 draws rounded to bfloat16 give 0.0952, -0.906, ... instead).
TEST(ModelInit, BFloat16InitVectorsAreDrawnInBFloat16AsTheReference) {
  at::manual_seed(7);
  auto t = at::empty({8}, at::TensorOptions().dtype(at::kBFloat16));
  trunc_normal_(t, 1.0);
  ASSERT_EQ(t.scalar_type(), at::kBFloat16);
  const std::vector<double> expected = {0.515625, 0.78125,   -1.3515625,   1.7578125,
                                        -0.6875,  0.9921875, 0.2451171875, -0.26953125};
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(t[i].item<double>(), expected[i]) << "element " << i;
}

TEST(ModelConfigErrors, AnInvalidConfigIsAConfigErrorNotACrash) {
  auto c = tiny();
  c.hidden_size = 30;  // not divisible by 4 heads
  EXPECT_THROW(make_model(c, c10::Device(c10::kCPU)), ConfigError);
}

}  // namespace
}  // namespace trm::core
