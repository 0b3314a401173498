// The reference implementation's data sets on disk (TRM-SPEC §7.1), torch-free: a folder with
// train/ and test/, each holding dataset.json and, for every set it names (always "all"),
// S__inputs.npy, S__labels.npy, S__puzzle_identifiers.npy, S__puzzle_indices.npy and
// S__group_indices.npy, as the reference's build_sudoku_dataset.py, build_maze_dataset.py and
// build_arc_dataset.py write them. Users train on the published Sudoku-Extreme, Maze-Hard and
// ARC sets this way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/sudoku.h"

namespace trm::core {

// What one split holds, from its dataset.json and the arrays' headers (nothing else is read).
struct ReferenceSplitShape {
  int64_t seq_len = 0;                 // tokens per example
  int64_t vocab_size = 0;              // tokens are < vocab_size
  int64_t num_puzzle_identifiers = 0;  // puzzle ids are < this
  int64_t examples = 0;
  int64_t puzzles = 0;
  int64_t groups = 0;
};

struct ReferenceDataShape {
  ReferenceSplitShape train, test;
};

// The shape of the data set in `dir` (train/ and test/). Cheap: two small JSON files and the
// arrays' headers. Throws DataError naming the file and what is wrong.
ReferenceDataShape reference_data_shape(const std::string& dir);

// One split (`dir`/train or `dir`/test) as PuzzleArrays, every array checked: shapes that agree,
// CSR offsets that start at 0, never decrease and end at the next array's length, tokens below
// vocab_size, ids below num_puzzle_identifiers. Several sets are joined in the order named.
// `stop`, when given, is asked between arrays: true throws Stopped.
PuzzleArrays load_reference_split(const std::string& split_dir,
                                  const std::function<bool()>& stop = {});

// Writes `train` and `test` into `dir` in that format (uint8 tokens, int32 ids and offsets,
// dataset.json as the reference writes it, identifiers.json), so that the reference reads
// them, and so does data.source = reference. `dir` must not exist or be empty: nothing is
// overwritten. Each file is written whole or not at all.
void write_reference_data(const PuzzleArrays& train, const PuzzleArrays& test,
                          const std::string& dir);

}  // namespace trm::core
