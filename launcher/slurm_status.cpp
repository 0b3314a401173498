#include "launcher/slurm_status.h"

#include <regex>

#include "launcher/slurm_command.h"

namespace trm::launcher {

namespace {

// The value of `Key=` in scontrol's one-line output ("" when absent).
std::string field(const std::string& line, const std::string& key) {
  const std::regex re("(^|\\s)" + key + "=(\\S*)");
  std::smatch m;
  return std::regex_search(line, m, re) ? m[2].str() : "";
}

std::string json_string(const std::string& s) {
  std::string q = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      q += ' ';
    } else {
      q += c;
    }
  }
  return q + "\"";
}

}  // namespace

std::string recorded_slurm_job(const storage::ResultsReader& reader) {
  std::string job;
  for (const auto& e : reader.events()) {
    if (e.kind == "slurm" && e.message.starts_with("job=")) job = e.message.substr(4);
  }
  return job;
}

SlurmJobState query_slurm_job(const std::string& job_id, int timeout_s) {
  SlurmJobState s;
  s.job_id = job_id;
  const auto r = run_command({"scontrol", "show", "job", "-o", job_id}, timeout_s);
  const std::string line = r.output.substr(0, r.output.find('\n'));
  s.state = field(line, "JobState");
  if (r.exit_code != 0 || s.state.empty()) {
    s.state = "unknown";
    s.reason = r.exit_code == 127   ? "scontrol not found"
               : r.exit_code == 124 ? "scontrol gave no answer within " +
                                          std::to_string(timeout_s) + " s; is slurmctld up?"
                                    : line;
    return s;
  }
  s.reason = field(line, "Reason");
  s.restarts = field(line, "Restarts");
  s.run_time = field(line, "RunTime");
  s.time_limit = field(line, "TimeLimit");
  return s;
}

std::string slurm_status_text(const storage::ResultsReader& reader) {
  const std::string job = recorded_slurm_job(reader);
  if (job.empty()) return "";
  const auto s = query_slurm_job(job);
  std::string text = "slurm job " + job + ": " + s.state;
  if (s.state == "unknown") return text + " (" + s.reason + ")\n";
  if (!s.reason.empty() && s.reason != "None") text += " (" + s.reason + ")";
  if (!s.restarts.empty()) text += ", restarts " + s.restarts;
  if (!s.run_time.empty()) text += ", run time " + s.run_time + " of " + s.time_limit;
  return text + "\n";
}

std::string slurm_status_json(const storage::ResultsReader& reader) {
  const std::string job = recorded_slurm_job(reader);
  if (job.empty()) return "null";
  const auto s = query_slurm_job(job);
  return "{\"job_id\": " + json_string(s.job_id) + ", \"state\": " + json_string(s.state) +
         ", \"reason\": " + json_string(s.reason) + ", \"restarts\": " + json_string(s.restarts) +
         ", \"run_time\": " + json_string(s.run_time) +
         ", \"time_limit\": " + json_string(s.time_limit) + "}";
}

}  // namespace trm::launcher
