// trm-core: the core verbs without the full CLI (built with TRM_CORE_ONLY, where LibTorch is the
// only dependency). Usage: trm-core parity [DIR] [-v] | trm-core model [--preset P] [--set k=v]...
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/parity.h"
#include "launcher/core_verbs.h"

namespace {

int usage() {
  std::cerr << "usage: trm-core parity [DIR] [-v]\n"
               "       trm-core model [--preset trm|trm-att|hrm] [--set key=value]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string verb = argv[1];
  return trm::launcher::run_guarded("trm-core", [&] {
    if (verb == "parity") {
      std::string dir = trm::core::default_fixtures_dir();
      bool verbose = false;
      for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "-v") == 0) {
          verbose = true;
        } else {
          dir = argv[i];
        }
      }
      return trm::launcher::parity_verb(dir, verbose, std::cout);
    }
    if (verb == "model") {
      std::string preset = "trm";
      std::vector<std::string> sets;
      for (int i = 2; i < argc; i += 2) {
        const std::string flag = argv[i];
        if (i + 1 == argc) return usage();  // a flag without its value
        if (flag == "--preset") {
          preset = argv[i + 1];
        } else if (flag == "--set") {
          sets.emplace_back(argv[i + 1]);
        } else {
          return usage();
        }
      }
      return trm::launcher::model_verb(preset, sets, std::cout);
    }
    return usage();
  });
}
