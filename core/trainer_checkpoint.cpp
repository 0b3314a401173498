// Trainer checkpoints: one torch archive holding the whole training state (TRM-SPEC §5.5 notes
// that the reference cannot resume; this can, bit for bit on CPU). Keys are plain identifiers;
// tensors are listed by index with their names stored beside them for checking.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/crc32.h"
#include "core/errors.h"
#include "core/fields.h"
#include "core/state_dict.h"
#include "core/trainer.h"

namespace trm::core {

namespace {

constexpr int64_t kCheckpointFormat = 1;

// The folder an on-disk data set is read from, as an absolute path ("" for generated data).
std::string data_folder(const DataConfig& d) {
  if (d.source != DataSource::reference || d.path.empty()) return "";
  std::error_code ec;
  const auto abs = std::filesystem::absolute(d.path, ec);
  return ec ? d.path : abs.lexically_normal().string();
}

// Parameters then buffers, with their module paths: everything the model holds.
// Writes an archive atomically, streamed to the file: a checkpoint (weights, EMA, m and v: 16
// bytes a parameter) built in memory first added its size, and more while the buffer grew, to
// the process's peak. A failed write must not unwind through the archive's zip writer (C code):
// it is kept, the writer is told of a short write, and the failure is thrown again once the
// archive gave up.
void save_archive(torch::serialize::OutputArchive& ar, const std::string& path) {
  write_file_atomically(path, [&](const ByteSink& sink) {
    std::exception_ptr failure;
    try {
      ar.save_to([&](const void* data, size_t n) -> size_t {
        if (failure) return 0;
        try {
          sink(data, n);
          return n;
        } catch (...) {
          failure = std::current_exception();
          return 0;
        }
      });
    } catch (...) {
      if (!failure) throw;
    }
    if (failure) std::rethrow_exception(failure);
  });
}

std::vector<std::pair<std::string, at::Tensor>> model_tensors(const TrmModel& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model->named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : model->named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

std::string join_names(const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::string out;
  for (const auto& [name, t] : tensors) out += name + "\n";
  return out;
}

at::Tensor generator_state(const c10::Device& device) {
  auto gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_generator_state(const c10::Device& device, const at::Tensor& state) {
  auto gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string shape_text(const at::Tensor& t) {
  std::string out = "[";
  for (int64_t d = 0; d < t.dim(); ++d) out += (d ? ", " : "") + std::to_string(t.size(d));
  return out + "]";
}

// The first lines where two canonical configs differ, for the mismatch message.
std::string config_difference(const std::string& saved, const std::string& ours) {
  std::istringstream a(saved), b(ours);
  std::string la, lb, diff;
  int shown = 0;
  while (std::getline(a, la) && std::getline(b, lb) && shown < 5) {
    if (la != lb) {
      diff += "\n  checkpoint: " + la + "\n  this run:   " + lb;
      ++shown;
    }
  }
  return diff;
}

class Reader {
 public:
  Reader(torch::serialize::InputArchive& archive, std::string path)
      : archive_(archive), path_(std::move(path)) {}
  at::Tensor tensor(const std::string& key) {
    at::Tensor t;
    if (!archive_.try_read(key, t)) missing(key);
    return t;
  }
  int64_t integer(const std::string& key) {
    c10::IValue v;
    if (!archive_.try_read(key, v) || !v.isInt()) missing(key);
    return v.toInt();
  }
  std::string text(const std::string& key) {
    c10::IValue v;
    if (!archive_.try_read(key, v) || !v.isString()) missing(key);
    return v.toStringRef();
  }

 private:
  [[noreturn]] void missing(const std::string& key) {
    throw DataError("checkpoint " + path_ + " is malformed: no valid '" + key + "' entry");
  }
  torch::serialize::InputArchive& archive_;
  std::string path_;
};

}  // namespace

void Trainer::save_checkpoint(const std::string& path, const CheckpointExtras& extras) const {
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(kCheckpointFormat));
  ar.write("config", c10::IValue(canonical_text(config_)));
  ar.write("step", c10::IValue(step_));
  ar.write("sampler_epoch", c10::IValue(sampler_.position().epoch));
  ar.write("sampler_cursor", c10::IValue(sampler_.position().cursor));
  if (data_fingerprint_.empty()) data_fingerprint_ = data_fingerprint(data_);
  ar.write("data_fingerprint", c10::IValue(data_fingerprint_));
  ar.write("data_folder", c10::IValue(data_folder(config_.data)));
  std::string extra_names;
  int64_t extra_index = 0;
  for (const auto& [key, value] : extras) {
    extra_names += key + "\n";
    ar.write("extra_" + std::to_string(extra_index++), c10::IValue(value));
  }
  ar.write("extra_names", c10::IValue(extra_names));

  const auto tensors = model_tensors(model_);
  ar.write("model_names", c10::IValue(join_names(tensors)));
  for (size_t i = 0; i < tensors.size(); ++i) {
    ar.write("model_" + std::to_string(i), tensors[i].second.detach());
  }
  const auto params = optimized_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string k = std::to_string(i);
    if (ema_) ar.write("ema_" + k, ema_->shadow()[i]);
    auto* st = adam_->state_of(params[i]);
    ar.write("adam_step_" + k, c10::IValue(st == nullptr ? int64_t{0} : st->step()));
    if (st != nullptr) {
      ar.write("adam_m_" + k, st->exp_avg());
      ar.write("adam_v_" + k, st->exp_avg_sq());
    }
  }
  ar.write("carry_ready", c10::IValue(int64_t{carry_ready_ ? 1 : 0}));
  if (carry_ready_) {
    ar.write("carry_latents", c10::IValue(static_cast<int64_t>(carry_.latents.states.size())));
    for (size_t i = 0; i < carry_.latents.states.size(); ++i) {
      ar.write("carry_latent_" + std::to_string(i), carry_.latents.states[i]);
    }
    ar.write("carry_steps", carry_.steps);
    ar.write("carry_halted", carry_.halted);
    ar.write("carry_inputs", carry_.current.inputs);
    ar.write("carry_labels", carry_.current.labels);
    ar.write("carry_ids", carry_.current.puzzle_identifiers);
  }
  if (arc_votes_) {
    const std::string votes = arc_votes_->save();
    at::Tensor bytes = at::empty({static_cast<int64_t>(votes.size())}, at::kByte);
    std::memcpy(bytes.data_ptr<uint8_t>(), votes.data(), votes.size());
    ar.write("arc_votes", bytes);
  }
  ar.write("rng_cpu", generator_state(c10::Device(c10::kCPU)));
  if (!device_.is_cpu()) ar.write("rng_device", generator_state(device_));

  save_archive(ar, path);
}

CheckpointExtras Trainer::load_checkpoint(const std::string& path) {
  const std::string bytes = read_file(path);
  // LibTorch reads an archive without checking its entries' CRC-32: a flipped byte in a tensor
  // would resume with silently wrong weights.
  // Nor does it check that each tensor lies inside its storage and record: a damaged offset
  // would read past a buffer (a crash, or training on whatever memory follows).
  bool script = false;
  std::string damage = zip_damage(bytes);
  if (damage.empty()) damage = torch_archive_damage(bytes, &script);
  if (!damage.empty()) {
    throw DataError("checkpoint " + path + " is corrupt (" + damage +
                    "); it was left in place: "
                    "move it away to start over, or use another --out");
  }
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(bytes.data(), bytes.size(), c10::Device(c10::kCPU));
  } catch (const c10::Error& e) {
    throw DataError("checkpoint " + path + " is corrupt or not a trm-sweep checkpoint (" +
                    std::to_string(bytes.size()) +
                    " bytes); it was left in place: move it away "
                    "to start over, or use another --out");
  }
  Reader in(ar, path);
  const int64_t format = in.integer("format");
  if (format != kCheckpointFormat) {
    throw DataError("checkpoint " + path + " has format " + std::to_string(format) +
                    "; this trm-sweep reads format " + std::to_string(kCheckpointFormat));
  }
  const std::string saved_config = in.text("config");
  if (saved_config != canonical_text(config_)) {
    throw ConfigError("checkpoint " + path + " belongs to another config; differences:" +
                      config_difference(saved_config, canonical_text(config_)) +
                      "\nuse another --out, or the checkpoint's config");
  }
  // The same config names the same data only where the data are what they were: a relative
  // data.path read from another folder, or a data set rewritten in place, is other data.
  if (c10::IValue saved; ar.try_read("data_fingerprint", saved) && saved.isString()) {
    if (data_fingerprint_.empty()) data_fingerprint_ = data_fingerprint(data_);
    if (saved.toStringRef() != data_fingerprint_) {
      c10::IValue folder;
      const std::string then =
          ar.try_read("data_folder", folder) && folder.isString() && !folder.toStringRef().empty()
              ? " (then " + folder.toStringRef() + ")"
              : "";
      const std::string now = data_folder(config_.data);
      throw DataError("checkpoint " + path + " was trained on other data than this run reads" +
                      (now.empty() ? std::string() : " from " + now) + then + ":\n  checkpoint: " +
                      saved.toStringRef() + "\n  now:        " + data_fingerprint_ +
                      "\npoint data.path at the data the run started with (a relative path is "
                      "taken from the folder the command runs in), or use another --out");
    }
  }
  const auto tensors = model_tensors(model_);
  if (in.text("model_names") != join_names(tensors)) {
    throw DataError("checkpoint " + path + " holds other model tensors than this build's model");
  }

