#include <gtest/gtest.h>

#include <filesystem>

#include "sweep/expand.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

namespace trm::sweep {
namespace {

std::string config_path(const std::string& name) {
  return std::string(TRM_SOURCE_DIR) + "/configs/" + name;
}

TEST(SweepConfigs, ThePaperTablesExpandToTheirRows) {
  EXPECT_EQ(expand(parse_spec_file(config_path("paper_table1.toml"))).trials.size(), 9u);
  EXPECT_EQ(expand(parse_spec_file(config_path("paper_table2.toml"))).trials.size(), 3u);
  EXPECT_EQ(expand(parse_spec_file(config_path("paper_table3.toml"))).trials.size(), 14u);
  const auto quick = expand(parse_spec_file(config_path("quick.toml")));
  EXPECT_GE(quick.trials.size(), 8u);
  for (const auto& t : quick.trials) EXPECT_EQ(t.config.data.box, 2) << t.name;
}

TEST(SweepConfigs, Table3OnA48GBGpuFlagsExactlyTheNEquals12TrmCells) {
  const auto spec = parse_spec_file(config_path("paper_table3.toml"));
  const auto e = expand(spec);
  PlanOptions o;
  o.device = core::MemoryDevice::cuda;
  o.memory_bytes = 48.0 * 1024 * 1024 * 1024;
  o.gflops = 50000;
  const auto plan = make_plan(spec, e, o);
  for (const auto& p : plan.trials) {
    const bool n12 = p.trial->variant.empty() && p.trial->config.model.l_cycles == 12;
    EXPECT_EQ(p.oom, n12) << p.trial->name << " predicted " << format_bytes(p.memory.total());
  }
}

}  // namespace
}  // namespace trm::sweep
