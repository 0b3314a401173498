#include "launcher/sbatch_script.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "core/errors.h"
#include "slurm_templates.h"  // generated from slurm/*.sbatch by launcher/CMakeLists.txt

namespace trm::launcher {

namespace {

bool all_of_set(std::string_view s, std::string_view allowed) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || allowed.find(c) != allowed.npos;
  });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Directives that the script sets itself, with the submit option to use instead (if any).
const std::vector<std::pair<std::string, std::string>>& reserved_directives() {
  static const std::vector<std::pair<std::string, std::string>> r = {
      {"job-name", "--job-name"},
      {"nodes", "--nodes"},
      {"ntasks", "--tasks-per-node"},
      {"ntasks-per-node", "--tasks-per-node"},
      {"cpus-per-task", "--cpus-per-task"},
      {"time", "--time"},
      {"output", "--log"},
      {"open-mode", "--log"},
      {"requeue", ""},
      {"no-requeue", ""},
      {"signal", "--grace"},
      {"array", "--array"},
      {"wrap", ""},
      {"gpus-per-node", "--gpus-per-node"},
      {"partition", "--partition"},
      {"account", "--account"},
      {"qos", "--qos"},
      {"mem", "--mem"},
      {"constraint", "--constraint"},
  };
  return r;
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string replace_all(std::string text, std::string_view key, std::string_view value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

}  // namespace

std::string shell_quote(std::string_view s) {
  if (all_of_set(s, "_@%+=:,./-")) return std::string(s);
  std::string q = "'";
  for (const char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::string ansi_c_quote(std::string_view s) {
  // Newlines and tabs stay as they are (the text stays readable in the script); a carriage
  // return becomes \r, as sbatch refuses a script with DOS line breaks; other control bytes
  // become octal escapes; bytes >= 0x80 (UTF-8) pass through.
  std::string q = "$'";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '\'') {
      q += '\\';
      q += c;
    } else if (c == '\r') {
      q += "\\r";
    } else if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", u);
      q += buf;
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::string sbatch_quote(std::string_view s) {
  if (has_control(s)) throw InternalError("sbatch_quote: control character in a checked value");
  if (all_of_set(s, "_@%+=:,./-")) return std::string(s);
  std::string q = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\' || c == '#') q += '\\';
    q += c;
  }
  return q + "\"";
}

int64_t parse_time_limit(std::string_view text) {
  // At most 6 digits a field: a longer one is a typo (and would overflow).
  static const std::regex form(R"(^(?:(\d{1,6})-)?(\d{1,6})(?::(\d{1,6}))?(?::(\d{1,6}))?$)");
  std::cmatch m;
  const std::string t(text);
  if (!std::regex_match(t.c_str(), m, form)) {
    throw ConfigError("--time " + t + ": expected [D-]HH:MM:SS, MM:SS or minutes, e.g. 04:00:00");
  }
  auto num = [&](int i) { return m[i].matched ? std::stoll(m[i].str()) : 0LL; };
  // Minutes and seconds below 60, the hours of D-HH below 24: "25:99:99" is a typo.
  const bool fields_ok = (!m[1].matched || num(2) < 24) && (!m[3].matched || num(3) < 60) &&
                         (!m[4].matched || num(4) < 60);
  if (!fields_ok) {
    throw ConfigError("--time " + t +
                      ": minutes and seconds run 0-59 (and the hours of D-HH 0-23), e.g. 25:30:00");
  }
  int64_t seconds = 0;
  if (m[1].matched) {  // D-HH[:MM[:SS]]
    seconds = num(1) * 86400 + num(2) * 3600 + num(3) * 60 + num(4);
  } else if (m[4].matched) {  // HH:MM:SS
    seconds = num(2) * 3600 + num(3) * 60 + num(4);
  } else if (m[3].matched) {  // MM:SS
    seconds = num(2) * 60 + num(3);
  } else {  // minutes
    seconds = num(2) * 60;
  }
  if (seconds <= 0) throw ConfigError("--time " + t + ": the time limit must be positive");
  return seconds;
}

SubmitOptions validated(SubmitOptions o, const SbatchContext& c) {
  std::vector<std::string> problems;
  auto bad = [&](const std::string& p) { problems.push_back(p); };
  auto at_least = [&](const char* flag, int64_t value, int64_t least) {
    if (value < least)
      bad(std::string(flag) + " " + std::to_string(value) +
          ": must be >= " + std::to_string(least));
  };
  at_least("--nodes", o.nodes, 1);
  at_least("--gpus-per-node", o.gpus_per_node, 0);
  at_least("--tasks-per-node", o.tasks_per_node, 0);
  at_least("--cpus-per-task", o.cpus_per_task, 1);
  at_least("--max-requeues", o.max_requeues, 0);
  at_least("--array", o.array, 0);
  if (o.array > 0) {
    if (o.nodes != 1) {
      bad("--array " + std::to_string(o.array) + " with --nodes " + std::to_string(o.nodes) +
          ": each array task runs on one node; drop --nodes, or drop --array for one MPI job");
    }
    if (c.trials > 0 && o.array > c.trials) {
      bad("--array " + std::to_string(o.array) + ": the sweep has only " +
          std::to_string(c.trials) + " trials, so at most " + std::to_string(c.trials) + " tasks");
    }
    if (!o.log.empty() && o.log.find("%a") == std::string::npos) {
      bad("--log '" + o.log + "' with --array: put %a (the task) in it, one log per task");
    }
  }
  if (o.grace < 1 || o.grace > 65535) bad("--grace " + std::to_string(o.grace) + ": 1..65535 s");
  try {
    const int64_t limit = parse_time_limit(o.time);
    if (o.grace >= limit) {
      bad("--grace " + std::to_string(o.grace) + " s is not shorter than --time " + o.time + " (" +
          std::to_string(limit) + " s): the warning would come before the sweep starts");
    }
  } catch (const ConfigError& e) {
    bad(e.what());
  }
  // Values that go into #SBATCH lines as they are: plain words of the characters SLURM uses.
  auto word = [&](const char* flag, const std::string& value, std::string_view extra) {
    if (!value.empty() && !all_of_set(value, extra)) {
      bad(std::string(flag) + " '" + value + "': use letters, digits and " + std::string(extra));
    }
  };
  if (o.mpi.empty()) bad("--mpi '': name srun's MPI plugin, e.g. pmix or pmi2");
  word("--mpi", o.mpi, "_-");
  word("--partition", o.partition, "_.,-");
  word("--account", o.account, "_.-");
  word("--qos", o.qos, "_.-");
  word("--constraint", o.constraint, "_.,:&|*[]()!-");
  word("--job-name", o.job_name, "_.+-");
  if (!o.mem.empty() && !std::regex_match(o.mem, std::regex(R"(^\d+[KMGT]?$)"))) {
    bad("--mem '" + o.mem + "': a number with an optional unit K, M, G or T, e.g. 64G");
  }
  for (const auto& [flag, value] :
       {std::pair{"spec", o.spec}, {"-o", o.results}, {"--log", o.log}}) {
    if (has_control(value))
      bad(std::string(flag) + ": the path has a control character (newline?)");
  }
  if (o.log.empty() && o.results.find('\\') != std::string::npos) {
    bad("-o '" + o.results + "': no backslash (the job's log beside it would lose it: sbatch " +
        "strips backslashes from --output); give --log in another folder, or choose another -o");
  }
  if (o.log.find('\\') != std::string::npos) {
    bad("--log '" + o.log + "': no backslash (sbatch would stop expanding %j)");
  }
  std::vector<std::string> extra;
  for (const auto& group : o.extra_sbatch) {
    for (const auto& d : split_words(group)) {
      static const std::regex form(R"(^--([a-z][a-z0-9-]*)(=[A-Za-z0-9_@%+=:,./|&*()\[\]!-]+)?$)");
      std::smatch m;
      if (!std::regex_match(d, m, form)) {
        bad("--extra-sbatch '" + d + "': one long option per word, --name or --name=value, " +
            "the value of letters, digits and _@%+=:,./|&*()[]!-");
        continue;
      }
      // sbatch takes a unique prefix of a long option as the option (--no-req, --sig=...), and
      // refuses an ambiguous one; --gpus is an option of its own, not short for --gpus-per-node.
      const std::string given = m[1];
      std::vector<std::string> prefix_of;
      for (const auto& [name, instead] : reserved_directives()) {
        if (given == name) {
          bad("--extra-sbatch " + d + ": the script sets --" + name +
              (instead.empty() ? " itself" : "; use trm-sweep submit " + instead));
          prefix_of.clear();
          break;
        }
        if (name.starts_with(given) && given != "gpus") prefix_of.push_back("--" + name);
      }
      if (prefix_of.size() == 1) {
        bad("--extra-sbatch " + d + ": sbatch reads --" + given + " as " + prefix_of.front() +
            ", which the script sets");
      } else if (prefix_of.size() > 1) {
        std::string names;
        for (const auto& n : prefix_of) names += (names.empty() ? "" : ", ") + n;
        bad("--extra-sbatch " + d + ": --" + given + " abbreviates options the script sets (" +
            names + "); write the option in full");
      }
      extra.push_back(d);
    }
  }
  o.extra_sbatch = extra;
  if (problems.size() == 1) throw ConfigError("submit: " + problems.front());
  if (!problems.empty()) {
    std::string message = "submit: " + std::to_string(problems.size()) + " problems:";
    for (const auto& p : problems) message += "\n  " + p;
    throw ConfigError(message);
  }
  if (o.tasks_per_node == 0) o.tasks_per_node = o.gpus_per_node > 0 ? o.gpus_per_node : 1;
  if (o.job_name.empty()) {
    std::string name = "trm-" + c.sweep_name;
    for (char& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-')
        ch = '_';
    }
    o.job_name = name.substr(0, 64);
  }
  if (o.log.empty()) {
    o.log =
        replace_all(o.results, "%", "%%") + (o.array > 0 ? ".slurm-%A_%a.log" : ".slurm-%j.log");
  }
  return o;
}

std::string render_sbatch(const SubmitOptions& o, const SbatchContext& c) {
  std::string directives;
  auto directive = [&](const char* name, const std::string& value) {
    if (!value.empty())
      directives += std::string("#SBATCH --") + name + "=" + sbatch_quote(value) + "\n";
  };
  if (o.gpus_per_node > 0) directive("gpus-per-node", std::to_string(o.gpus_per_node));
  directive("partition", o.partition);
  directive("account", o.account);
  directive("qos", o.qos);
  directive("mem", o.mem);
  directive("constraint", o.constraint);
  for (const auto& d : o.extra_sbatch) directives += "#SBATCH " + d + "\n";
  if (o.array > 0)
    directives = "#SBATCH --array=0-" + std::to_string(o.array - 1) + "\n" + directives;

  // The header is a comment: no control characters (checked) and nothing to quote.
  std::string name = c.sweep_name;
  std::replace_if(
      name.begin(), name.end(), [](char ch) { return has_control(std::string_view(&ch, 1)); }, '?');
  std::string header =
      "trm-sweep: sweep " + name + " (" + std::to_string(c.trials) + " trials) -> " + o.results;
  // An array task K writes RESULTS.taskK.h5 (split around K, each part quoted on its own).
  std::string results = shell_quote(o.results);
  std::string shard;
  if (o.array > 0) {
    const std::string marker = "\x01";  // no control character reaches a checked path
    const std::string path = task_results_path(o.results, marker);
    const size_t k = path.find(marker);
    results = shell_quote(path.substr(0, k)) + "\"${SLURM_ARRAY_TASK_ID}\"" +
              (k + 1 < path.size() ? shell_quote(path.substr(k + 1)) : "");
    shard = " --shard \"${SLURM_ARRAY_TASK_ID}/" + std::to_string(o.array) + "\"";
    header = "trm-sweep: sweep " + name + " (" + std::to_string(c.trials) + " trials) as " +
             std::to_string(o.array) + " array tasks -> " + task_results_path(o.results, "K") +
             " (task K: trials K, K+" + std::to_string(o.array) + ", ...); then trm-sweep merge " +
             o.results;
  }

  // One pass over the template: a value is never scanned again, so a path that contains
  // "{{SPEC}}" stays a path.
  const std::map<std::string, std::string, std::less<>> values = {
      {"HEADER", header},
      {"DIRECTIVES", directives},
      {"JOB_NAME", sbatch_quote(o.job_name)},
      {"NODES", std::to_string(o.nodes)},
      {"TASKS_PER_NODE", std::to_string(o.tasks_per_node)},
      {"TASKS", std::to_string(o.nodes * o.tasks_per_node)},
      {"CPUS_PER_TASK", std::to_string(o.cpus_per_task)},
      {"TIME", sbatch_quote(o.time)},
      {"LOG", sbatch_quote(o.log)},
      {"GRACE", std::to_string(o.grace)},
      {"MAX_REQUEUES", std::to_string(o.max_requeues)},
      {"TRM", shell_quote(c.trm)},
      {"SPEC", o.spec},  // in a comment: checked free of control characters
      {"SPEC_NAME", shell_quote(std::filesystem::path(o.spec).filename().string())},
      {"SPEC_TEXT", ansi_c_quote(c.spec_text)},
      // An array task's own id is ARRAYID_TASK (the bare array id names every task); only an
      // array reads it: a plain job may inherit SLURM_ARRAY_* from the shell that submitted it.
      {"JOB_ID",
       o.array > 0
           ? "# This task's own SLURM id, ARRAYID_TASK: the bare array id names every task.\n"
             "job=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
           : "job=${SLURM_JOB_ID:-?}"},
      {"RESULTS", results},
      {"SHARD", shard},
      {"DEVICE", o.gpus_per_node > 0 ? "cuda" : "cpu"},
      {"MPI", o.mpi},
  };
  const std::string_view t = kSweepSbatchTemplate;
  std::string s;
  size_t at = 0;
  for (size_t open = t.find("{{"); open != t.npos; open = t.find("{{", at)) {
    const size_t close = t.find("}}", open);
    const auto it =
        close == t.npos ? values.end() : values.find(t.substr(open + 2, close - open - 2));
    if (it == values.end()) {
      throw InternalError("slurm/sweep.sbatch: unknown placeholder at " +
                          std::string(t.substr(open, 24)));
    }
    s.append(t.substr(at, open - at)).append(it->second);
    at = close + 2;
    // An empty DIRECTIVES leaves no blank line (the value ends with its own newline).
    if (it->first == "DIRECTIVES" && at < t.size() && t[at] == '\n') ++at;
  }
  return s.append(t.substr(at));
}

std::string log_path_of(const SubmitOptions& o, const std::string& job_id, std::string_view task) {
  std::string path;
  for (size_t i = 0; i < o.log.size(); ++i) {
    if (o.log[i] == '%' && i + 1 < o.log.size()) {
      const char p = o.log[++i];
      if (p == 'j' || p == 'A')
        path += job_id;
      else if (p == 'a')
        path += task;
      else if (p == 'x')
        path += o.job_name;
      else if (p == '%')
        path += '%';
      else
        path += std::string("%") + p;
    } else {
      path += o.log[i];
    }
  }
  return path;
}

std::string task_results_path(const std::string& results, std::string_view task) {
  const std::string task_part = ".task" + std::string(task);
  if (results.ends_with(".h5") && results.size() > 3 && results[results.size() - 4] != '/') {
    return results.substr(0, results.size() - 3) + task_part + ".h5";
  }
  return results + task_part;
}

}  // namespace trm::launcher
