#include "core/parity.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "core/act.h"
#include "core/config_fields.h"
#include "core/errors.h"
#include "core/loss.h"
#include "core/optimizers.h"
#include "core/reference_checkpoint.h"
#include "core/state_dict.h"
#include "core/trm_model.h"

#ifndef TRM_DEFAULT_FIXTURES_DIR
#define TRM_DEFAULT_FIXTURES_DIR "../shared/fixtures"
#endif

namespace trm::core {

namespace fs = std::filesystem;

bool ParityReport::ok() const {
  return !checks.empty() &&
         std::all_of(checks.begin(), checks.end(), [](const ParityCheck& c) { return c.ok; });
}

std::string default_fixtures_dir() {
  const char* env = std::getenv("TRM_FIXTURES_DIR");
  return env != nullptr && *env != '\0' ? env : TRM_DEFAULT_FIXTURES_DIR;
}

std::vector<Fixture> find_fixtures(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError(dir + ": fixture directory not found (set TRM_FIXTURES_DIR)");
  }
  std::vector<Fixture> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto& p = entry.path();
    if (p.extension() != ".pt") continue;
    auto json = p;
    json.replace_extension(".json");
    if (!fs::exists(json)) continue;  // e.g. *_state_dict.pt: a checkpoint, not a replay
    out.push_back({p.stem().string(), p.string(), json.string()});
  }
  std::sort(out.begin(), out.end(),
            [](const Fixture& a, const Fixture& b) { return a.name < b.name; });
  return out;
}

namespace {

using TensorMap = std::map<std::string, at::Tensor>;

TensorMap read_map(const std::string& path) {
  TensorMap m;
  // The reference writes float32; a fixture saved in another floating type (float64, bfloat16)
  // is compared in float32, as the replay computes.
  for (auto& e : read_torch_save(path)) {
    const bool other_float = at::isFloatingType(e.value.scalar_type()) &&
                             e.value.scalar_type() != at::kFloat && e.name.rfind("config/", 0) != 0;
    m[e.name] = other_float ? e.value.to(at::kFloat) : e.value;
  }
  return m;
}

const at::Tensor& need(const TensorMap& m, const std::string& key, const std::string& path) {
  const auto it = m.find(key);
  if (it == m.end()) throw DataError(path + ": fixture lacks the key '" + key + "'");
  return it->second;
}

std::string json_string(const std::string& json_path, const std::string& field) {
  std::ifstream in(json_path);
  if (!in) throw DataError(json_path + ": cannot read the fixture config");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::regex re("\"" + field + "\"\\s*:\\s*\"([^\"]*)\"");
  std::smatch m;
  const std::string text = ss.str();
  if (!std::regex_search(text, m, re)) {
    throw DataError(json_path + ": config has no string field '" + field + "'");
  }
  return m[1];
}

ModelConfig config_from(const TensorMap& t, const Fixture& f) {
  auto i64 = [&](const char* k) {
    return need(t, std::string("config/") + k, f.pt_path).item<int64_t>();
  };
  auto f64 = [&](const char* k) {
    return need(t, std::string("config/") + k, f.pt_path).item<double>();
  };
  ModelConfig c;
  c.hidden_size = i64("hidden_size");
  c.num_heads = i64("num_heads");
  c.expansion = f64("expansion");
  c.layers = i64("L_layers");
  c.h_cycles = i64("H_cycles");
  c.l_cycles = i64("L_cycles");
  c.vocab_size = i64("vocab_size");
  c.seq_len = i64("seq_len");
  c.puzzle_emb_ndim = i64("puzzle_emb_ndim");
  c.puzzle_emb_len = i64("puzzle_emb_len");
  c.num_puzzle_identifiers = i64("num_puzzle_identifiers");
  c.mixer =
      need(t, "config/mlp_t", f.pt_path).item<bool>() ? TokenMixer::mlp : TokenMixer::attention;
  c.halting =
      need(t, "config/no_ACT_continue", f.pt_path).item<bool>() ? Halting::bce : Halting::act;
  c.halt_max_steps = i64("halt_max_steps");
  c.halt_exploration_prob = f64("halt_exploration_prob");
  c.rms_norm_eps = f64("rms_norm_eps");
  c.rope_theta = f64("rope_theta");
  parse_field("pos_encodings", json_string(f.json_path, "pos_encodings"), c.pos_encodings);
  parse_field("forward_dtype", json_string(f.json_path, "forward_dtype"), c.forward_dtype);
  const std::string loss = json_string(f.json_path, "loss_type");
  parse_field("loss_type", loss.substr(0, loss.find("_cross_entropy")), c.loss);
  return c;
}

// Tolerances of shared/fixtures/README.md ("Tolerances"), per phase and mixer.
struct Tolerance {
  double atol;
  double rtol;
};
Tolerance phase_tolerance(const ModelConfig& c, const std::string& key) {
  if (c.mixer == TokenMixer::attention) return {1e-4, 1e-4};
  if (key.rfind("step2/", 0) == 0) return {2e-3, 2e-3};
  if (key.rfind("eval/", 0) == 0) return {5e-2, 5e-2};
  return {2e-4, 2e-4};
}

// Losses: relative 1e-5 (README). In the token-MLP variant the reference's own float32 rounding
// grows with each recursion (6e-3 on the eval logits, 1e-3 on eval q_halt, README "Tolerances"),
// which moves the summed losses by more than 1e-5; there the loss tolerance follows the phase's
// logit tolerance, one tenth of it.
double loss_rtol(const ModelConfig& c, const std::string& phase) {
  if (c.mixer == TokenMixer::attention || phase == "step1") return 1e-5;
  return phase_tolerance(c, phase + "/").rtol / 10.0;
}

class Checker {
 public:
  explicit Checker(ParityReport& r) : report_(r) {}

