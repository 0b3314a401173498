#include "core/config.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/config_fields.h"

namespace trm::core {

int64_t ModelConfig::prefix_len() const {
  if (puzzle_emb_ndim <= 0) return 0;
  if (puzzle_emb_len > 0) return puzzle_emb_len;
  if (hidden_size <= 0) return 0;  // an invalid config (validate() names it), not a division by 0
  return (puzzle_emb_ndim + hidden_size - 1) / hidden_size;
}

ModelConfig hrm_config() {
  ModelConfig c;
  c.mixer = TokenMixer::attention;
  c.pos_encodings = PosEncoding::rope;
  c.networks = Networks::separate;
  c.gradient = GradientMode::one_step;
  c.layers = 4;
  c.h_cycles = 2;
  c.l_cycles = 2;
  c.halting = Halting::act;
  c.puzzle_emb_len = 0;  // ceil(512 / 512) = 1 prefix token, as hrm.py
  return c;
}

ModelConfig trm_attention_config() {
  ModelConfig c;
  c.mixer = TokenMixer::attention;
  c.pos_encodings = PosEncoding::rope;
  return c;
}

int64_t swiglu_inter(int64_t h, double expansion) {
  const auto raw =
      static_cast<int64_t>(std::nearbyint(expansion * static_cast<double>(h) * 2.0 / 3.0));
  return (raw + 255) / 256 * 256;
}

namespace {

template <class T>
std::string show(const char* key, T value) {
  return std::string(key) + " = " + field_to_string(value);
}

}  // namespace

std::vector<std::string> config_problems(const ModelConfig& c) {
  std::vector<std::string> p;
  // The upper bounds are far past any model that fits a machine; they keep a typo (hidden_size =
  // 1000000000000) from overflowing the cost model or asking the allocator for terabytes.
  auto within = [&](const char* key, int64_t value, int64_t min, int64_t max) {
    if (value < min) p.push_back(show(key, value) + ": must be >= " + std::to_string(min));
    if (value > max) p.push_back(show(key, value) + ": must be <= " + std::to_string(max));
  };
  within("hidden_size", c.hidden_size, 1, 65536);
  within("num_heads", c.num_heads, 1, 4096);
  within("layers", c.layers, 1, 1024);
  within("h_cycles", c.h_cycles, 1, 1024);
  within("l_cycles", c.l_cycles, 1, 1024);
  within("vocab_size", c.vocab_size, 2, int64_t{1} << 24);
  within("seq_len", c.seq_len, 1, int64_t{1} << 20);
  within("puzzle_emb_ndim", c.puzzle_emb_ndim, 0, int64_t{1} << 20);
  within("puzzle_emb_len", c.puzzle_emb_len, 0, int64_t{1} << 16);
  within("num_puzzle_identifiers", c.num_puzzle_identifiers, 1, int64_t{1} << 31);
  within("halt_max_steps", c.halt_max_steps, 1, int64_t{1} << 16);
  if (c.hidden_size >= 1 && c.hidden_size <= 65536 && c.num_heads >= 1 && c.num_heads <= 4096 &&
      c.hidden_size % c.num_heads != 0) {
    p.push_back(show("hidden_size", c.hidden_size) +
                ": must be divisible by num_heads = " + std::to_string(c.num_heads));
  }
  // The checks below that combine fields run only where the fields they read are in range: an
  // out-of-range field is reported once, by itself, and never divides by zero (num_heads = 0).
  const bool sizes_valid = c.hidden_size >= 1 && c.hidden_size <= 65536 && c.num_heads >= 1 &&
                           c.num_heads <= 4096 && c.seq_len >= 1 &&
                           c.seq_len <= (int64_t{1} << 20) && c.puzzle_emb_len >= 0 &&
                           c.puzzle_emb_len <= (int64_t{1} << 16);
  if (c.mixer == TokenMixer::attention && c.pos_encodings == PosEncoding::rope && sizes_valid &&
      c.hidden_size % c.num_heads == 0 && c.head_dim() % 2 != 0) {
    p.push_back(show("hidden_size", c.hidden_size) + ": RoPE needs an even head_dim, got " +
                std::to_string(c.head_dim()));
  }
  if (!(c.expansion > 0.0 && c.expansion <= 1024.0)) {
    p.push_back(show("expansion", c.expansion) + ": valid range (0, 1024]");
  } else if (sizes_valid) {
    // The SwiGLU width is round(expansion * 2/3 * width) up to a multiple of 256: at 0 the MLP
    // blocks would vanish without a word.
    const bool token_mlp = c.mixer == TokenMixer::mlp;
    const int64_t narrowest = token_mlp ? std::min(c.hidden_size, c.total_len()) : c.hidden_size;
    if (swiglu_inter(narrowest, c.expansion) == 0) {
      p.push_back(
          show("expansion", c.expansion) + ": the SwiGLU width round(expansion * 2/3 * " +
          std::to_string(narrowest) + ") is 0 (" +
          (token_mlp && narrowest != c.hidden_size ? "the token-MLP's positions" : "hidden_size") +
          "); expansion must be above " + [&] {
            char text[32];
            std::snprintf(text, sizeof text, "%.6g", 0.75 / static_cast<double>(narrowest));
            return std::string(text);
          }());
    }
  }
  if (!(c.halt_exploration_prob >= 0.0 && c.halt_exploration_prob <= 1.0)) {
    p.push_back(show("halt_exploration_prob", c.halt_exploration_prob) + ": valid range [0, 1]");
  }
  if (!(c.rms_norm_eps > 0.0)) p.push_back(show("rms_norm_eps", c.rms_norm_eps) + ": must be > 0");
  if (!(c.rope_theta > 0.0)) p.push_back(show("rope_theta", c.rope_theta) + ": must be > 0");
  if (sizes_valid && c.puzzle_emb_ndim > 0 && c.puzzle_emb_ndim <= (int64_t{1} << 20) &&
      c.puzzle_emb_len > 0 && c.puzzle_emb_ndim > c.puzzle_emb_len * c.hidden_size) {
    p.push_back(show("puzzle_emb_ndim", c.puzzle_emb_ndim) +
                ": must fit in puzzle_emb_len * hidden_size = " +
                std::to_string(c.puzzle_emb_len * c.hidden_size));
  }
  if (c.latent == Latent::multiscale_z && c.l_cycles > kMultiscaleLatents && c.l_cycles <= 1024) {
    p.push_back(show("l_cycles", c.l_cycles) + ": latent = multiscale_z carries " +
                std::to_string(kMultiscaleLatents) + " z tensors, so n must be in [1, " +
                std::to_string(kMultiscaleLatents) + "]");
  }
  if (c.latent == Latent::single_z && c.networks == Networks::separate) {
    p.push_back("networks = separate: needs a y state; latent = single_z has none (use shared)");
  }
  return p;
}

void validate(const ModelConfig& c) {
  const auto problems = config_problems(c);
  if (problems.empty()) return;
  if (problems.size() == 1) throw ConfigError("invalid model config: " + problems.front());
  std::string msg = "invalid model config (" + std::to_string(problems.size()) + " problem" +
                    (problems.size() == 1 ? "" : "s") + "):";
  for (const auto& line : problems) msg += "\n  " + line;
  throw ConfigError(msg);
}

std::vector<std::string> field_names() {
  std::vector<std::string> names;
  ModelConfig c;
  ModelConfig::visit_fields(c, [&](const char* name, auto&) { names.emplace_back(name); });
  return names;
}

void set_field(ModelConfig& c, std::string_view key, std::string_view value) {
  bool found = false;
  ModelConfig::visit_fields(c, [&](const char* name, auto& field) {
    if (key == name) {
      parse_field(key, value, field);
      found = true;
    }
  });
  if (!found) throw ConfigError(unknown_key_message(key, field_names()));
}

std::string get_field(const ModelConfig& c, std::string_view key) {
  std::string out;
  bool found = false;
  ModelConfig::visit_fields(c, [&](const char* name, const auto& field) {
    if (key == name) {
      out = field_to_string(field);
      found = true;
    }
  });
  if (!found) throw ConfigError(unknown_key_message(key, field_names()));
  return out;
}

}  // namespace trm::core
