// The `submit` subcommand's command line, built from SubmitOptions' one list of options
// (header-only: CLI11 is the composition root's dependency, see main.cpp).
#pragma once

#include <CLI/CLI.hpp>
#include <type_traits>

#include "launcher/submit_options.h"

namespace trm::launcher {

// Adds `submit` to `app`, writing into `o`. Unknown options are left in remaining() for
// submit_verb, which answers with the list of valid ones.
inline CLI::App* add_submit_command(CLI::App& app, SubmitOptions& o) {
  auto* submit = app.add_subcommand(
      "submit", "render the sbatch script (slurm/sweep.sbatch) for a sweep and sbatch it");
  submit->allow_extras();
  submit->add_option("spec", o.spec, "sweep spec (TOML)");
  SubmitOptions::visit_options(o, [&](const char* flags, auto& field, const char* help) {
    using T = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<T, bool>) {
      submit->add_flag(flags, field, help);
    } else {
      submit->add_option(flags, field, help)->capture_default_str();
    }
  });
  return submit;
}

}  // namespace trm::launcher