  // Read everything first, then assign: a malformed file leaves this trainer untouched.
  std::vector<at::Tensor> model_values, ema_values, adam_m, adam_v;
  std::vector<int64_t> adam_steps;
  for (size_t i = 0; i < tensors.size(); ++i) {
    model_values.push_back(in.tensor("model_" + std::to_string(i)));
    if (!model_values.back().sizes().equals(tensors[i].second.sizes())) {
      throw DataError("checkpoint " + path + ": " + tensors[i].first + " has another shape");
    }
  }
  // Every state tensor must be what this model's would be: a damaged one would otherwise fail
  // inside the optimizer or the EMA as an internal error, or broadcast in silence.
  auto expect_like = [&](const std::string& key, const at::Tensor& t, const at::Tensor& like) {
    if (!t.sizes().equals(like.sizes()) || t.scalar_type() != like.scalar_type()) {
      throw DataError("checkpoint " + path + " is corrupt: '" + key + "' holds " +
                      std::string(c10::toString(t.scalar_type())) + " " + shape_text(t) +
                      ", this model's needs " + std::string(c10::toString(like.scalar_type())) +
                      " " + shape_text(like) +
                      "; it was left in place: move it away to start over, or use another --out");
    }
  };
  const auto params = optimized_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string k = std::to_string(i);
    if (ema_) {
      ema_values.push_back(in.tensor("ema_" + k));
      expect_like("ema_" + k, ema_values.back(), ema_->shadow()[i]);
    }
    adam_steps.push_back(in.integer("adam_step_" + k));
    if (adam_steps.back() < 0) {
      throw DataError("checkpoint " + path + " is corrupt: 'adam_step_" + k +
                      "' = " + std::to_string(adam_steps.back()));
    }
    if (adam_steps.back() > 0) {
      adam_m.push_back(in.tensor("adam_m_" + k));
      adam_v.push_back(in.tensor("adam_v_" + k));
      expect_like("adam_m_" + k, adam_m.back(), params[i]);
      expect_like("adam_v_" + k, adam_v.back(), params[i]);
    } else {
      adam_m.emplace_back();
      adam_v.emplace_back();
    }
  }
  Carry carry;
  const bool carry_ready = in.integer("carry_ready") != 0;
  if (carry_ready) {
    const int64_t latents = in.integer("carry_latents");
    for (int64_t i = 0; i < latents; ++i) {
      carry.latents.states.push_back(in.tensor("carry_latent_" + std::to_string(i)).to(device_));
    }
    carry.steps = in.tensor("carry_steps").to(device_);
    carry.halted = in.tensor("carry_halted").to(device_);
    carry.current = {in.tensor("carry_inputs").to(device_), in.tensor("carry_labels").to(device_),
                     in.tensor("carry_ids").to(device_)};
    // The carry of this config's batch: B slots of seq_len tokens, this model's latents.
    const int64_t B = config_.train.batch_size, L = config_.model.seq_len;
    const auto ints = at::TensorOptions().dtype(at::kInt).device(device_);
    const Carry like = initial_carry(
        model_, Batch{at::zeros({B, L}, ints), at::zeros({B, L}, ints), at::zeros({B}, ints)});
    if (carry.latents.states.size() != like.latents.states.size()) {
      throw DataError("checkpoint " + path +
                      " is corrupt: 'carry_latents' = " + std::to_string(latents) +
                      ", this model carries " + std::to_string(like.latents.states.size()));
    }
    for (size_t i = 0; i < like.latents.states.size(); ++i) {
      expect_like("carry_latent_" + std::to_string(i), carry.latents.states[i],
                  like.latents.states[i]);
    }
    expect_like("carry_steps", carry.steps, like.steps);
    expect_like("carry_halted", carry.halted, like.halted);
    expect_like("carry_inputs", carry.current.inputs, like.current.inputs);
    expect_like("carry_labels", carry.current.labels, like.current.labels);
    expect_like("carry_ids", carry.current.puzzle_identifiers, like.current.puzzle_identifiers);
  }
  const ExampleSampler::Position position{in.integer("sampler_epoch"),
                                          in.integer("sampler_cursor")};
  const at::Tensor rng_cpu = in.tensor("rng_cpu");
  at::Tensor rng_device;
  if (!device_.is_cpu()) rng_device = in.tensor("rng_device");
  CheckpointExtras extras;
  {
    std::istringstream names(in.text("extra_names"));
    std::string key;
    for (int64_t i = 0; std::getline(names, key); ++i) {
      extras[key] = in.integer("extra_" + std::to_string(i));
    }
  }
  const int64_t step = in.integer("step");
  // ARC's pooled votes; a checkpoint written before they were kept has none (pooling restarts).
  std::optional<ArcVoter> arc_votes;
  if (arc_votes_) {
    arc_votes.emplace(*data_.arc);
    at::Tensor votes;
    if (ar.try_read("arc_votes", votes)) {
      votes = votes.to(at::kCPU, at::kByte).contiguous();
      arc_votes->restore(std::string(reinterpret_cast<const char*>(votes.data_ptr<uint8_t>()),
                                     static_cast<size_t>(votes.numel())),
                         "checkpoint " + path);
    }
  }

