// A model config small enough for unit tests to build and step in milliseconds.
#pragma once

#include "core/config.h"

namespace trm::core {

inline ModelConfig tiny_config(TokenMixer mixer = TokenMixer::mlp) {
  ModelConfig c;
  c.hidden_size = 32;
  c.num_heads = 4;
  c.h_cycles = 2;
  c.l_cycles = 2;
  c.vocab_size = 6;
  c.seq_len = 9;
  c.puzzle_emb_ndim = 32;
  c.puzzle_emb_len = 2;
  c.num_puzzle_identifiers = 3;
  c.halt_max_steps = 4;
  c.mixer = mixer;
  c.pos_encodings = mixer == TokenMixer::attention ? PosEncoding::rope : PosEncoding::none;
  return c;
}

}  // namespace trm::core
