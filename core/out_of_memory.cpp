#include "core/out_of_memory.h"

#include <ATen/ops/mm.h>
#include <ATen/ops/ones.h>
#include <c10/util/Exception.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <regex>
#include <stdexcept>

#include "core/gemm.h"

namespace trm::core {

namespace {

// First line of a c10 message (the rest is a C++ stack trace).
std::string first_line(const char* what) {
  const std::string s(what);
  return s.substr(0, s.find('\n'));
}

// "you tried to allocate 123 bytes" (CPU) or "Tried to allocate 2.00 GiB" (CUDA).
int64_t requested_bytes_in(const std::string& msg) {
  std::smatch m;
  if (std::regex_search(msg, m, std::regex("allocate ([0-9]+) bytes"))) {
    try {
      return std::stoll(m[1]);
    } catch (const std::out_of_range&) {  // a size beyond int64: reported as the largest
      return std::numeric_limits<int64_t>::max();
    }
  }
  if (std::regex_search(msg, m, std::regex("allocate ([0-9.]+) (KiB|MiB|GiB|TiB)"))) {
    const double scale = m[2] == "KiB"   ? 1024.0
                         : m[2] == "MiB" ? 1048576.0
                         : m[2] == "GiB" ? 1073741824.0
                                         : 1099511627776.0;
    return static_cast<int64_t>(std::stod(m[1]) * scale);
  }
  return -1;
}

}  // namespace

std::optional<OutOfMemoryError> as_out_of_memory(const std::exception& e) {
  if (const auto* cuda = dynamic_cast<const c10::OutOfMemoryError*>(&e)) {
    const auto msg = first_line(cuda->what());
    return OutOfMemoryError("out of memory (CUDA): " + msg, requested_bytes_in(msg));
  }
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    const auto msg = first_line(c10->what());
    if (msg.find("can't allocate memory") != std::string::npos ||
        msg.find("not enough memory") != std::string::npos) {
      return OutOfMemoryError("out of memory (CPU): " + msg, requested_bytes_in(msg));
    }
    return std::nullopt;
  }
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return OutOfMemoryError(std::string("out of memory: ") + e.what(), -1);
  }
  return std::nullopt;
}

namespace {

// A "Vm...:  N kB" line of /proc/self/status, in bytes; 0 where there is none (not Linux).
int64_t status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + key.size()) * 1024;
  }
  return 0;
}

}  // namespace

void set_cpu_memory_budget(int64_t bytes) {
  if (bytes <= 0) {
    throw ConfigError("memory budget = " + std::to_string(bytes) + " bytes: must be > 0");
  }
  // OpenBLAS takes its work buffers (up to 128 MiB a thread) at its first products, and when
  // malloc fails there it retries forever instead of failing: a trial whose budget is near its
  // needs would hang, not report OOM. Let it take them (on every thread) before the limit.
  const auto a = at::ones({512, 512});
  (void)at::mm(a, a);
  warm_up_raw_sgemm();
  const int64_t reserved = std::max<int64_t>(0, status_bytes("VmData:") - status_bytes("VmRSS:"));
  const int64_t cap = bytes > std::numeric_limits<int64_t>::max() - reserved
                          ? std::numeric_limits<int64_t>::max()
                          : bytes + reserved;
  rlimit limit{};
  limit.rlim_cur = static_cast<rlim_t>(cap);
  limit.rlim_max = static_cast<rlim_t>(cap);
  if (setrlimit(RLIMIT_DATA, &limit) != 0) {
    throw ConfigError("memory budget = " + std::to_string(bytes) +
                      " bytes: setrlimit(RLIMIT_DATA) failed: " + std::strerror(errno));
  }
}

}  // namespace trm::core
