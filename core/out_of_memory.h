// Out of memory is a result, not a crash (DESIGN.md "Process model"): allocation failures of any
// kind become one typed error with the bytes asked for, and a trial can be given a memory budget
// so that OOM can be provoked (and tested) on a CPU machine.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "core/errors.h"

namespace trm::core {

class OutOfMemoryError : public UserError {
 public:
  OutOfMemoryError(const std::string& what, int64_t requested_bytes)
      : UserError(what), requested_bytes_(requested_bytes) {}
  // Bytes of the allocation that failed; -1 when the allocator did not say.
  int64_t requested_bytes() const { return requested_bytes_; }

 private:
  int64_t requested_bytes_;
};

// The OOM error an exception stands for: c10::OutOfMemoryError (CUDA), the CPU allocator's
// c10::Error ("can't allocate memory: you tried to allocate N bytes"), std::bad_alloc. Empty for
// any other exception.
std::optional<OutOfMemoryError> as_out_of_memory(const std::exception& e);

// Limits this process's heap (RLIMIT_DATA: malloc and anonymous mmaps, not the shared libraries)
// so that its resident memory can grow to about `bytes`, and a trial beyond its budget fails its
// allocation instead of swapping or meeting the kernel's OOM killer. The limit is `bytes` plus
// the address space already reserved and not resident when it is set (thread stacks, the BLAS
// work buffers: ~180 MB here), so the budget compares with the peak RSS that the cost model
// predicts and that a trial reports, not with its virtual size. Throws ConfigError when the
// limit cannot be set.
void set_cpu_memory_budget(int64_t bytes);

}  // namespace trm::core
