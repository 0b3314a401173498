// The SLURM job behind a results file, for `trm-sweep status`: the run verb logs an event of
// kind "slurm" with message "job=<SLURM_JOB_ID>"; its state comes from `scontrol show job`.
#pragma once

#include <string>

#include "storage/results_reader.h"

namespace trm::launcher {

struct SlurmJobState {
  std::string job_id;      // empty: the file records no SLURM job
  std::string state;       // PENDING, RUNNING, COMPLETED, CANCELLED, ...; "unknown" if not found
  std::string reason;      // why it pends (None when running); scontrol's error when unknown
  std::string restarts;    // times it was requeued
  std::string run_time;    // of the current run, [D-]HH:MM:SS
  std::string time_limit;  // of each run
};

// The job id of the last "slurm" event ("" when there is none).
std::string recorded_slurm_job(const storage::ResultsReader& reader);

// `scontrol show job -o ID`; state "unknown" when scontrol is missing, forgot the job, or gave
// no answer within timeout_s (a slurmctld down makes it retry for minutes).
constexpr int kScontrolTimeoutSeconds = 20;
SlurmJobState query_slurm_job(const std::string& job_id, int timeout_s = kScontrolTimeoutSeconds);

// For status_verb: one line "slurm job 12: RUNNING, restarts 1, run time 00:00:31 of 00:01:00\n",
// or "" when the file records no job.
std::string slurm_status_text(const storage::ResultsReader& reader);
// The same as a JSON value: {"job_id": "12", "state": "RUNNING", ...} or null.
std::string slurm_status_json(const storage::ResultsReader& reader);

}  // namespace trm::launcher
