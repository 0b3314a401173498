// export: every format against golden files, byte-identical output, mean ± std over seeds with
// missing seeds flagged, OOM / fail / missing grid cells, best in bold, and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
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

// The raw table, in `format`, of a sample sweep with one variant named `toml_name` (a TOML
// string's inside), every trial done with an exact accuracy of 0.5.
std::string raw_table_named(const std::string& toml_name, ExportFormat format) {
  const TempDir dir;
  const std::string path = dir.file("names.h5");
  exporttest::write_sample(path, "empty",
                           "[base]\nmodel.hidden_size = 64\n\n[[variant]]\nname = \"" + toml_name +
                               "\"\nmodel.l_cycles = 3\n");
  {
    auto w = ResultsWriter::open(path);
    for (auto row : w.trials()) {
      row.status = TrialStatus::done;
      row.step = row.total_steps;
      row.final_exact_accuracy = 0.5;
      w.update_trial(row);
    }
  }
  TableRequest raw;
  raw.kind = "raw";
  raw.name = "raw";
  return export_tables(ResultsReader(path), {raw}, format);
}

// A name with a line break, a bar and angle brackets stays in its cell: one table row in
// Markdown, and LaTeX's own commands (its text fonts print < > | as other glyphs).
TEST(Export, NamesWithLineBreaksBarsAndAngleBracketsStayInTheirCell) {
  const std::string md = raw_table_named("a<b>|c\\nd", ExportFormat::md);
  // Escaped for Markdown: no raw HTML, and the bar stays inside the cell.
  EXPECT_NE(md.find("| a\\<b\\>\\|c d |"), std::string::npos) << md;
  const std::string tex = raw_table_named("a<b>|c\\nd", ExportFormat::latex);
  EXPECT_NE(tex.find("a\\textless{}b\\textgreater{}\\textbar{}c d"), std::string::npos) << tex;
}

// Markdown markup in a name (emphasis, code, strike-through, an entity) is shown as typed, not
// rendered: escaped; an underscore inside a word (model.l_cycles) is left as it reads.
TEST(Export, MarkdownMarkupInNamesIsEscapedAndInnerUnderscoresAreNot) {
  const std::string md =
      raw_table_named("*x* _y_ `c` ~~s~~ &amp; a & b l_cycles", ExportFormat::md);
  EXPECT_NE(md.find("| \\*x\\* \\_y\\_ \\`c\\` \\~\\~s\\~\\~ \\&amp; a & b l_cycles |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| model.l_cycles |"), std::string::npos) << md;
}

