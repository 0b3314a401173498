#include "launcher/slurm_command.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "launcher/sbatch_script.h"

namespace trm::launcher {

CommandResult run_command(const std::vector<std::string>& argv, int timeout_s) {
  std::string line = timeout_s > 0 ? "timeout -k 5 " + std::to_string(timeout_s) : "";
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    line += shell_quote(a);
  }
  line += " 2>&1 </dev/null";
  CommandResult r;
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) {
    r.output = "could not start " + argv.at(0);
    return r;
  }
  std::array<char, 4096> buf{};
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;)
    r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace trm::launcher
