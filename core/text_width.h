// The columns a UTF-8 string takes on a terminal, for the text tables of `plan` and `status`:
// one per character, two for East Asian wide ones (CJK, Hangul, full-width forms, most emoji),
// none for combining marks. Torch-free (core_base).
#pragma once

#include <cstddef>
#include <string_view>

namespace trm::core {

size_t display_width(std::string_view utf8);

}  // namespace trm::core
