#include "core/state_dict.h"

#include <ATen/ATen.h>

#include <map>
#include <set>

#include "core/errors.h"

namespace trm::core {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_persistent(const std::string& name) { return !starts_with(name, "rotary_emb."); }

std::map<std::string, at::Tensor> model_entries(TrmModelImpl& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model.named_parameters(true)) out[item.key()] = item.value();
  for (const auto& item : model.named_buffers(true)) out[item.key()] = item.value();
  return out;
}

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

std::string model_relative_name(const std::string& reference_key) {
  std::string name = reference_key;
  for (const std::string prefix : {"_orig_mod.", "model.", "inner."}) {
    if (starts_with(name, prefix)) name = name.substr(prefix.size());
  }
  return name;
}

std::vector<std::string> persistent_names(TrmModelImpl& model) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : model_entries(model)) {
    if (is_persistent(name)) names.push_back(name);
  }
  return names;
}

void load_reference_state_dict(TrmModelImpl& model, const std::vector<NamedTensor>& entries,
                               const std::string& origin) {
  auto targets = model_entries(model);
  std::vector<std::string> problems;
  std::set<std::string> loaded;
  at::NoGradGuard no_grad;
  for (const auto& entry : entries) {
    const std::string name = model_relative_name(entry.name);
    const auto it = targets.find(name);
    if (it == targets.end()) {
      problems.push_back("'" + entry.name + "' has no counterpart in this model config");
      continue;
    }
    loaded.insert(name);  // present: a problem with it is not also a missing entry
    if (!it->second.sizes().equals(entry.value.sizes())) {
      problems.push_back("'" + entry.name + "' has shape " + shape_text(entry.value) +
                         ", the model expects " + shape_text(it->second));
      continue;
    }
    if (!at::isFloatingType(entry.value.scalar_type())) {
      // Weights are floating point; an integer or bool tensor under a weight's name is not one
      // (copy_ would cast it without a word).
      problems.push_back("'" + entry.name + "' holds " +
                         std::string(c10::toString(entry.value.scalar_type())) +
                         " values, the model expects floating point (" +
                         std::string(c10::toString(it->second.scalar_type())) + ")");
      continue;
    }
    it->second.copy_(entry.value);
  }
  for (const auto& name : persistent_names(model)) {
    if (loaded.count(name) == 0) problems.push_back("missing '" + name + "'");
  }
  if (problems.empty()) return;
  std::string msg = origin + ": does not match the model (" + std::to_string(problems.size()) +
                    " problem" + (problems.size() == 1 ? "" : "s") + "):";
  for (const auto& p : problems) msg += "\n  " + p;
  throw DataError(msg);
}

void load_reference_checkpoint(TrmModelImpl& model, const std::string& path) {
  load_reference_state_dict(model, read_torch_save(path), path);
}

}  // namespace trm::core