  try {
    sampler_.seek(position);
  } catch (const DataError& e) {
    throw DataError("checkpoint " + path + ": " + e.what());
  }
  {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].second.copy_(model_values[i]);
    for (size_t i = 0; i < ema_values.size(); ++i) ema_->shadow()[i].copy_(ema_values[i]);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (adam_steps[i] > 0) adam_->set_state_of(params[i], adam_steps[i], adam_m[i], adam_v[i]);
  }
  carry_ = std::move(carry);
  carry_ready_ = carry_ready;
  if (arc_votes) arc_votes_ = std::move(arc_votes);
  step_ = step;
  try {
    set_generator_state(c10::Device(c10::kCPU), rng_cpu);
    if (!device_.is_cpu()) set_generator_state(device_, rng_device);
  } catch (const c10::Error& e) {
    throw DataError("checkpoint " + path + " is corrupt: its random generator state (" +
                    first_line(e.what_without_backtrace()) + ")");
  }
  return extras;
}

void Trainer::save_weights(const std::string& path) {
  std::optional<Ema::Applied> shadow;
  if (ema_) shadow.emplace(*ema_, model_);
  torch::serialize::OutputArchive ar;
  const auto tensors = model_tensors(model_);
  ar.write("format", c10::IValue(kCheckpointFormat));
  ar.write("config", c10::IValue(canonical_text(config_)));
  ar.write("model_names", c10::IValue(join_names(tensors)));
  for (size_t i = 0; i < tensors.size(); ++i) {
    ar.write("model_" + std::to_string(i), tensors[i].second.detach().clone());
  }
  save_archive(ar, path);
}