// pdfLaTeX stops at a Greek letter or a math symbol in text ("Unicode character α not set up
// for use with LaTeX"): they become math commands; accented Latin letters stay as they are.
TEST(Export, GreekLettersAndMathSymbolsInNamesBecomeLatexCommands) {
  const std::string tex = raw_table_named("β≤0.9, Δt→∞ (café)", ExportFormat::latex);
  EXPECT_NE(tex.find("$\\beta$$\\leq$0.9, $\\Delta$t$\\rightarrow$$\\infty$ (café)"),
            std::string::npos)
      << tex;
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

// Names that other formats read as markup: a leading [ or * after LaTeX's row end \\ (its
// optional space, its starred form), a # that pandas' comment="#" cuts a CSV field at. And a
// finished trial without a value of the metric is "n/a" (status no_value), neither "not run"
// nor a missing seed.
TEST(Export, MarkupInNamesIsEscapedAndAFinishedTrialWithoutAValueIsNa) {
  const TempDir dir;
  const std::string path = dir.file("markup.h5");
  exporttest::write_sample(path, "empty",
                           "[base]\nmodel.hidden_size = 64\n\n[[variant]]\nname = \"[A] no EMA\"\n"
                           "model.l_cycles = 3\n\n[[variant]]\nname = \"*run #2\"\n"
                           "model.l_cycles = 4\n");
  {
    auto w = ResultsWriter::open(path);
    for (auto row : w.trials()) {
      row.status = TrialStatus::done;
      row.step = row.total_steps;
      // The *run #2 trial finished with a NaN accuracy (a diverged run).
      row.final_exact_accuracy = row.name == "*run #2" ? std::nan("") : 0.5;
      w.update_trial(row);
    }
  }
  const ResultsReader reader(path);
  TableRequest ablation;
  ablation.kind = "ablation";
  ablation.name = "ablation";
  const std::string tex = export_tables(reader, {ablation}, ExportFormat::latex);
  EXPECT_NE(tex.find("    {[}A{]} no EMA & "), std::string::npos) << tex;
  EXPECT_NE(tex.find("    {}*run \\#2 & n/a & "), std::string::npos) << tex;
  const std::string md = export_tables(reader, {ablation}, ExportFormat::md);
  EXPECT_NE(md.find("| \\*run #2 | n/a |"), std::string::npos) << md;
  EXPECT_NE(md.find("n/a: finished without a value of this metric"), std::string::npos) << md;
  const std::string json = export_tables(reader, {ablation}, ExportFormat::json);
  EXPECT_NE(json.find("\"missing_seeds\": [], \"status\": \"no_value\""), std::string::npos)
      << json;
  TableRequest raw;
  raw.kind = "raw";
  raw.name = "raw";
  const std::string csv = export_tables(reader, {raw}, ExportFormat::csv);
  EXPECT_NE(csv.find(",\"*run #2\","), std::string::npos) << csv;
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
  // The attention variants form their own grid; T=2 n=2 is pending ("—"), T=1 n=2 and T=2 n=1
  // are not trials of the sweep (blank).
  EXPECT_NE(md.find("| 1 | **80.0** |  |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 |  | — |"), std::string::npos) << md;
  EXPECT_NE(md.find("mixer=attention, pos_encodings=rope"), std::string::npos) << md;
  const std::string tex =
      export_tables(reader, find_spec_tables(reader, {"recursion"}), ExportFormat::latex);
  EXPECT_NE(tex.find("\\toprule"), std::string::npos);
  EXPECT_NE(tex.find("\\textbf{80.0}"), std::string::npos) << tex;
}

// ARC's pass@K of the last evaluation are table metrics, in percent, best in bold.
TEST(Export, ArcPassAtKOfTheLastEvaluationAreTableMetrics) {
  const Sample s("grid");
  const ResultsReader reader(s.path);
  TableRequest r{"arc", "grid", "model.h_cycles", "model.l_cycles", "pass_at_2"};
  const std::string md = export_tables(reader, {r}, ExportFormat::md);
  EXPECT_NE(md.find("ARC pass@2 (%)"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | 50.0 | 55.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | **60.0** | OOM |"), std::string::npos) << md;
  r.metric = "pass_at_1";
  const std::string md1 = export_tables(reader, {r}, ExportFormat::md);
  EXPECT_NE(md1.find("| 1 | 25.0 | 27.5 |"), std::string::npos) << md1;
  // The raw table has their final values where any trial has them, and no such columns elsewhere.
  const TableRequest raw{"all", "raw", "", "", "exact_accuracy"};
  const std::string csv = export_tables(reader, {raw}, ExportFormat::csv);
  EXPECT_NE(csv.find("final_q_halt_accuracy,final_lm_loss,final_pass_at_1,final_pass_at_2\n"),
            std::string::npos)
      << csv;
  const Sample plain("ablation");
  const ResultsReader plain_reader(plain.path);
  const std::string plain_csv = export_tables(plain_reader, {raw}, ExportFormat::csv);
  EXPECT_EQ(plain_csv.find("pass_at"), std::string::npos) << plain_csv;
}

// A (row, col) of a grid that is no trial of the sweep is blank, not "—" (not run yet) with seeds
// to wait for: nothing will ever fill it. Scripts read status "absent", with no seed expected.
TEST(Export, AGridCellTheSweepDoesNotContainIsBlankNotMissing) {
  const Sample s("grid");
  const ResultsReader reader(s.path);
  const auto recursion = find_spec_tables(reader, {"recursion"});
  const std::string md = export_tables(reader, recursion, ExportFormat::md);
  const std::string note =
      "OOM: out of memory (measured or predicted); fail: the trial failed; —: not run (yet); "
      "blank: not in the sweep.";
  EXPECT_NE(md.find("| 2 |  | — |\n\n" + note), std::string::npos) << md;
  // The full T x n grid has no blank cell, and its note does not mention one.
  EXPECT_NE(md.find("| 3 | fail | OOM |\n\nOOM: out of memory (measured or predicted); fail: the "
                    "trial failed; —: not run (yet).\n"),
            std::string::npos)
      << md;
  const std::string csv = export_tables(reader, recursion, ExportFormat::csv);
  EXPECT_NE(csv.find("1,2,\"mixer=attention, pos_encodings=rope\",,,0,0,,absent\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("2,2,\"mixer=attention, pos_encodings=rope\",,,0,1,0,missing\n"),
            std::string::npos)
      << csv;
  const std::string json = export_tables(reader, recursion, ExportFormat::json);
  EXPECT_NE(json.find("[\"2\", {\"mean\": null, \"std\": null, \"n\": 0, \"expected\": 0, "
                      "\"missing_seeds\": [], \"status\": \"absent\", \"best\": false}, "
                      "{\"mean\": null, \"std\": null, \"n\": 0, \"expected\": 1, "
                      "\"missing_seeds\": [0], \"status\": \"missing\""),
            std::string::npos)
      << json;
  const std::string tex = export_tables(reader, recursion, ExportFormat::latex);
  EXPECT_NE(tex.find("    2 &  & --- \\\\\n"), std::string::npos) << tex;
  EXPECT_NE(tex.find("blank: not in the sweep."), std::string::npos) << tex;
  const std::string html = export_tables(reader, recursion, ExportFormat::html);
  EXPECT_NE(html.find("<tr><td>2</td><td class=\"absent\"></td><td>—</td></tr>"), std::string::npos)
      << html;
  EXPECT_NE(html.find("<title>2, 1: not in the sweep</title>"), std::string::npos) << html;
}

// A [[variant]] with the config of another cell runs once, under the first name; the ablation
// table still has its row (the paper's table lists it), with that cell's numbers, and says so.
TEST(Export, AVariantThatEqualsAnotherCellKeepsItsAblationRow) {
  TempDir dir;
  std::string spec = exporttest::sample_spec("grid");
  spec +=
      "\n[[variant]]\nname = \"T=1 n=2 again\"\nmodel.h_cycles = 1\nmodel.l_cycles = 2\n"
      "\n[[variant]]\nname = \"base again\"\nmodel.h_cycles = 2\n";
  exporttest::write_sample(dir.file("r.h5"), "grid", spec);
  const ResultsReader reader(dir.file("r.h5"));
  EXPECT_EQ(reader.trials().size(), 8u);  // both ran once, under the grid cell's name
  const auto ablation = find_spec_tables(reader, {"ablation"});
  const std::string md = export_tables(reader, ablation, ExportFormat::md);
  // In the variants' order, after the last one, with the numbers of the cells they equal.
  EXPECT_NE(md.find("| attention T=2 n=2 | — | 12 | 1 | 132.0K |\n"
                    "| T=1 n=2 again | 55.0 | 6 | 1 | 125.3K |\n"
                    "| base again | OOM | 12 | 1 | 125.3K |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("'T=1 n=2 again' is the same config as 'h_cycles=1 l_cycles=2': it ran "
                    "once, and both rows show that cell."),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("'base again' is the same config as 'h_cycles=2 l_cycles=2'"),
            std::string::npos)
      << md;
  EXPECT_NE(export_tables(reader, ablation, ExportFormat::csv)
                .find("T=1 n=2 again,0.55,,1,1,,done,6,1,125314\n"),
            std::string::npos);
  EXPECT_NE(export_tables(reader, ablation, ExportFormat::json)
                .find("[\"T=1 n=2 again\", {\"mean\": 0.55,"),
            std::string::npos);
  EXPECT_NE(
      export_tables(reader, ablation, ExportFormat::latex).find("T=1 n=2 again & 55.0 & 6 & 1"),
      std::string::npos);
  EXPECT_NE(export_tables(reader, ablation, ExportFormat::html)
                .find("<tr><td>T=1 n=2 again</td><td>55.0</td>"),
            std::string::npos);
  // A variant with a cell of its own is one row, as before.
  EXPECT_EQ(md.find("attention T=1 n=1 |", md.find("attention T=1 n=1 |") + 1), std::string::npos)
      << md;
  // The first variant: before the second, after the grid's cells.
  std::string first = exporttest::sample_spec("grid");
  const std::string at = "[[variant]]\nname = \"attention T=1 n=1\"";
  first.insert(first.find(at), "[[variant]]\nname = \"first\"\nmodel.h_cycles = 3\n\n");
  exporttest::write_sample(dir.file("first.h5"), "grid", first);
  const ResultsReader first_reader(dir.file("first.h5"));
  const std::string first_md =
      export_tables(first_reader, find_spec_tables(first_reader, {"ablation"}), ExportFormat::md);
  EXPECT_NE(first_md.find("| h_cycles=3 l_cycles=2 | OOM | 18 | 1 | 125.3K |\n"
                          "| first | OOM | 18 | 1 | 125.3K |\n"
                          "| attention T=1 n=1 | **80.0** |"),
            std::string::npos)
      << first_md;
}

// /trials stores -1 for a peak never measured (a pending, failed or predicted-OOM trial); the raw
// table shows it missing, as every other metric without a value, in every format.
TEST(Export, ARawPeakThatWasNeverMeasuredIsMissingNotMinusOne) {
  const Sample s("ablation");
  const ResultsReader reader(s.path);
  const auto all = find_spec_tables(reader, {"all"});
  const auto text = [&](ExportFormat f) { return export_tables(reader, all, f); };
  // Trial 10 is pending: step 0, then wall_s and measured_peak_bytes missing.
  EXPECT_NE(text(ExportFormat::md)
                .find("| 10 | w/ T = 4 seed=1 | pending | 1 | 2 | 4 | bce | "
                      "true | 0 | — | — | — |"),
            std::string::npos)
      << text(ExportFormat::md);
  EXPECT_NE(text(ExportFormat::csv).find("\n10,w/ T = 4 seed=1,pending,1,2,4,bce,true,0,,,,,,,\n"),
            std::string::npos)
      << text(ExportFormat::csv);
  EXPECT_NE(text(ExportFormat::json)
                .find("[10, \"w/ T = 4 seed=1\", \"pending\", 1, \"2\", "
                      "\"4\", \"bce\", \"true\", 0, null, null, null,"),
            std::string::npos)
      << text(ExportFormat::json);
  EXPECT_NE(text(ExportFormat::latex)
                .find("10 & w/ T = 4 seed=1 & pending & 1 & 2 & 4 & bce & "
                      "true & 0 & --- & --- & ---"),
            std::string::npos);
  EXPECT_NE(text(ExportFormat::html)
                .find("<td>w/ T = 4 seed=1</td><td>pending</td><td>1</td>"
                      "<td>2</td><td>4</td><td>bce</td><td>true</td><td>0</"
                      "td><td>—</td><td>—</td><td>—</td>"),
            std::string::npos);
  for (const auto& [format, ext] : kFormats) {
    const std::string out = text(format);
    EXPECT_EQ(out.find("| -1 |"), std::string::npos) << ext;
    EXPECT_EQ(out.find(",-1,"), std::string::npos) << ext;
    EXPECT_EQ(out.find(", -1,"), std::string::npos) << ext;
    EXPECT_EQ(out.find("& -1 &"), std::string::npos) << ext;
    EXPECT_EQ(out.find("<td>-1</td>"), std::string::npos) << ext;
    // A measured peak stays: the OOM trial's and a finished one's.
    EXPECT_NE(out.find("3221225472"), std::string::npos) << ext;
    EXPECT_NE(out.find("104857600"), std::string::npos) << ext;
  }
}

// `--table all --table all` is one table: twice, the CSV read as one table with every trial
// twice.
TEST(Export, ATableNamedTwiceIsExportedOnce) {
  const Sample s("grid");
  const ResultsReader reader(s.path);
  const auto tables = find_spec_tables(reader, {"all", "ablation", "all", "ablation"});
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0].name, "all");
  EXPECT_EQ(tables[1].name, "ablation");
  const std::string once =
      export_tables(reader, find_spec_tables(reader, {"all"}), ExportFormat::csv);
  EXPECT_EQ(export_tables(reader, find_spec_tables(reader, {"all", "all"}), ExportFormat::csv),
            once);
  EXPECT_EQ(once.find("# table:"), std::string::npos) << once;  // one table: plain CSV
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
                 "lm_loss, wall_s, peak_memory, pass_at_1, pass_at_2");
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

// The result tables are empty and say so; the raw table still lists every trial (pending).
TEST(Export, ASweepWithNoFinishedTrialGivesEmptyTablesThatSaySo) {
  const Sample s("empty");
  const std::string md = s.all(ExportFormat::md);
  EXPECT_NE(md.find("No finished trial yet: 0 of 8 trials done"), std::string::npos) << md;
  EXPECT_NE(md.find("| h_cycles \\ l_cycles |\n|---|\n\nNo finished trial yet"), std::string::npos)
      << md;                                              // the grid: no rows
  EXPECT_NE(md.find("| 7 | "), std::string::npos) << md;  // the raw table: all 8 trials
  const std::string csv = s.all(ExportFormat::csv);
  EXPECT_NE(csv.find("# table: ablation\n# No finished trial yet: 0 of 8 trials done (see "
                     "`trm-sweep status`).\nmethod,"),
            std::string::npos)
      << csv;
  const size_t raw = csv.find("# table: all\nindex,name,status,train.seed");
  ASSERT_NE(raw, std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin() + static_cast<std::ptrdiff_t>(raw), csv.end(), '\n'), 2 + 8)
      << csv.substr(raw);
  EXPECT_NE(csv.find(",pending,", raw), std::string::npos) << csv.substr(raw);
  // One table alone: its header is the first line, as csv.DictReader and read_csv want it.
  const ResultsReader reader(s.path);
  const std::string ablation =
      export_tables(reader, find_spec_tables(reader, {"ablation"}), ExportFormat::csv);
  EXPECT_EQ(ablation.rfind("method,", 0), 0u) << ablation;
}

// Each table's LaTeX label is unique: names that sanitise to the same label ("a#b", "a%b") get a
// number, or \ref points at the wrong table and LaTeX warns of multiply defined labels.
TEST(Export, LatexLabelsAreUniqueWhenNamesSanitiseAlike) {
  const TempDir dir;
  const std::string path = dir.file("labels.h5");
  exporttest::write_sample(path, "empty",
                           "[base]\nmodel.hidden_size = 64\n\n[[table]]\nname = \"a#b\"\nkind = "
                           "\"raw\"\n\n[[table]]\nname = \"a%b\"\nkind = \"raw\"\n");
  const ResultsReader reader(path);
  const std::string tex = export_tables(reader, spec_tables(reader), ExportFormat::latex);
  EXPECT_NE(tex.find("\\label{tab:a-b}"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\label{tab:a-b-2}"), std::string::npos) << tex;
  EXPECT_EQ(tex.find("\\label{tab:a-b}"), tex.rfind("\\label{tab:a-b}")) << tex;
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