  void close(const std::string& key, const at::Tensor& ours, const at::Tensor& ref, Tolerance tol) {
    ParityCheck c{key, 0.0, tol.atol,
                  "max|diff|, allclose atol " + fmt(tol.atol) + " rtol " + fmt(tol.rtol), false};
    if (!shape_ok(c, ours, ref)) return;
    const auto a = ours.detach().to(at::kDouble), b = ref.to(at::kDouble);
    const auto diff = (a - b).abs();
    c.error = diff.numel() ? diff.max().item<double>() : 0.0;
    c.ok = (diff <= tol.atol + tol.rtol * b.abs()).all().item<bool>();
    report_.checks.push_back(c);
  }
  void relative(const std::string& key, const at::Tensor& ours, const at::Tensor& ref,
                double rtol) {
    const double a = ours.detach().item<double>(), b = ref.item<double>();
    const double err = std::abs(a - b) / std::max(std::abs(b), 1e-30);
    report_.checks.push_back({key, err, rtol, "relative error", err <= rtol});
  }
  void gradient(const std::string& key, const at::Tensor& ours, const at::Tensor& ref) {
    ParityCheck c{key, 0.0, 0.0, "max|diff| <= 1e-4 max|g_ref|", false};
    if (!ours.defined()) {
      c.how = "no gradient reached this tensor";
      report_.checks.push_back(c);
      return;
    }
    if (!shape_ok(c, ours, ref)) return;
    const auto b = ref.to(at::kDouble);
    c.error = (ours.to(at::kDouble) - b).abs().max().item<double>();
    c.allowed = 1e-4 * b.abs().max().item<double>();
    c.ok = c.error <= c.allowed;
    report_.checks.push_back(c);
  }
  void exact(const std::string& key, const at::Tensor& ours, const at::Tensor& ref) {
    ParityCheck c{key, 0.0, 0.0, "mismatching elements", false};
    if (!shape_ok(c, ours, ref)) return;
    c.error = static_cast<double>((ours.to(at::kLong) != ref.to(at::kLong)).sum().item<int64_t>());
    c.ok = c.error == 0.0;
    report_.checks.push_back(c);
  }
  // Predictions may differ only where the reference's top-1/top-2 margin is within tolerance.
  // Returns whether they are identical (the metrics that depend on them are then exact).
  bool predictions(const std::string& key, const at::Tensor& ours, const at::Tensor& ref,
                   const at::Tensor& ref_logits, Tolerance tol) {
    ParityCheck c{key, 0.0, 0.0, "mismatches where the reference top-2 margin > 2 atol", false};
    if (!shape_ok(c, ours, ref)) return false;
    const auto top2 = std::get<0>(ref_logits.to(at::kDouble).topk(2, -1));
    const auto margin = top2.select(-1, 0) - top2.select(-1, 1);
    const auto differ = ours.to(at::kLong) != ref.to(at::kLong);
    c.error = static_cast<double>((differ & (margin > 2 * tol.atol)).sum().item<int64_t>());
    c.ok = c.error == 0.0;
    report_.checks.push_back(c);
    return differ.sum().item<int64_t>() == 0;
  }
  void skipped(const std::string& key, const std::string& why) {
    report_.checks.push_back({key, 0.0, 0.0, "not compared: " + why, true});
  }

