// The model's configuration: one typed field per ablation axis of the paper, torch-free so that
// sweep/ and storage/ can use it. Every field is listed once in visit_fields (STYLE.md §5): key
// parsing, `--set`, validation messages and (later) TOML, HDF5 attributes and trial ids use it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trm::core {

// Token mixing inside a block (TRM-SPEC §1.4).
enum class TokenMixer { attention, mlp };
// Positional information (TRM-SPEC §1.3).
enum class PosEncoding { rope, learned, none };
// Which network evaluations are back-propagated (TRM-SPEC §2.1, §2.2).
enum class GradientMode { full, one_step };
// One network for z- and y-updates, or one per update kind (f_L, f_H) (TRM-SPEC §2.3).
enum class Networks { shared, separate };
// Latent features carried across supervision steps (TRM-SPEC §2.3, Table 2).
enum class Latent { yz, single_z, multiscale_z };
// Halting loss: BCE on q_halt only (TRM), or ACT with the Q-learning continue loss (HRM) (§4.2-4.3).
enum class Halting { bce, act };
// Token loss (TRM-SPEC §4.1).
enum class TokenLoss { stablemax, softmax };
// Activation dtype; auto = bfloat16 on CUDA, float32 on CPU (TRM-SPEC §1.8).
enum class ForwardDtype { auto_, float32, bfloat16 };

// Name table of an enum: the spelling used in configs, messages and files.
template <class E>
struct EnumNames;
#define TRM_ENUM_NAMES(E, ...)                                                  \
  template <>                                                                   \
  struct EnumNames<E> {                                                         \
    static constexpr auto values = std::to_array<std::pair<E, std::string_view>>( \
        {__VA_ARGS__});                                                         \
  };
TRM_ENUM_NAMES(TokenMixer, {TokenMixer::attention, "attention"}, {TokenMixer::mlp, "mlp"})
TRM_ENUM_NAMES(PosEncoding, {PosEncoding::rope, "rope"}, {PosEncoding::learned, "learned"},
               {PosEncoding::none, "none"})
TRM_ENUM_NAMES(GradientMode, {GradientMode::full, "full"}, {GradientMode::one_step, "one_step"})
TRM_ENUM_NAMES(Networks, {Networks::shared, "shared"}, {Networks::separate, "separate"})
TRM_ENUM_NAMES(Latent, {Latent::yz, "yz"}, {Latent::single_z, "single_z"},
               {Latent::multiscale_z, "multiscale_z"})
TRM_ENUM_NAMES(Halting, {Halting::bce, "bce"}, {Halting::act, "act"})
TRM_ENUM_NAMES(TokenLoss, {TokenLoss::stablemax, "stablemax"}, {TokenLoss::softmax, "softmax"})
TRM_ENUM_NAMES(ForwardDtype, {ForwardDtype::auto_, "auto"}, {ForwardDtype::float32, "float32"},
               {ForwardDtype::bfloat16, "bfloat16"})
#undef TRM_ENUM_NAMES

// Number of separately carried z tensors of the multi-scale variant (TRM-SPEC §2.3: z_1..z_6).
inline constexpr int64_t kMultiscaleLatents = 6;

