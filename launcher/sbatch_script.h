// Renders slurm/sweep.sbatch for `trm-sweep submit`: validated options in, a script out in which
// every value is quoted for the parser that reads it (bash for the body, sbatch for #SBATCH).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "launcher/submit_options.h"

namespace trm::launcher {

// A bash word that reads back as exactly `s` (single quotes unless `s` is plainly safe).
std::string shell_quote(std::string_view s);
// A bash word ($'...') that reads back as exactly `s`, with no carriage return in the script
// itself (sbatch refuses a script with DOS line breaks): for the spec text the script carries.
std::string ansi_c_quote(std::string_view s);
// An #SBATCH value that sbatch's own parser reads back as exactly `s` (double quotes with
// backslash escapes unless `s` is plainly safe). Control characters are a bug here: validate.
std::string sbatch_quote(std::string_view s);
// A time limit ([D-]HH:MM:SS, [D-]HH:MM, MM:SS, or minutes) in seconds; ConfigError otherwise.
int64_t parse_time_limit(std::string_view text);

// What the script needs beyond the options: resolved by submit_verb, fixed by the golden tests.
struct SbatchContext {
  std::string trm;         // absolute path of the trm-sweep binary the job runs
  std::string sweep_name;  // from the spec (the default job name)
  int64_t trials = 0;      // trials in the spec (in the header comment)
  std::string spec_text;   // the spec as submitted: the script carries it (the file may change)
};

// Checks every option (all problems at once, in one ConfigError) and fills the defaults that
// depend on others: tasks_per_node, job_name, log. Paths must already be absolute.
SubmitOptions validated(SubmitOptions options, const SbatchContext& context);

// The sbatch script for validated options.
std::string render_sbatch(const SubmitOptions& options, const SbatchContext& context);

// The log path of job `job_id` (%j, %A, %x and %% expanded as sbatch does; %a, an array task,
// becomes `task`).
std::string log_path_of(const SubmitOptions& options, const std::string& job_id,
                        std::string_view task = "%a");

// The results file of `submit --array` task `task`: RESULTS.h5 -> RESULTS.task3.h5 (a path
// without .h5 gets .task3 appended). `merge` joins them into RESULTS.h5.
std::string task_results_path(const std::string& results, std::string_view task);

}  // namespace trm::launcher