 private:
  static std::string fmt(double v) { return format_double(v); }
  bool shape_ok(ParityCheck& c, const at::Tensor& ours, const at::Tensor& ref) {
    if (ours.sizes().equals(ref.sizes())) return true;
    c.how = "shape mismatch";
    c.error = 1.0;
    report_.checks.push_back(c);
    return false;
  }
  ParityReport& report_;
};

void compare_step(Checker& check, const ModelConfig& cfg, const TensorMap& t, const Fixture& f,
                  const std::string& phase, const Carry& carry, const ActStep& step,
                  const LossTerms& loss) {
  auto ref = [&](const std::string& k) { return need(t, phase + "/" + k, f.pt_path); };
  const auto tol = phase_tolerance(cfg, phase + "/");
  const bool eval = phase == "eval";
  const double loss_tol = loss_rtol(cfg, phase);
  const std::string sfx = eval ? "_final" : "";
  check.close(phase + "/logits" + sfx, step.out.logits, ref("logits" + sfx), tol);
  check.close(phase + (eval ? "/q_halt_final" : "/q_halt_logits"), step.out.q_halt,
              ref(eval ? "q_halt_final" : "q_halt_logits"), tol);
  check.close(phase + (eval ? "/q_continue_final" : "/q_continue_logits"), step.out.q_continue,
              ref(eval ? "q_continue_final" : "q_continue_logits"), tol);
  bool same_preds = true;
  if (t.count(phase + "/preds" + sfx)) {
    same_preds = check.predictions(phase + "/preds" + sfx, loss.preds, ref("preds" + sfx),
                                   ref("logits" + sfx), tol);
  }
  if (!eval) {
    check.close(phase + "/z_H_out", carry.latents.states[0], ref("z_H_out"), tol);
    check.close(phase + "/z_L_out", carry.latents.states[1], ref("z_L_out"), tol);
    check.exact(phase + "/halted", carry.halted, ref("halted"));
    check.exact(phase + "/steps", carry.steps, ref("steps"));
    check.relative(phase + "/lm_loss", loss.lm_loss, ref("lm_loss"), loss_tol);
    check.relative(phase + "/q_halt_loss", loss.q_halt_loss, ref("q_halt_loss"), loss_tol);
    // ACT with the continue logit (no_ACT_continue = false): the loss on the extra pass's target.
    if (t.count(phase + "/q_continue_loss")) {
      check.relative(phase + "/q_continue_loss", loss.q_continue_loss, ref("q_continue_loss"),
                     loss_tol);
    }
  }
  check.relative(phase + "/total_loss", loss.total, ref("total_loss"), loss_tol);
  if (!t.count(phase + "/metrics/count")) return;
  const auto& m = loss.metrics;
  check.exact(phase + "/metrics/count", m.count, ref("metrics/count"));
  check.exact(phase + "/metrics/steps", m.steps, ref("metrics/steps"));
  check.relative(phase + "/metrics/lm_loss", loss.lm_loss, ref("metrics/lm_loss"), loss_tol);
  check.relative(phase + "/metrics/q_halt_loss", loss.q_halt_loss, ref("metrics/q_halt_loss"),
                 loss_tol);
  if (t.count(phase + "/metrics/q_continue_loss")) {
    check.relative(phase + "/metrics/q_continue_loss", loss.q_continue_loss,
                   ref("metrics/q_continue_loss"), loss_tol);
  }
  if (same_preds) {
    check.close(phase + "/metrics/accuracy", m.accuracy, ref("metrics/accuracy"), {1e-6, 1e-6});
    check.exact(phase + "/metrics/exact_accuracy", m.exact_accuracy, ref("metrics/exact_accuracy"));
    check.exact(phase + "/metrics/q_halt_accuracy", m.q_halt_accuracy,
                ref("metrics/q_halt_accuracy"));
  } else {
    for (const char* k : {"accuracy", "exact_accuracy", "q_halt_accuracy"}) {
      check.skipped(phase + "/metrics/" + k, "predictions differ at near-ties");
    }
  }
}

std::vector<NamedTensor> with_prefix(const TensorMap& t, const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const auto& [k, v] : t) {
    if (k.rfind(prefix, 0) == 0) out.push_back({k.substr(prefix.size()), v});
  }
  return out;
}

