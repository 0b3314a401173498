// Reads the files Python's torch.save writes for a dict of tensors: the parity fixtures and the
// reference implementation's checkpoints (an OrderedDict with _metadata, possibly saved on a GPU),
// which LibTorch 1.13's torch::pickle_load cannot read.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>
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

// What is wrong with a TorchScript archive as torch::serialize::OutputArchive writes it
// (trm-sweep's checkpoints and weights files: a zip whose data.pkl builds a __torch__ object of
// ints, strings and tensors), given the file's bytes; "" when nothing is. LibTorch 1.13 reads such
// a file without checking that each tensor's view lies inside its storage and each storage inside
// its record, so a damaged offset, size, stride or record would read past a buffer (a crash, or
// weights made of whatever memory follows). Checked here: the pickle parses (the objects a
// trm-sweep archive holds), every view lies inside its storage, every storage's record exists and
// is large enough. Sets *script to whether the bytes are such an archive; "" for anything else (a
// torch.save file has its own checks in read_torch_save).
std::string torch_archive_damage(std::string_view archive, bool* script);

}  // namespace trm::core
