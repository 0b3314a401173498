#include <gtest/gtest.h>

#include <string>

#include "core/config.h"
#include "core/config_fields.h"
#include "core/errors.h"
#include "core/text_width.h"

namespace trm::core {
namespace {

std::string problem_text(const ModelConfig& c) {
  try {
    validate(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfigValidation, TheDefaultsAndPresetsAreValid) {
  EXPECT_TRUE(config_problems(ModelConfig{}).empty());
  EXPECT_TRUE(config_problems(hrm_config()).empty());
  EXPECT_TRUE(config_problems(trm_attention_config()).empty());
}

TEST(ModelConfigValidation, ZeroRecursionsNameTheFieldValueAndRange) {
  ModelConfig c;
  c.h_cycles = 0;
  EXPECT_NE(problem_text(c).find("h_cycles = 0: must be >= 1"), std::string::npos)
      << problem_text(c);
  c = ModelConfig{};
  c.l_cycles = 0;
  EXPECT_NE(problem_text(c).find("l_cycles = 0: must be >= 1"), std::string::npos)
      << problem_text(c);
}

TEST(ModelConfigValidation, HiddenSizeMustDivideIntoHeads) {
  ModelConfig c;
  c.hidden_size = 100;
  c.num_heads = 8;
  EXPECT_NE(problem_text(c).find("hidden_size = 100: must be divisible by num_heads = 8"),
            std::string::npos);
}

TEST(ModelConfigValidation, MultiscaleZAllowsAtMostSixRecursions) {
  ModelConfig c;
  c.latent = Latent::multiscale_z;
  c.l_cycles = 6;
  EXPECT_TRUE(config_problems(c).empty());
  c.l_cycles = 7;
  EXPECT_NE(problem_text(c).find("l_cycles = 7"), std::string::npos);
  EXPECT_NE(problem_text(c).find("[1, 6]"), std::string::npos);
}

// Every numeric field at 0 or below, in every preset (the attention ones divide by num_heads):
// either a valid value or exactly one problem, naming that field and value; never a crash
// (num_heads = 0 with RoPE once raised SIGFPE) and never a second problem derived from the first.
TEST(ModelConfigValidation, EachNumericFieldOutOfRangeIsOneProblemNamingIt) {
  for (const ModelConfig& preset : {ModelConfig{}, trm_attention_config(), hrm_config()}) {
    for (const auto& key : field_names()) {
      // ... and at the top of int64 (puzzle_emb_len * hidden_size overflowed into the message).
      for (const char* value : {"0", "-1", "-0.5", "9223372036854775807"}) {
        ModelConfig c = preset;
        try {
          set_field(c, key, value);
        } catch (const ConfigError&) {
          continue;  // an enum, a bool, or an integer field given -0.5
        }
        const auto problems = config_problems(c);
        if (problems.empty()) continue;  // 0 is valid for puzzle_emb_ndim and puzzle_emb_len
        ASSERT_EQ(problems.size(), 1u) << key << " = " << value << ": " << problem_text(c);
        EXPECT_EQ(problems.front().rfind(key + " = " + get_field(c, key) + ":", 0), 0u)
            << problems.front();
        EXPECT_THROW(validate(c), ConfigError);
      }
    }
  }
}

TEST(ModelConfigValidation, ASingleProblemIsOneLine) {
  ModelConfig c;
  c.l_cycles = 0;
  EXPECT_EQ(problem_text(c), "invalid model config: l_cycles = 0: must be >= 1");
}

TEST(ModelConfigValidation, EveryProblemIsReportedAtOnce) {
  ModelConfig c;
  c.h_cycles = 0;
  c.l_cycles = -1;
  c.halt_exploration_prob = 2.0;
  EXPECT_EQ(config_problems(c).size(), 3u);
  EXPECT_NE(problem_text(c).find("3 problems"), std::string::npos);
}

TEST(ModelConfigFields, AnUnknownEnumValueListsTheValidOnes) {
  ModelConfig c;
  try {
    set_field(c, "mixer", "transformer");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "mixer = \"transformer\": unknown value; valid: attention, mlp");
  }
}

TEST(ModelConfigFields, AnUnknownKeySuggestsTheNearestAndListsAll) {
  ModelConfig c;
  try {
    set_field(c, "l_cycle", "3");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("did you mean 'l_cycles'?"), std::string::npos) << msg;
    EXPECT_NE(msg.find("valid keys: hidden_size"), std::string::npos) << msg;
  }
}

// `model --set model.hidden_size=32` (the prefix train's keys have): the key without it is named.
TEST(ModelConfigFields, AKeyWithATablePrefixSuggestsTheKeyWithout) {
  ModelConfig c;
  try {
    set_field(c, "model.hidden_size", "32");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown key 'model.hidden_size'; did you mean 'hidden_size'? valid keys:"),
              std::string::npos)
        << msg;
  }
  try {
    set_field(c, "zzzzzzzz", "1");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'zzzzzzzz'; valid keys: "), std::string::npos)
        << e.what();
  }
}

TEST(ModelConfigFields, WrongTypesAreRejectedWithTheKey) {
  ModelConfig c;
  EXPECT_THROW(set_field(c, "l_cycles", "six"), ConfigError);
  EXPECT_THROW(set_field(c, "l_cycles", "6.5"), ConfigError);
  EXPECT_THROW(set_field(c, "expansion", "nan"), ConfigError);
  EXPECT_EQ(c, ModelConfig{}) << "a rejected value must leave the config unchanged";
}

TEST(ModelConfigFields, EveryFieldRoundTripsThroughItsText) {
  // A non-default value in every field; set_field(get_field(x)) must give x back. A field
  // missing from visit_fields would keep its default and break the equality.
  ModelConfig changed;
  changed.hidden_size = 96;
  changed.num_heads = 3;
  changed.expansion = 2.5;
  changed.layers = 3;
  changed.h_cycles = 4;
  changed.l_cycles = 5;
  changed.vocab_size = 7;
  changed.seq_len = 16;
  changed.puzzle_emb_ndim = 0;
  changed.puzzle_emb_len = 1;
  changed.num_puzzle_identifiers = 9;
  changed.mixer = TokenMixer::attention;
  changed.pos_encodings = PosEncoding::learned;
  changed.gradient = GradientMode::one_step;
  changed.networks = Networks::separate;
  changed.latent = Latent::multiscale_z;
  changed.halting = Halting::act;
  changed.halt_max_steps = 8;
  changed.halt_exploration_prob = 0.25;
  changed.loss = TokenLoss::softmax;
  changed.rms_norm_eps = 1e-6;
  changed.rope_theta = 500.0;
  changed.forward_dtype = ForwardDtype::bfloat16;
  ModelConfig copy;
  for (const auto& name : field_names()) {
    EXPECT_NE(get_field(copy, name), get_field(changed, name)) << name << " is not varied here";
    set_field(copy, name, get_field(changed, name));
  }
  EXPECT_EQ(copy, changed);
}

TEST(ModelConfigSizes, SwiGLUWidthsAreTheReferenceOnes) {
  EXPECT_EQ(swiglu_inter(512, 4.0), 1536);
  EXPECT_EQ(swiglu_inter(97, 4.0), 512);
  EXPECT_EQ(swiglu_inter(916, 4.0), 2560);
  EXPECT_EQ(swiglu_inter(64, 4.0), 256);
}

TEST(ModelConfigSizes, ThePrefixIsSixteenForTrmAndOneForHrm) {
  EXPECT_EQ(ModelConfig{}.total_len(), 97);
  EXPECT_EQ(hrm_config().total_len(), 82);
  ModelConfig none;
  none.puzzle_emb_ndim = 0;
  EXPECT_EQ(none.total_len(), 81);
}

TEST(ModelConfigFields, DoublesUseTheShortestRoundTripText) {
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(1e-5), "1e-05");
  EXPECT_EQ(format_double(10000.0), "10000");
}

}  // namespace
}  // namespace trm::core

namespace trm::core {
namespace {

// plan and status pad names by the columns they take on a terminal.
TEST(DisplayWidth, CountsColumnsNotBytes) {
  EXPECT_EQ(display_width(""), 0u);
  EXPECT_EQ(display_width("w/ ACT"), 6u);
  EXPECT_EQ(display_width("Ünïcödé"), 7u);  // two bytes a letter, one column
  EXPECT_EQ(display_width("日本語"), 6u);   // wide: two columns each
  EXPECT_EQ(display_width("🚀 x"), 4u);
  EXPECT_EQ(display_width("e\xcc\x81"), 1u);  // e + combining acute accent
  EXPECT_EQ(display_width("a\xff"
                          "b"),
            3u);                             // a stray byte is one column, not a crash
  EXPECT_EQ(display_width("\xe6\x97"), 1u);  // a cut-off character too
}

}  // namespace
}  // namespace trm::core
