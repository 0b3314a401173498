// How this process's heap serves the training step's large, short-lived activations.
#pragma once

namespace trm::core {

// A training step frees and asks again for the same activations at every evaluation. glibc's
// defaults serve each block above its mmap threshold (at most 32 MiB) with a fresh mapping that
// is unmapped when freed, and trim the heap's free top, so the kernel faults in and zeroes those
// pages again every time: 23% of a Sudoku TRM-MLP step at batch 32 (BENCHMARKS.md). This
//  - makes malloc serve large blocks from the heap as well and never give freed memory back to
//    the system (threads other than the main one can still map blocks larger than their arena);
//  - makes LibTorch's CPU tensors ask malloc for their size plus 64 bytes and align inside it,
//    instead of posix_memalign, whose request is larger than the block it keeps: a freed block
//    could not serve the next tensor of the same size and new pages were faulted in.
// The peak resident size is that of the live tensors, as before; memory freed after the peak
// stays with the process until it exits. Allocation failures are the same c10::Error as LibTorch's
// own allocator raises ("can't allocate memory: you tried to allocate N bytes"). Call it once,
// early: tensors that exist already keep their own deleter. Returns false where the C library
// refused a setting (LibTorch's allocator is replaced either way).
bool keep_freed_memory_for_reuse();

}  // namespace trm::core