void check_optimizers(Checker& check, const TensorMap& t, const Fixture& f) {
  auto cfg = [&](const char* k) {
    return need(t, std::string("config/") + k, f.pt_path).item<double>();
  };
  // AdamATan2 from the fixture's own parameters and gradients.
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
  for (const auto& e : with_prefix(t, "adam/")) {
    auto p = need(t, "param/" + e.name, f.pt_path).clone();
    p.mutable_grad() = need(t, "grad/" + e.name, f.pt_path).clone();
    params.push_back(p);
    names.push_back(e.name);
  }
  AdamATan2 adam(params, AdamATan2Options(cfg("adam_lr"))
                             .beta1(cfg("adam_beta1"))
                             .beta2(cfg("adam_beta2"))
                             .weight_decay(cfg("adam_weight_decay")));
  adam.step();
  for (size_t i = 0; i < params.size(); ++i) {
    check.close("adam/" + names[i], params[i], need(t, "adam/" + names[i], f.pt_path),
                {1e-6, 1e-6});
  }
  // Sparse sign-SGD from the fixture's table, row gradients and ids.
  for (const auto& e : with_prefix(t, "signsgd/")) {
    const auto& table = need(t, "param/" + e.name, f.pt_path);
    const auto local_name = e.name.substr(0, e.name.rfind('.')) + ".local_weights";
    const auto& grad = need(t, "grad/" + local_name, f.pt_path);
    PuzzleEmbeddingImpl emb(table.size(0), table.size(1));
    emb.weights.copy_(table);
    emb.local_ids = need(t, "batch/puzzle_identifiers", f.pt_path).to(at::kLong);
    emb.local_weights = at::zeros_like(grad).requires_grad_(true);
    emb.local_weights.mutable_grad() = grad.clone();
    sparse_sign_sgd_step(emb, cfg("signsgd_lr"), cfg("signsgd_weight_decay"));
    check.close("signsgd/" + e.name, emb.weights, e.value, {1e-6, 1e-6});
  }
}

}  // namespace

ModelConfig fixture_config(const Fixture& f) { return config_from(read_map(f.pt_path), f); }

