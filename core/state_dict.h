// Loads weights stored under the reference implementation's names (its checkpoints and the parity
// fixtures) into a TrmModel, so a reference checkpoint can be evaluated here (TRM-SPEC §5.5).
#pragma once

#include <string>
#include <vector>

#include "core/reference_checkpoint.h"
#include "core/trm_model.h"

namespace trm::core {

// The model-relative name of a reference state_dict key: drops a leading "_orig_mod." (left by
// torch.compile) and "model.inner." or "inner." (the ACT wrapper and loss head).
std::string model_relative_name(const std::string& reference_key);

// Names of the model's persistent entries (parameters and buffers a checkpoint holds; the RoPE
// tables are recomputed, not stored).
std::vector<std::string> persistent_names(TrmModelImpl& model);

// Copies every entry into the parameter/buffer of the same model-relative name (cast to its
// dtype and device). Throws DataError naming `origin` and every problem: a persistent entry the
// file lacks, an entry the model does not have, a shape mismatch.
void load_reference_state_dict(TrmModelImpl& model, const std::vector<NamedTensor>& entries,
                               const std::string& origin);

// read_torch_save + load_reference_state_dict.
void load_reference_checkpoint(TrmModelImpl& model, const std::string& path);

}  // namespace trm::core
