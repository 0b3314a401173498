// export: every format against golden files, byte-identical output, mean ± std over seeds with
// missing seeds flagged, OOM / fail / missing grid cells, best in bold, and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/errors.h"
#include "sample_sweeps.h"
#include "storage/export.h"
#include "storage/storage_error.h"

namespace trm::storage {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/trm-export-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A sample results file, written once per test.
struct Sample {
  TempDir dir;
  std::string path;
  explicit Sample(const std::string& which) : path(dir.file(which + ".h5")) {
    exporttest::write_sample(path, which);
  }
  std::string all(ExportFormat format) const {
    const ResultsReader reader(path);
    return export_tables(reader, spec_tables(reader), format);
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares with tests/export/golden/NAME; TRM_UPDATE_GOLDEN=1 rewrites the golden file instead.
void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(TRM_GOLDEN_DIR) + "/" + name;
  const char* update = std::getenv("TRM_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::filesystem::create_directories(TRM_GOLDEN_DIR);
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " is missing. Regenerate the golden files with\n"
      << "  TRM_UPDATE_GOLDEN=1 ctest --test-dir build -R export\nand review `git diff`.";
  EXPECT_EQ(read_text(path), actual)
      << "the export differs from the golden file " << path
      << ". If the change is intended, regenerate the golden files with\n"
      << "  TRM_UPDATE_GOLDEN=1 ctest --test-dir build -R export\nand review `git diff`.";
}

const std::vector<std::pair<ExportFormat, std::string>> kFormats = {{ExportFormat::md, "md"},
                                                                    {ExportFormat::csv, "csv"},
                                                                    {ExportFormat::latex, "tex"},
                                                                    {ExportFormat::json, "json"},
                                                                    {ExportFormat::html, "html"}};

TEST(ExportGolden, EveryFormatOfTheAblationSampleMatchesItsGoldenFile) {
  const Sample s("ablation");
  for (const auto& [format, ext] : kFormats) expect_golden("ablation." + ext, s.all(format));
}

TEST(ExportGolden, EveryFormatOfTheGridSampleMatchesItsGoldenFile) {
  const Sample s("grid");
  for (const auto& [format, ext] : kFormats) expect_golden("grid." + ext, s.all(format));
}

TEST(ExportGolden, TheEmptySampleMatchesItsGoldenFile) {
  const Sample s("empty");
  expect_golden("empty.md", s.all(ExportFormat::md));
  expect_golden("empty.json", s.all(ExportFormat::json));
}

TEST(Export, TheSameSweepGivesByteIdenticalOutputFromAnyFileAndRead) {
  const Sample a("grid"), b("grid");  // two files, two paths, same content
  for (const auto& [format, ext] : kFormats) {
    const std::string first = a.all(format);
    EXPECT_EQ(first, a.all(format)) << ext;
    EXPECT_EQ(first, b.all(format)) << ext;
  }
}

TEST(Export, CellsAreMeanAndStdOverSeedsWithNAndMissingSeedsFlagged) {
  const Sample s("ablation");
  const std::string md = s.all(ExportFormat::md);
  // base: 0.80, 0.82, 0.84 -> 82.0 ± 2.0 over 3 seeds.
  EXPECT_NE(md.find("| base | 82.0 ± 2.0 (n=3/3) |"), std::string::npos) << md;
  // w/ ACT: seeds 0 and 1 (0.70, 0.74), seed 2 failed.
  EXPECT_NE(md.find("| w/ ACT | 72.0 ± 2.8 (n=2/3, missing: seed 2) |"), std::string::npos) << md;
  // w/ T = 4: one seed done, two pending: no std; the best value, in bold.
  EXPECT_NE(md.find("| w/ T = 4 | **90.0 (n=1/3, missing: seeds 1, 2)** |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| no EMA | OOM |"), std::string::npos) << md;
  EXPECT_NE(md.find("| w/ 1 layer | — |"), std::string::npos) << md;
  const std::string json = s.all(ExportFormat::json);
  EXPECT_NE(json.find("{\"mean\": 0.72, \"std\": 0.0282842712474619"), std::string::npos) << json;
  EXPECT_NE(json.find("\"n\": 2, \"expected\": 3, \"missing_seeds\": [2], \"status\": \"done\""),
            std::string::npos);
}

// A name with a line break, a bar and angle brackets stays in its cell: one table row in
// Markdown, and LaTeX's own commands (its text fonts print < > | as other glyphs).
TEST(Export, NamesWithLineBreaksBarsAndAngleBracketsStayInTheirCell) {
  const TempDir dir;
  const std::string path = dir.file("names.h5");
  exporttest::write_sample(path, "empty",
                           "[base]\nmodel.hidden_size = 64\n\n[[variant]]\nname = \"a<b>|c\\nd\"\n"
                           "model.l_cycles = 3\n");
  {
    auto w = ResultsWriter::open(path);
    for (auto row : w.trials()) {
      row.status = TrialStatus::done;
      row.step = row.total_steps;
      row.final_exact_accuracy = 0.5;
      w.update_trial(row);
    }
  }
  const ResultsReader reader(path);
  TableRequest raw;
  raw.kind = "raw";
  raw.name = "raw";
  const std::string md = export_tables(reader, {raw}, ExportFormat::md);
  EXPECT_NE(md.find("| a<b>\\|c d |"), std::string::npos) << md;
  const std::string tex = export_tables(reader, {raw}, ExportFormat::latex);
  EXPECT_NE(tex.find("a\\textless{}b\\textgreater{}\\textbar{}c d"), std::string::npos) << tex;
}

TEST(Export, AblationRowsShowDepthForwardPassesAndParameters) {
  const Sample s("ablation");
  const std::string md = s.all(ExportFormat::md);
  // T = 2, n = 2, 2 layers: depth 2·3·2 = 12, one forward pass; ACT needs a second one.
  EXPECT_NE(md.find("| 12 | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| w/ ACT | 72.0 ± 2.8 (n=2/3, missing: seed 2) | 12 | 2 |"),
            std::string::npos);
  EXPECT_NE(md.find("| w/ T = 4 | **90.0 (n=1/3, missing: seeds 1, 2)** | 24 | 1 |"),
            std::string::npos);
}

TEST(Export, GridCellsSayOomFailAndMissingAndBestIsBold) {
  const Sample s("grid");
  const ResultsReader reader(s.path);
  const std::string md =
      export_tables(reader, find_spec_tables(reader, {"recursion"}), ExportFormat::md);
  EXPECT_NE(md.find("| h_cycles \\ l_cycles | 1 | 2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | 50.0 | 55.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | **60.0** | OOM |"), std::string::npos) << md;  // measured OOM
  EXPECT_NE(md.find("| 3 | fail | OOM |"), std::string::npos) << md;      // oom_predicted too
  // The attention variants form their own grid; T=2 n=2 is pending, T=1 n=2 does not exist.
  EXPECT_NE(md.find("| 1 | **80.0** | — |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | — | — |"), std::string::npos) << md;
  EXPECT_NE(md.find("mixer=attention, pos_encodings=rope"), std::string::npos) << md;
  const std::string tex =
      export_tables(reader, find_spec_tables(reader, {"recursion"}), ExportFormat::latex);
  EXPECT_NE(tex.find("\\toprule"), std::string::npos);
  EXPECT_NE(tex.find("\\textbf{80.0}"), std::string::npos) << tex;
}

TEST(Export, AGridAxisTheSweepDoesNotVaryIsRejectedListingTheValidAxes) {
  const Sample s("grid");
  const ResultsReader reader(s.path);
  TableRequest r{"bad", "grid", "model.h_cycles", "model.layers", "exact_accuracy"};
  try {
    export_tables(reader, {r}, ExportFormat::md);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "table 'bad': cols = 'model.layers' is not an axis of this sweep; valid axes: "
                 "model.h_cycles, model.l_cycles, model.mixer, model.pos_encodings");
  }
}

TEST(Export, AnUnknownMetricIsRejectedListingTheValidOnes) {
  const Sample s("ablation");
  const ResultsReader reader(s.path);
  TableRequest r{"t", "ablation", "", "", "accuracy_exact"};
  try {
    export_tables(reader, {r}, ExportFormat::md);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "table 't': metric 'accuracy_exact' does not exist; valid metrics: "
                 "exact_accuracy, best_exact_accuracy, accuracy, q_halt_accuracy, steps, "
                 "lm_loss, wall_s, peak_memory");
  }
}

TEST(Export, AnUnknownTableOrFormatIsRejectedListingTheValidOnes) {
  const Sample s("grid");
  const ResultsReader reader(s.path);
  EXPECT_THROW(
      {
        try {
          find_spec_tables(reader, {"table9"});
        } catch (const ConfigError& e) {
          EXPECT_NE(std::string(e.what()).find("valid: recursion, ablation, all"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      ConfigError);
  EXPECT_THROW(parse_export_format("xlsx"), ConfigError);
  EXPECT_EQ(parse_export_format("latex"), ExportFormat::latex);
}

TEST(Export, ASweepWithNoFinishedTrialGivesEmptyTablesThatSaySo) {
  const Sample s("empty");
  const std::string md = s.all(ExportFormat::md);
  EXPECT_NE(md.find("No finished trial yet: 0 of 8 trials done"), std::string::npos) << md;
  EXPECT_EQ(md.find("| 1 |"), std::string::npos) << md;  // no rows
  const std::string csv = s.all(ExportFormat::csv);
  EXPECT_NE(csv.find("# table: all\n# No finished trial yet: 0 of 8 trials done (see `trm-sweep "
                     "status`).\nindex,name,status,train.seed"),
            std::string::npos)
      << csv;
}

// OOM cells are results (the paper's tables have them): a grid where nothing else happened is
// still a table, not "no finished trial".
TEST(Export, ASweepWhoseTrialsAllEndedWithoutAResultStillHasItsTables) {
  const Sample s("ended");
  const std::string md = s.all(ExportFormat::md);
  EXPECT_EQ(md.find("No finished trial yet"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | OOM | OOM |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | fail | OOM |"), std::string::npos) << md;
  const std::string html = s.all(ExportFormat::html);
  EXPECT_NE(html.find("<rect class=\"cell oom\""), std::string::npos);
  EXPECT_NE(s.all(ExportFormat::latex).find("OOM"), std::string::npos);
  EXPECT_NE(s.all(ExportFormat::csv).find("oom"), std::string::npos);
  EXPECT_NE(s.all(ExportFormat::json).find("\"oom\""), std::string::npos);
}

// A [[variant]] that is not on a grid's two axes is named under the grid, not dropped silently.
TEST(Export, GridCellsOffTheGridAreNamedUnderIt) {
  TempDir dir;
  std::string spec = exporttest::sample_spec("grid");
  spec += "\n[[variant]]\nname = \"no EMA\"\ntrain.ema = false\n";
  exporttest::write_sample(dir.file("r.h5"), "grid", spec);
  const ResultsReader reader(dir.file("r.h5"));
  const std::string md =
      export_tables(reader, find_spec_tables(reader, {"recursion"}), ExportFormat::md);
  EXPECT_NE(md.find("Not on this grid, as they change more than h_cycles and l_cycles (see the "
                    "ablation and raw tables): 'no EMA'."),
            std::string::npos)
      << md;
  // The grid sample itself has no such cell, and says nothing.
  const Sample plain("grid");
  EXPECT_EQ(plain.all(ExportFormat::md).find("Not on this grid"), std::string::npos);
}

TEST(Export, AMissingFileIsAStorageErrorNamingIt) {
  try {
    const ResultsReader reader("/nonexistent/sweep.h5");
    FAIL() << "expected a StorageError";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/sweep.h5"), std::string::npos);
  }
}

TEST(Export, WhatRunPrintsIsTheSpecsAblationTableInMarkdown) {
  const Sample s("grid");  // its first table is the grid; run prints the ablation table
  const std::string md = format_spec_tables(ResultsReader(s.path));
  EXPECT_EQ(md.find("### recursion"), std::string::npos) << md;
  EXPECT_NE(md.find("### ablation: exact_accuracy (%) per variant against [base]"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| attention T=1 n=1 | **80.0** |"), std::string::npos) << md;
}

// The [[table]]s of configs/ name axes their sweeps vary (checked before any trial finished).
TEST(Export, ThePaperAndQuickConfigsTablesResolve) {
  for (const char* name : {"paper_table1", "paper_table2", "paper_table3", "quick"}) {
    TempDir dir;
    const std::string spec = read_text(std::string(TRM_SOURCE_DIR) + "/configs/" + name + ".toml");
    exporttest::write_sample(dir.file("r.h5"), "empty", spec);
    const ResultsReader reader(dir.file("r.h5"));
    const std::string md = export_tables(reader, spec_tables(reader), ExportFormat::md);
    EXPECT_NE(md.find("No finished trial yet"), std::string::npos) << name << "\n" << md;
  }
}

TEST(Export, TheHtmlReportIsSelfContained) {
  const Sample s("grid");
  const std::string html = s.all(ExportFormat::html);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"heatmap\""), std::string::npos);
  EXPECT_NE(html.find("<rect class=\"cell oom\""), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"curve\" data-trial=\"0\""), std::string::npos);
}

}  // namespace
}  // namespace trm::storage
