#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <type_traits>

#include "core/errors.h"
#include "core/fields.h"
#include "launcher/train_verb.h"
#include "launcher/trial_process.h"
#include "launcher/trial_runner.h"
#include "launcher/worker.h"

namespace trm::launcher {
namespace {

// Every field of a trial config moved off its default (strings get spaces, '=' and quotes), so
// that a field the message drops or mangles breaks the equality.
core::TrialConfig every_field_changed() {
  core::TrialConfig c;
  core::TrialConfig::visit_fields(c, [](std::string_view, auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<F, bool>) {
      field = !field;
    } else if constexpr (std::is_same_v<F, int64_t>) {
      field += 3;
    } else if constexpr (std::is_same_v<F, double>) {
      field = field * 2 + 0.1;  // not exact in binary: the text must round-trip all digits
    } else if constexpr (std::is_same_v<F, std::string>) {
      field += " a=b \"c\"";
    } else {
      const auto& values = core::EnumNames<F>::values;
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i].first == field) {
          field = values[(i + 1) % values.size()].first;
          break;
        }
      }
    }
  });
  return c;
}

TEST(LauncherMessages, AnAssignmentArrivesWithEveryConfigFieldBitForBit) {
  Assignment a;
  a.index = 41;
  a.config = every_field_changed();
  a.kind = TrialKind::sleep;
  a.sleep_seconds = 0.3;
  a.launch.dir = "/scratch/my sweep/r.h5.trials/0123abcd";
  a.launch.memory_budget = int64_t{3} << 30;
  a.launch.checkpoint_every = 250;
  const Assignment b = decode_assignment(encode(a));
  EXPECT_EQ(b.index, 41);
  EXPECT_EQ(b.kind, TrialKind::sleep);
  EXPECT_EQ(b.sleep_seconds, 0.3);
  EXPECT_EQ(b.launch.dir, a.launch.dir);
  EXPECT_EQ(b.launch.memory_budget, a.launch.memory_budget);
  EXPECT_EQ(b.launch.checkpoint_every, 250);
  EXPECT_EQ(b.config, a.config);
  EXPECT_EQ(core::key_values(b.config), core::key_values(a.config));
}

TEST(LauncherMessages, AnOutcomeKeepsItsMultiLineError) {
  TrialOutcome o;
  o.end = TrialEnd::oom;
  o.peak_rss_bytes = 123456789;
  o.error = "exit 4: out of memory (CPU)\nyou tried to allocate 2 GiB\n";
  const TrialOutcome p = decode_outcome(encode(o));
  EXPECT_EQ(p.end, TrialEnd::oom);
  EXPECT_EQ(p.peak_rss_bytes, 123456789);
  EXPECT_EQ(p.error, o.error);
}

TEST(LauncherMessages, AMalformedMessageIsABugAndABadKindAUserError) {
  EXPECT_THROW(decode_outcome("2"), InternalError);
  EXPECT_THROW(decode_assignment("1\ntrain\n"), InternalError);
  EXPECT_THROW(parse_trial_kind("nap"), ConfigError);
}

// A CPU run predicted past the machine's free memory is limited to what it holds plus 90% of
// MemAvailable (it then ends as out of memory, exit 4, not by the kernel's OOM killer); one that
// fits, or where MemAvailable is unknown, is not limited at all.
TEST(TrainMemory, ARunPredictedPastTheFreeMemoryIsLimitedToIt) {
  const int64_t gib = int64_t{1} << 30;
  EXPECT_EQ(default_cpu_memory_limit(44.0 * gib, 1 * gib, 20 * gib), 1 * gib + 20 * gib / 10 * 9);
  EXPECT_EQ(default_cpu_memory_limit(18.0 * gib, 1 * gib, 20 * gib), 0);
  EXPECT_EQ(default_cpu_memory_limit(19.5 * gib, 1 * gib, 20 * gib), 1 * gib + 20 * gib / 10 * 9);
  EXPECT_EQ(default_cpu_memory_limit(44.0 * gib, 1 * gib, 0), 0);
}

TEST(TrialRunner, ANoopTrialEndsDoneAtItsFirstPoll) {
  TrialRunner r;
  Assignment a;
  a.index = 7;
  a.kind = TrialKind::noop;
  r.start(a);
  ASSERT_TRUE(r.busy());
  EXPECT_EQ(r.index(), 7);
  std::vector<std::string> lines;
  TrialOutcome o;
  ASSERT_TRUE(r.poll(lines, &o));
  EXPECT_EQ(o.end, TrialEnd::done);
  EXPECT_FALSE(r.busy());
  EXPECT_FALSE(r.poll(lines, &o));  // nothing runs any more
}