namespace {

std::string shape_of(const at::Tensor& t) {
  std::string out = "[";
  for (int64_t d = 0; d < t.dim(); ++d) out += (d ? ", " : "") + std::to_string(t.size(d));
  return out + "]";
}

}  // namespace

std::string Trainer::load_weights(const std::string& path) {
  const std::string bytes = read_file(path);
  if (const auto damage = zip_damage(bytes); !damage.empty()) {
    if (static_cast<unsigned char>(bytes[0]) == 0x80) {
      throw DataError(path +
                      " is a pickle, not a zip archive: torch.save's legacy format "
                      "(_use_new_zipfile_serialization=False), which is not read here; save it "
                      "again with torch.save's default format");
    }
    throw DataError(path + " is not a weights file, or is corrupt (" + damage + ")");
  }
  // A TorchScript archive (train's weights.pt and checkpoint.pt) is checked before LibTorch
  // reads it, which does not check that its tensors lie inside their storages.
  bool script = false;
  if (const auto damage = torch_archive_damage(bytes, &script); !damage.empty()) {
    throw DataError(path + " is corrupt (" + damage + ")");
  }
  torch::serialize::InputArchive ar;
  bool ours = false;
  try {
    ar.load_from(bytes.data(), bytes.size(), c10::Device(c10::kCPU));
    c10::IValue format;
    ours = ar.try_read("format", format);
  } catch (const c10::Error& e) {
    if (script) {
      throw DataError(path + " is corrupt: LibTorch could not read it (" +
                      first_line(e.what_without_backtrace()) + ")");
    }
    ours = false;  // not a TorchScript archive: a torch.save file (the reference's)
  }
  if (script && !ours) {
    throw DataError(path +
                    " is a TorchScript archive but not a trm-sweep weights file or "
                    "checkpoint (no 'format' entry)");
  }
  at::NoGradGuard no_grad;
  if (ours) {
    Reader in(ar, path);
    const int64_t format = in.integer("format");
    if (format != kCheckpointFormat) {
      throw DataError(path + " has format " + std::to_string(format) +
                      "; this trm-sweep reads format " + std::to_string(kCheckpointFormat));
    }
    const auto tensors = model_tensors(model_);
    const std::string names = in.text("model_names");
    if (names != join_names(tensors)) {
      // Every name on one side only: what differs in the model (mixer, networks, latent, layers).
      std::set<std::string> theirs, ours;
      std::istringstream lines(names);
      for (std::string line; std::getline(lines, line);)
        if (!line.empty()) theirs.insert(line);
      for (const auto& [name, t] : tensors) ours.insert(name);
      std::string msg = path + ": does not match the model of this config:";
      for (const auto& n : theirs)
        if (!ours.count(n)) msg += "\n  '" + n + "' has no counterpart in this model config";
      for (const auto& n : ours)
        if (!theirs.count(n)) msg += "\n  missing '" + n + "'";
      throw DataError(msg);
    }
    std::vector<at::Tensor> values;
    std::string shapes;
    for (size_t i = 0; i < tensors.size(); ++i) {
      values.push_back(in.tensor("model_" + std::to_string(i)));
      if (!values.back().sizes().equals(tensors[i].second.sizes())) {
        shapes += "\n  '" + tensors[i].first + "' has shape " + shape_of(values.back()) +
                  ", the model expects " + shape_of(tensors[i].second);
      }
    }
    if (!shapes.empty()) throw DataError(path + ": does not match the model's sizes:" + shapes);
    // A training checkpoint (it has a step) holds the EMA shadow beside the raw weights: with
    // train.ema on, those are what its run evaluated, so they are what is evaluated here.
    c10::IValue step;
    const bool checkpoint = ar.try_read("step", step) && step.isInt();
    std::vector<at::Tensor> shadow;
    if (checkpoint && ema_) {
      for (size_t i = 0; i < ema_->shadow().size(); ++i) {
        at::Tensor t;
        if (!ar.try_read("ema_" + std::to_string(i), t)) {
          shadow.clear();
          break;
        }
        if (!t.sizes().equals(ema_->shadow()[i].sizes()))
          throw DataError(path + ": its EMA weights have another shape than this config's");
        shadow.push_back(t);
      }
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].second.copy_(values[i]);
    if (ema_) ema_.emplace(model_, config_.train.ema_rate);
    for (size_t i = 0; i < shadow.size(); ++i) ema_->shadow()[i].copy_(shadow[i]);
    if (checkpoint) {
      return "trm-sweep checkpoint at step " + std::to_string(step.toInt()) +
             (shadow.empty() ? "" : ", its EMA weights");
    }
    return "trm-sweep weights";
  } else {
    // Checked whole before anything is copied: a mismatch leaves the model as it was.
    const std::vector<NamedTensor> entries = read_torch_save(path);
    {
      // A model of its own to check against (its initialisation must not draw from the
      // trainer's random streams).
      const at::Tensor rng = generator_state(c10::Device(c10::kCPU));
      TrmModel probe(config_.model, at::kFloat);
      set_generator_state(c10::Device(c10::kCPU), rng);
      load_reference_state_dict(*probe, entries, path);
    }
    load_reference_state_dict(*model_, entries, path);
  }
  if (ema_) ema_.emplace(model_, config_.train.ema_rate);
  return "reference state_dict";
}

}  // namespace trm::core
