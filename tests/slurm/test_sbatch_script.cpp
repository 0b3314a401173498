// The rendered sbatch scripts against recorded golden files, the quoting of every value, and
// the validation of submit's options.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "launcher/sbatch_script.h"
#include "launcher/submit_options.h"
#include "launcher/submit_verb.h"

namespace {

using trm::launcher::SbatchContext;
using trm::launcher::SubmitOptions;

SbatchContext context() {
  SbatchContext c;
  c.trm = "/opt/trm/bin/trm-sweep";
  c.sweep_name = "tiny";
  c.trials = 4;
  c.spec_text =
      "# the user's sweep: it's carried by the script, quotes and all\n[sweep]\nname = \"tiny\"\n";
  return c;
}

SubmitOptions cpu_options() {
  SubmitOptions o;
  o.spec = "/home/ada/sweeps/tiny.toml";
  o.results = "/scratch/ada/tiny.h5";
  o.cpus_per_task = 2;
  o.time = "00:30:00";
  return o;
}

SubmitOptions gpu_options() {
  SubmitOptions o;
  o.spec = "/home/ada/sweeps/table1.toml";
  o.results = "/scratch/ada/table1.h5";
  o.nodes = 4;
  o.gpus_per_node = 8;
  o.cpus_per_task = 12;
  o.time = "2-00:00:00";
  o.grace = 300;
  o.max_requeues = 3;
  o.partition = "gpu";
  o.account = "proj-42";
  o.qos = "high";
  o.mem = "480G";
  o.constraint = "a100|h100";
  o.extra_sbatch = {"--exclusive --mail-type=END"};
  return o;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void expect_golden(const std::string& name, const std::string& rendered) {
  const auto path = std::filesystem::path(TRM_GOLDEN_DIR) / name;
  if (std::getenv("TRM_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << rendered;
  }
  EXPECT_EQ(read(path), rendered)
      << "the rendered script differs from " << path << ". If the change is intended, regenerate:\n"
      << "  TRM_UPDATE_GOLDEN=1 ctest --test-dir build -R slurm.SbatchGolden\n"
      << "and review the diff (git diff tests/slurm/golden).";
}

std::string validation_error(SubmitOptions o) {
  try {
    trm::launcher::validated(o, context());
  } catch (const trm::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SbatchGolden, OneNodeCpuSweepMatchesTheRecordedScript) {
  const auto o = trm::launcher::validated(cpu_options(), context());
  expect_golden("cpu_one_node.sbatch", trm::launcher::render_sbatch(o, context()));
}

TEST(SbatchGolden, FourNodesOfEightGpusMatchTheRecordedScript) {
  const auto o = trm::launcher::validated(gpu_options(), context());
  expect_golden("gpu_four_nodes.sbatch", trm::launcher::render_sbatch(o, context()));
}

TEST(SbatchScript, GpuJobRunsOneRankPerGpuOnCuda) {
  const auto o = trm::launcher::validated(gpu_options(), context());
  EXPECT_EQ(o.tasks_per_node, 8);
  const auto s = trm::launcher::render_sbatch(o, context());
  EXPECT_NE(s.find("srun --mpi=pmix --ntasks=32 --ntasks-per-node=8"), std::string::npos) << s;
  EXPECT_NE(s.find("--device cuda"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --signal=B:USR1@300\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --requeue\n"), std::string::npos);
}

TEST(SbatchScript, TheMpiPluginIsTheSites) {
  auto o = gpu_options();
  o.mpi = "pmi2";
  const auto s = trm::launcher::render_sbatch(trm::launcher::validated(o, context()), context());
  EXPECT_NE(s.find("srun --mpi=pmi2 --ntasks=32"), std::string::npos) << s;
  o.mpi = "pmix; rm -rf ~";
  EXPECT_NE(validation_error(o).find("--mpi 'pmix; rm -rf ~': use letters, digits and _-"),
            std::string::npos)
      << validation_error(o);
  o.mpi = "";
  EXPECT_NE(validation_error(o).find("--mpi '': name srun's MPI plugin"), std::string::npos);
}

TEST(SbatchScript, ShellQuoteKeepsSpacesQuotesAndCommandSubstitutionLiteral) {
  using trm::launcher::shell_quote;
  EXPECT_EQ(shell_quote("/plain/path-1.h5"), "/plain/path-1.h5");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$(touch x)"), "'$(touch x)'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(SbatchScript, SbatchQuoteEscapesWhatSbatchsParserReads) {
  using trm::launcher::sbatch_quote;
  EXPECT_EQ(sbatch_quote("plain-1.log"), "plain-1.log");
  EXPECT_EQ(sbatch_quote("a b\"c#d"), "\"a b\\\"c\\#d\"");
}

TEST(SbatchScript, APathThatLooksLikeAPlaceholderStaysAPath) {
  auto o = cpu_options();
  o.results = "/scratch/{{SPEC}}/x.h5";
  const auto s = trm::launcher::render_sbatch(trm::launcher::validated(o, context()), context());
  EXPECT_NE(s.find("results='/scratch/{{SPEC}}/x.h5'"), std::string::npos) << s;
}

TEST(SbatchScript, DefaultLogEscapesPercentInTheResultsPath) {
  auto o = cpu_options();
  o.results = "/scratch/100%/x.h5";
  o = trm::launcher::validated(o, context());
  EXPECT_EQ(o.log, "/scratch/100%%/x.h5.slurm-%j.log");
  EXPECT_EQ(trm::launcher::log_path_of(o, "17"), "/scratch/100%/x.h5.slurm-17.log");
}

TEST(SbatchOptions, TimeLimitsParseAsSlurmReadsThem) {
  using trm::launcher::parse_time_limit;
  EXPECT_EQ(parse_time_limit("90"), 90 * 60);
  EXPECT_EQ(parse_time_limit("1:30"), 90);
  EXPECT_EQ(parse_time_limit("01:00:00"), 3600);
  EXPECT_EQ(parse_time_limit("2-00:00:00"), 2 * 86400);
  EXPECT_THROW(parse_time_limit("1h"), trm::ConfigError);
  EXPECT_THROW(parse_time_limit("0"), trm::ConfigError);
  EXPECT_THROW(parse_time_limit("99999999999999999999999"), trm::ConfigError);  // no overflow
  EXPECT_EQ(parse_time_limit("3-12"), 3 * 86400 + 12 * 3600);
  EXPECT_EQ(parse_time_limit("100:00:00"), 100 * 3600);  // hours may exceed a day
  for (const char* typo : {"25:99:99", "00:00:99", "1:60", "2-24:00:00", "1-00:75"})
    EXPECT_THROW(parse_time_limit(typo), trm::ConfigError) << typo;
}

TEST(SbatchOptions, EveryBadValueIsReportedAtOnce) {
  auto o = cpu_options();
  o.nodes = 0;
  o.time = "1:00";
  o.grace = 60;
  o.partition = "a b";
  o.mem = "lots";
  o.extra_sbatch = {"--signal=USR2 -x"};
  const auto e = validation_error(o);
  for (const char* part : {"--nodes 0", "--grace 60", "--partition 'a b'", "--mem 'lots'",
                           "--signal=USR2: the script sets --signal; use trm-sweep submit --grace",
                           "--extra-sbatch '-x'"}) {
    EXPECT_NE(e.find(part), std::string::npos) << part << " not in: " << e;
  }
}

// sbatch takes a unique prefix of a long option for the option: an abbreviated reserved one is
// refused as the full one is; --gpus, an option of its own, is not taken for --gpus-per-node.
TEST(SbatchOptions, AnAbbreviatedReservedDirectiveIsRefused) {
  for (const auto& [given, full] :
       std::vector<std::pair<std::string, std::string>>{{"--sig=USR2@5", "--signal"},
                                                        {"--tim=10", "--time"},
                                                        {"--arr=0-3", "--array"},
                                                        {"--ntasks-per-n=2", "--ntasks-per-node"},
                                                        {"--no-req", "--no-requeue"},
                                                        {"--out=/x/%j.log", "--output"}}) {
    auto o = cpu_options();
    o.extra_sbatch = {given};
    const auto e = validation_error(o);
    EXPECT_NE(e.find(" as " + full + ", which the script sets"), std::string::npos)
        << given << ": " << e;
  }
  // A prefix of several (sbatch itself calls it ambiguous) names them all.
  auto ambiguous = cpu_options();
  ambiguous.extra_sbatch = {"--no"};
  EXPECT_NE(validation_error(ambiguous).find(
                "--no abbreviates options the script sets (--nodes, --no-requeue)"),
            std::string::npos)
      << validation_error(ambiguous);
  auto o = cpu_options();
  o.extra_sbatch = {"--gpus=4 --exclusive --mem-per-cpu=4G"};
  EXPECT_EQ(validation_error(o), "");
}

TEST(SbatchOptions, ANewlineInAPathIsRefused) {
  auto o = cpu_options();
  o.results = "/scratch/a\n#SBATCH --wrap=x/r.h5";
  EXPECT_NE(validation_error(o).find("control character"), std::string::npos);
}

TEST(SbatchOptions, TheValidOptionListNamesEveryOption) {
  const auto list = trm::launcher::submit_option_list();
  for (const char* flag : {"--nodes", "--gpus-per-node", "--cpus-per-task", "--time", "--grace",
                           "--partition", "--account", "--qos", "--mem", "--constraint",
                           "--extra-sbatch", "--dry-run", "--max-requeues", "--mpi"}) {
    EXPECT_NE(list.find(flag), std::string::npos) << flag;
  }
}

namespace {

SubmitOptions array_options() {
  auto o = cpu_options();
  o.array = 2;
  return o;
}

// What bash makes of `line` (an assignment of the script) with SLURM_ARRAY_TASK_ID=task.
std::string bash_value(const std::string& line, const std::string& name, int task) {
  const std::string dir = std::filesystem::temp_directory_path() / "trm-sbatch-XXXXXX";
  std::string pattern = dir;
  if (::mkdtemp(pattern.data()) == nullptr) return "mkdtemp failed";
  const std::string script = pattern + "/s.sh";
  std::ofstream(script) << "cd " << pattern << "\nSLURM_ARRAY_TASK_ID=" << task << "\n"
                        << line << "\nprintf %s \"$" << name << "\"\n";
  std::string value;
  if (FILE* p = ::popen(("bash " + script).c_str(), "r")) {
    char buf[512];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) value.append(buf, n);
    ::pclose(p);
  }
  // A command substitution that ran would have left a file here.
  if (std::filesystem::exists(pattern + "/x")) value += " [INJECTED]";
  std::filesystem::remove_all(pattern);
  return value;
}

std::string line_starting(const std::string& script, const std::string& start) {
  const size_t at = script.find("\n" + start);
  if (at == std::string::npos) return "";
  return script.substr(at + 1, script.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST(SbatchGolden, ArrayOfTwoCpuTasksMatchesTheRecordedScript) {
  const auto o = trm::launcher::validated(array_options(), context());
  expect_golden("cpu_array_two_tasks.sbatch", trm::launcher::render_sbatch(o, context()));
}

TEST(SbatchScript, TheMpiJobIsNoArrayAndRunsNoShard) {
  const auto s =
      trm::launcher::render_sbatch(trm::launcher::validated(cpu_options(), context()), context());
  EXPECT_EQ(s.find("--array"), std::string::npos) << s;
  EXPECT_EQ(s.find("--shard"), std::string::npos) << s;
  // A plain job reads no SLURM_ARRAY_* (it may inherit them from the shell that submitted it).
  EXPECT_EQ(s.find("SLURM_ARRAY"), std::string::npos) << s;
}

TEST(SbatchScript, ArrayTaskRunsItsShardIntoItsOwnFileAndLog) {
  const auto o = trm::launcher::validated(array_options(), context());
  EXPECT_EQ(o.log, "/scratch/ada/tiny.h5.slurm-%A_%a.log");
  EXPECT_EQ(trm::launcher::log_path_of(o, "17", "1"), "/scratch/ada/tiny.h5.slurm-17_1.log");
  const auto s = trm::launcher::render_sbatch(o, context());
  EXPECT_NE(s.find("#SBATCH --array=0-1\n"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --output=/scratch/ada/tiny.h5.slurm-%A_%a.log\n"), std::string::npos);
  EXPECT_NE(s.find("--device cpu --shard \"${SLURM_ARRAY_TASK_ID}/2\" &"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --requeue\n"), std::string::npos);
  // The task requeues itself only: ARRAYID_TASK, where the bare array id would requeue them all.
  EXPECT_NE(s.find("scontrol requeue \"$job\""), std::string::npos) << s;
  EXPECT_NE(s.find("\njob=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\n"), std::string::npos) << s;
  EXPECT_EQ(bash_value(line_starting(s, "results="), "results", 1), "/scratch/ada/tiny.task1.h5");
}

TEST(SbatchScript, ArrayTaskFileKeepsSpacesQuotesAndCommandSubstitutionLiteral) {
  for (const std::string results :
       {"/scratch/a b/it's $(touch x).h5", "/scratch/`touch x`/r", "/scratch/{{SHARD}}/\"q\".h5"}) {
    auto o = array_options();
    o.results = results;
    const auto s = trm::launcher::render_sbatch(trm::launcher::validated(o, context()), context());
    EXPECT_EQ(bash_value(line_starting(s, "results="), "results", 3),
              trm::launcher::task_results_path(results, "3"))
        << line_starting(s, "results=");
  }
}

TEST(SbatchScript, TaskFilesGoBesideTheMergedFile) {
  using trm::launcher::task_results_path;
  EXPECT_EQ(task_results_path("/s/RESULTS.h5", "3"), "/s/RESULTS.task3.h5");
  EXPECT_EQ(task_results_path("/s/results", "0"), "/s/results.task0");
  EXPECT_EQ(task_results_path("/s/.h5", "1"), "/s/.h5.task1");
}

TEST(SbatchOptions, AnArrayIsOneNodePerTaskNoMoreTasksThanTrialsAndOneLogPerTask) {
  auto o = array_options();
  o.nodes = 2;
  o.array = 5;  // the sweep has 4 trials
  o.log = "/scratch/ada/one.log";
  const auto e = validation_error(o);
  for (const char* part : {"--array 5 with --nodes 2: each array task runs on one node",
                           "--array 5: the sweep has only 4 trials",
                           "--log '/scratch/ada/one.log' with --array: put %a"}) {
    EXPECT_NE(e.find(part), std::string::npos) << part << " not in: " << e;
  }
  auto negative = array_options();
  negative.array = -1;
  EXPECT_NE(validation_error(negative).find("--array -1: must be >= 0"), std::string::npos);
  auto directive = cpu_options();
  directive.extra_sbatch = {"--array=0-3"};
  EXPECT_NE(validation_error(directive).find("use trm-sweep submit --array"), std::string::npos);
}

// The spec's text in the script: bash reads back every byte (quotes, backslashes, $(...),
// UTF-8, a tab, control bytes, no final newline), and the script holds no carriage return,
// which sbatch refuses ("DOS line breaks") where a spec was saved with CRLF.
TEST(SbatchScript, TheSpecTextReadsBackExactlyWithoutACarriageReturnInTheScript) {
  const std::string text =
      "# it's \"q\" \\ $HOME `touch x` $(touch x) \xc3\xbc\t%j {{SPEC}}\r\n[sweep]\r\n"
      "name = 'a'\x01\x7f\r\nseeds = 1";
  const std::string word = trm::launcher::ansi_c_quote(text);
  EXPECT_EQ(word.find('\r'), std::string::npos) << word;
  EXPECT_EQ(bash_value("v=" + word, "v", 0), text);
}

TEST(SbatchScript, SrunsMpiPluginListIsParsedForNamesOnly) {
  const auto names = trm::launcher::srun_mpi_plugins(
      "MPI plugin types are...\n\tpmix\n\tnone\n\tcray_shasta\n\tpmi2\n"
      "specific pmix plugin versions available: pmix_v4,pmix_v5\n");
  EXPECT_EQ(names, (std::vector<std::string>{"pmix", "none", "cray_shasta", "pmi2", "pmix_v4",
                                             "pmix_v5"}));
  EXPECT_TRUE(trm::launcher::srun_mpi_plugins("srun: error: something else\n").empty());
}