ParityReport run_parity(const Fixture& f) {
  const TensorMap t = read_map(f.pt_path);
  ParityReport report{f.name, config_from(t, f), {}};
  const ModelConfig& cfg = report.config;
  Checker check(report);
  const auto step1_tol = phase_tolerance(cfg, "step1/");

  TrmModel model(cfg, at::kFloat);
  load_reference_state_dict(*model, with_prefix(t, "param/"), f.pt_path + " (param/)");
  const auto rope = model->rope_tables();
  for (const auto& e : with_prefix(t, "buffer/")) {
    const bool is_cos = e.name.find("cos_cached") != std::string::npos;
    check.close("buffer/" + e.name, is_cos ? rope.cos : rope.sin, e.value, step1_tol);
  }
  const Batch batch{need(t, "batch/inputs", f.pt_path), need(t, "batch/labels", f.pt_path),
                    need(t, "batch/puzzle_identifiers", f.pt_path)};
  const int64_t global_batch = need(t, "config/global_batch_size", f.pt_path).item<int64_t>();

  // The carry after the reset, the input embedding and the first block on example 0.
  model->train();
  const auto fresh = model->initial_latents(batch.inputs.size(0));
  check.close("step1/z_H_in", fresh.states[0], need(t, "step1/z_H_in", f.pt_path), step1_tol);
  check.close("step1/z_L_in", fresh.states[1], need(t, "step1/z_L_in", f.pt_path), step1_tol);
  {
    at::NoGradGuard no_grad;
    const auto x = model->input_embeddings(batch.inputs, batch.puzzle_identifiers);
    check.close("debug/input_embeddings", x, need(t, "debug/input_embeddings", f.pt_path),
                step1_tol);
    const auto in =
        fresh.states[1].slice(0, 0, 1) + (fresh.states[0].slice(0, 0, 1) + x.slice(0, 0, 1));
    check.close("debug/block0_in", in, need(t, "debug/block0_in", f.pt_path), step1_tol);
    const auto out =
        model->from_network_layout(model->l_level()->block(0)(model->to_network_layout(in), rope));
    check.close("debug/block0_out", out, need(t, "debug/block0_out", f.pt_path), step1_tol);
  }

  // Supervision step 1 (training mode), its loss and the gradients of (1/B) * total.
  Carry carry = initial_carry(model, batch);
  const auto step1 = act_step(model, carry, batch);
  const auto loss1 = act_loss(cfg, carry, step1);
  compare_step(check, cfg, t, f, "step1", carry, step1, loss1);
  const auto backward_loss = loss1.total / static_cast<double>(global_batch);
  check.relative("step1/backward_loss", backward_loss, need(t, "step1/backward_loss", f.pt_path),
                 1e-5);
  backward_loss.backward();
  TensorMap ours;
  for (const auto& item : model->named_parameters(true)) ours[item.key()] = item.value().grad();
  if (model->has_puzzle_emb())
    ours["puzzle_emb.local_weights"] = model->puzzle_emb()->local_weights.grad();
  for (const auto& e : with_prefix(t, "grad/")) {
    const auto it = ours.find(model_relative_name(e.name));
    check.gradient("grad/" + e.name, it == ours.end() ? at::Tensor() : it->second, e.value);
  }
  check_optimizers(check, t, f);

  // Step 2 continues the carry with the same weights.
  const auto step2 = act_step(model, carry, batch);
  compare_step(check, cfg, t, f, "step2", carry, step2, act_loss(cfg, carry, step2));

  // Evaluation: a fresh carry, run until every slot halts (N_sup steps in eval mode).
  model->eval();
  at::NoGradGuard no_grad;
  Carry eval_carry = initial_carry(model, batch);
  ActStep last;
  int64_t steps = 0;
  do {
    last = act_step(model, eval_carry, batch);
    ++steps;
  } while (!eval_carry.halted.all().item<bool>() && steps <= cfg.halt_max_steps);
  check.exact("eval/num_steps", at::scalar_tensor(steps, at::kLong),
              need(t, "eval/num_steps", f.pt_path));
  compare_step(check, cfg, t, f, "eval", eval_carry, last, act_loss(cfg, eval_carry, last));
  return report;
}

}  // namespace trm::core
