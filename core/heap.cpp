#include "core/heap.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/alignment.h>
#include <c10/util/Exception.h>
#include <malloc.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace trm::core {

namespace {

// malloc(n + gAlignment), the data pointer rounded up to gAlignment inside it (at least one
// byte up, since malloc aligns to 16 < 64), and the offset kept in the byte before the data, so
// that the data pointer is also the context and the raw interface works.
void free_aligned(void* data) {
  if (data == nullptr) return;
  auto* p = static_cast<unsigned char*>(data);
  std::free(p - p[-1]);
}

class ReusingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &free_aligned, cpu};
    static_assert(c10::gAlignment <= 128, "the offset must fit in one byte");
    errno = ENOMEM;  // what a size beyond any heap reports
    auto* base = n > SIZE_MAX - c10::gAlignment
                     ? nullptr
                     : static_cast<unsigned char*>(std::malloc(n + c10::gAlignment));
    TORCH_CHECK(base != nullptr,
                "DefaultCPUAllocator: can't allocate memory: you tried to allocate ", n,
                " bytes. Error code ", errno, " (", std::strerror(errno), ")");
    const auto address = reinterpret_cast<std::uintptr_t>(base);
    const size_t offset = c10::gAlignment - address % c10::gAlignment;  // 1..gAlignment
    auto* data = base + offset;
    data[-1] = static_cast<unsigned char>(offset);
    return {data, data, &free_aligned, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &free_aligned; }
};

}  // namespace

bool keep_freed_memory_for_reuse() {
  static ReusingCpuAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
  // M_MMAP_MAX 0: no block is served by its own mapping; M_TRIM_THRESHOLD -1: never trim.
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
}

}  // namespace trm::core