// Defaults: the paper's Sudoku-Extreme TRM-MLP baseline (TRM-SPEC §6, Table 1 first TRM row).
struct ModelConfig {
  int64_t hidden_size = 512;             // D, width of x, y, z and of every block
  int64_t num_heads = 8;                 // attention heads (head_dim = D / heads)
  double expansion = 4.0;                // SwiGLU expansion; inter = roundup256(round(e*h*2/3))
  int64_t layers = 2;                    // blocks per network (L_layers; HRM: 4)
  int64_t h_cycles = 3;                  // T, deep-recursion rounds per supervision step
  int64_t l_cycles = 6;                  // n, z-updates per round
  int64_t vocab_size = 11;               // tokens (Sudoku: pad, blank, digits 1..9)
  int64_t seq_len = 81;                  // grid tokens per example (Sudoku 81, Maze/ARC 900)
  int64_t puzzle_emb_ndim = 512;         // width of the per-puzzle embedding; 0 = none
  int64_t puzzle_emb_len = 16;           // prefix positions (TRM 16); 0 = ceil(ndim / D) (HRM: 1)
  int64_t num_puzzle_identifiers = 1;    // rows of the puzzle-embedding table (Sudoku/Maze: 1)
  TokenMixer mixer = TokenMixer::mlp;    // self-attention or token-MLP (mlp_t)
  PosEncoding pos_encodings = PosEncoding::none;  // rope for attention, none for the token-MLP
  GradientMode gradient = GradientMode::full;     // full back-prop of the last n+1 evals, or 1-step
  Networks networks = Networks::shared;  // one net for z and y, or separate f_L / f_H
  Latent latent = Latent::yz;            // y and z, single z, or multi-scale z (Table 2)
  Halting halting = Halting::bce;        // BCE halting (TRM) or ACT continue loss (HRM, "w/ ACT")
  int64_t halt_max_steps = 16;           // N_sup, supervision steps per example
  double halt_exploration_prob = 0.1;    // probability of a random minimum halting step
  TokenLoss loss = TokenLoss::stablemax; // token cross-entropy (stable-max in float64)
  double rms_norm_eps = 1e-5;            // RMSNorm epsilon
  double rope_theta = 10000.0;           // RoPE base
  ForwardDtype forward_dtype = ForwardDtype::auto_;  // activation dtype; weights stay float32

  // Calls v(name, field) once per field, in declaration order.
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor&& v) {
    v("hidden_size", self.hidden_size);
    v("num_heads", self.num_heads);
    v("expansion", self.expansion);
    v("layers", self.layers);
    v("h_cycles", self.h_cycles);
    v("l_cycles", self.l_cycles);
    v("vocab_size", self.vocab_size);
    v("seq_len", self.seq_len);
    v("puzzle_emb_ndim", self.puzzle_emb_ndim);
    v("puzzle_emb_len", self.puzzle_emb_len);
    v("num_puzzle_identifiers", self.num_puzzle_identifiers);
    v("mixer", self.mixer);
    v("pos_encodings", self.pos_encodings);
    v("gradient", self.gradient);
    v("networks", self.networks);
    v("latent", self.latent);
    v("halting", self.halting);
    v("halt_max_steps", self.halt_max_steps);
    v("halt_exploration_prob", self.halt_exploration_prob);
    v("loss", self.loss);
    v("rms_norm_eps", self.rms_norm_eps);
    v("rope_theta", self.rope_theta);
    v("forward_dtype", self.forward_dtype);
  }

  // Derived sizes (TRM-SPEC §1.1, §1.4).
  int64_t head_dim() const { return num_heads > 0 ? hidden_size / num_heads : 0; }
  int64_t prefix_len() const;     // puzzle prefix positions actually used
  int64_t total_len() const { return prefix_len() + seq_len; }  // L_total = prefix + seq_len

  bool operator==(const ModelConfig&) const = default;
};

// The HRM baseline as a configuration of the same code (TRM-SPEC §2.2, §6): two 4-layer
// attention nets, T = n = 2, 1-step gradient, ACT halting, one prefix token.
ModelConfig hrm_config();
// The paper's Sudoku TRM with self-attention (Table 1 "w/ self-attention").
ModelConfig trm_attention_config();

// SwiGLU intermediate width for an input width h (TRM-SPEC §1.4).
int64_t swiglu_inter(int64_t h, double expansion);

// Every cross-field problem, one line each ("field = value: why; valid: range"); empty when valid.
std::vector<std::string> config_problems(const ModelConfig& c);
// Throws ConfigError listing every problem at once.
void validate(const ModelConfig& c);

// Sets one field from text ("l_cycles", "6"). Unknown key: ConfigError listing the valid keys
// and the nearest one; a value of the wrong type or an unknown enum name: ConfigError naming both.
void set_field(ModelConfig& c, std::string_view key, std::string_view value);
// The value of a field as text, in the canonical spelling set_field accepts.
std::string get_field(const ModelConfig& c, std::string_view key);
// All field names, in declaration order.
std::vector<std::string> field_names();

}  // namespace trm::core
