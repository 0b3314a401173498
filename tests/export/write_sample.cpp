// Test helper for the CLI, browser and pandas checks: writes a sample results file.
//   export_sample_writer ablation|grid|empty FILE
#include <cstdio>
#include <exception>

#include "sample_sweeps.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: export_sample_writer ablation|grid|empty FILE\n");
    return 2;
  }
  try {
    trm::exporttest::write_sample(argv[2], argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "export_sample_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
