// `status` shows the SLURM job recorded in a results file, from `scontrol show job` (here a
// stand-in first on PATH: the real cluster test runs the real one).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "launcher/slurm_status.h"
#include "storage/results_reader.h"
#include "storage/results_writer.h"

namespace fs = std::filesystem;

namespace {

class SlurmStatus : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trm_slurm_status_" + std::to_string(getpid()));
    fs::create_directories(dir_ / "bin");
    old_path_ = std::getenv("PATH");
    setenv("PATH", ((dir_ / "bin").string() + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    fs::remove_all(dir_);
  }
  // A results file; with `job`, the run verb's event "slurm job=<job>".
  std::string results(const std::string& job) {
    const auto path = (dir_ / "r.h5").string();
    trm::storage::SweepHeader h;
    h.spec_toml = std::string("[sweep]\nname = ") + "\"status\"\n";
    h.spec_hash = std::to_string(getpid());
    std::vector<trm::storage::TrialDefinition> trials(1);
    trials[0].id = "id-" + std::to_string(getpid());
    trials[0].name = "trial " + trials[0].id;
    auto w = trm::storage::ResultsWriter::create(path, h, trials);
    if (!job.empty()) w.log_event(-1, "slurm", "job=" + job);
    w.close();
    return path;
  }
  void fake_scontrol(const std::string& body) {
    const auto p = dir_ / "bin" / "scontrol";
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms::owner_all);
  }
  fs::path dir_;
  std::string old_path_;
};

}  // namespace

TEST_F(SlurmStatus, ShowsTheRecordedJobsStateRestartsAndRunTime) {
  fake_scontrol(
      "[ \"$4\" = 42 ] || exit 1\n"
      "echo 'JobId=42 JobName=trm-t UserId=ada(1) JobState=RUNNING Reason=None Restarts=1 "
      "RunTime=00:00:31 TimeLimit=00:01:00 Command=/a b/c'");
  const trm::storage::ResultsReader r(results("42"));
  EXPECT_EQ(trm::launcher::recorded_slurm_job(r), "42");
  EXPECT_EQ(trm::launcher::slurm_status_text(r),
            "slurm job 42: RUNNING, restarts 1, run time 00:00:31 of 00:01:00\n");
  EXPECT_EQ(trm::launcher::slurm_status_json(r),
            "{\"job_id\": \"42\", \"state\": \"RUNNING\", \"reason\": \"None\", \"restarts\": "
            "\"1\", \"run_time\": \"00:00:31\", \"time_limit\": \"00:01:00\"}");
}

TEST_F(SlurmStatus, AJobScontrolForgotIsUnknownWithItsMessage) {
  fake_scontrol("echo 'slurm_load_jobs error: Invalid job id specified'; exit 1");
  const trm::storage::ResultsReader r(results("7"));
  EXPECT_EQ(trm::launcher::slurm_status_text(r),
            "slurm job 7: unknown (slurm_load_jobs error: Invalid job id specified)\n");
}

// A slurmctld that does not answer makes scontrol retry for minutes: status must not hang.
TEST_F(SlurmStatus, AnScontrolThatHangsIsEndedAndSaid) {
  fake_scontrol("sleep 60");
  // (Had it been waited out, its empty output would give an empty reason.)
  const auto s = trm::launcher::query_slurm_job("9", 1);
  EXPECT_EQ(s.state, "unknown");
  EXPECT_EQ(s.reason, "scontrol gave no answer within 1 s; is slurmctld up?");
}

TEST_F(SlurmStatus, AFileWithoutAJobShowsNothing) {
  fake_scontrol("exit 1");
  const trm::storage::ResultsReader r(results(""));
  EXPECT_EQ(trm::launcher::slurm_status_text(r), "");
  EXPECT_EQ(trm::launcher::slurm_status_json(r), "null");
}
