// Parity with the reference implementation: replays a fixture (a .pt of reference tensors and its
// .json config, see shared/fixtures/README.md) through our model, loss and optimizers and compares
// every tensor within the tolerance the fixture README gives for its group.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace trm::core {

struct Fixture {
  std::string name;       // file stem, e.g. "att"
  std::string pt_path;    // tensors
  std::string json_path;  // config (string fields)
};

// $TRM_FIXTURES_DIR when set, else the build's default (the shared/ fixtures folder).
std::string default_fixtures_dir();
// Every <stem>.pt in `dir` with a <stem>.json beside it, sorted by name.
std::vector<Fixture> find_fixtures(const std::string& dir);

struct ParityCheck {
  std::string key;      // fixture key, e.g. "step1/logits"
  double error = 0.0;   // max |ours - reference| (or the group's measure, see `how`)
  double allowed = 0.0; // tolerance for this key
  std::string how;      // what error/allowed measure
  bool ok = false;
};

struct ParityReport {
  std::string fixture;
  ModelConfig config;
  std::vector<ParityCheck> checks;
  bool ok() const;
};

// The model config a fixture was made with (numbers from its config/ tensors, strings from JSON).
ModelConfig fixture_config(const Fixture& f);
// Runs the whole replay (steps 1-2 in training mode, gradients, AdamATan2, sign-SGD, eval).
ParityReport run_parity(const Fixture& f);

}  // namespace trm::core
