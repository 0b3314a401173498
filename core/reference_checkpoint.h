// Reads the files Python's torch.save writes for a dict of tensors: the parity fixtures and the
// reference implementation's checkpoints (an OrderedDict with _metadata, possibly saved on a GPU),
// which LibTorch 1.13's torch::pickle_load cannot read.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace trm::core {

// One entry of the saved dict.
struct NamedTensor {
  std::string name;
  at::Tensor value;
};

// Reads a file written by Python's torch.save(...) of a dict / collections.OrderedDict of tensors.
// Returns the entries in file order; every value is a contiguous CPU tensor that owns its storage
// (storages saved on a GPU are loaded on the CPU; views and tensors sharing a storage are copied).
// Accepts the zip format of torch.save (PyTorch >= 1.6) with pickle protocol 2 to 4; an
// OrderedDict's attributes (the state_dict's _metadata) are dropped.
// Throws trm::DataError, naming the path and the problem, when the file is missing, not a
// torch.save zip archive, truncated, or holds anything other than a dict of str -> tensor.
std::vector<NamedTensor> read_torch_save(const std::string& path);

}  // namespace trm::core