TEST(TrialRunner, AStoppedSleepTrialIsInterrupted) {
  TrialRunner r;
  Assignment a;
  a.index = 3;
  a.kind = TrialKind::sleep;
  a.sleep_seconds = 3600;
  r.start(a);
  std::vector<std::string> lines;
  TrialOutcome o;
  EXPECT_FALSE(r.poll(lines, &o));
  r.request_stop();
  ASSERT_TRUE(r.poll(lines, &o));
  EXPECT_EQ(o.end, TrialEnd::interrupted);
}

// A trial that cannot start (here its folder cannot be made) is that trial's failure, with the
// reason, at the next poll: not an exception out of the coordinator's or a worker's loop.
TEST(TrialRunner, ATrialThatCannotStartFailsWithTheReason) {
  TrialRunner r;
  Assignment a;
  a.index = 5;
  a.kind = TrialKind::train;
  a.launch.dir = "/dev/null/trial";  // under a file: no folder can be made there
  ASSERT_NO_THROW(r.start(a));
  ASSERT_TRUE(r.busy());
  std::vector<std::string> lines;
  TrialOutcome o;
  ASSERT_TRUE(r.poll(lines, &o));
  EXPECT_EQ(o.end, TrialEnd::failed);
  EXPECT_NE(o.error.find("cannot start the trial"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("/dev/null/trial"), std::string::npos) << o.error;
  EXPECT_FALSE(r.busy());
}

// One scancel reaches a rank as several signals within moments: one stop. A signal a second or
// more after the first ends the trials at once, and only once.
TEST(StopSignals, SignalsWithinASecondOfTheFirstAreOneStop) {
  StopSignals s;
  EXPECT_EQ(s.update(0, 10.0), StopSignals::Act::none);
  EXPECT_EQ(s.update(1, 10.0), StopSignals::Act::stop);
  EXPECT_EQ(s.update(1, 10.5), StopSignals::Act::none);  // nothing new
  EXPECT_EQ(s.update(3, 10.2), StopSignals::Act::none);  // SIGTERM twice more, at once
  EXPECT_EQ(s.update(4, 10.9), StopSignals::Act::none);  // the job script's USR1
  EXPECT_EQ(s.update(5, 11.5), StopSignals::Act::kill);  // the user insists
  EXPECT_EQ(s.update(6, 20.0), StopSignals::Act::none);
}

// The kernel's OOM kills are read from the trial's memory cgroup: a SIGKILL with the count risen
// is an oom result even without a memory budget. Fake /sys/fs/cgroup trees of both versions.
class CgroupOomKills : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("trm_cgroup_" + std::to_string(getpid()));
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& relative, const std::string& text) {
    const auto path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  int64_t count(const std::string& proc_cgroup) {
    write("proc_cgroup", proc_cgroup);
    return cgroup_oom_kills((root_ / "sys").string(), (root_ / "proc_cgroup").string());
  }
  std::filesystem::path root_;
};

TEST_F(CgroupOomKills, Version2ReadsTheOwnCgroupsMemoryEvents) {
  write("sys/system.slice/slurmstepd.scope/job_7/memory.events",
        "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
  EXPECT_EQ(count("0::/system.slice/slurmstepd.scope/job_7\n"), 2);
}

TEST_F(CgroupOomKills, Version1ReadsTheMemoryControllersOomControl) {
  write("sys/memory/slurm/uid_0/job_9/memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
  EXPECT_EQ(count("4:memory:/slurm/uid_0/job_9\n3:cpuset:/\n0::/\n"), 5);
}

TEST_F(CgroupOomKills, AContainerSeesItsOwnCgroupAtTheMountsRoot) {
  // /proc/self/cgroup names the host's path, which the container's mount does not have.
  write("sys/memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  EXPECT_EQ(count("4:memory,hugetlb:/process_api/489d\n0::/\n"), 1);
}

TEST_F(CgroupOomKills, NoCountReadableIsMinusOne) {
  EXPECT_EQ(count("0::/nowhere\n"), -1);
  // A v1 kernel older than 4.13 has no oom_kill line.
  write("sys/memory/a/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_EQ(count("4:memory:/a\n"), -1);
}

}  // namespace
}  // namespace trm::launcher
