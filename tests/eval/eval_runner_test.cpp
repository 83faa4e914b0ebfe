// A tiny eval end to end: runs, table, HTML, and resumability (a second call regenerates
// nothing).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "core/config.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "test_helpers.h"

namespace dreamdpo::eval {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(EvalRunner, TinyEvalEndToEndAndResumable) {
  const auto dir = fs::temp_directory_path() / ("dreamdpo_eval_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  core::write_file_atomic(dir / "prompts.txt", "# two prompts\na red circle\na blue square\n");
  auto base = core::load_preset("exact");
  for (const char* assignment :
       {"steps=6", "gaussians.count=150", "render.sizes=[16]", "render.validation_size=16", "output.validation_views=2",
        "output.turntable_frames=2", "output.mesh=false", "output.validate_every=0"}) {
    core::apply_override(base, assignment);
  }
  EvalOptions options;
  options.prompts_file = dir / "prompts.txt";
  options.output_dir = dir / "eval";
  options.views = 2;
  options.size = 16;
  // A reward model that cannot read "circle" leaves that prompt's reward empty, nothing more.
  struct PickyRanker : rank::Ranker {
    std::string name() const override { return "picky"; }
    at::Tensor score(const at::Tensor& images, const std::string& prompt) override {
      check(prompt.find("circle") == std::string::npos, "unknown word 'circle'");
      return at::full({images.size(0)}, 0.5);
    }
  } picky;
  auto summary = run_eval(options, base, {&picky, nullptr});
  EXPECT_EQ(summary.runs, 4);
  EXPECT_EQ(summary.generated, 4);
  for (const auto& file : {summary.results_csv, summary.table_csv, summary.table_markdown, summary.html}) {
    EXPECT_TRUE(fs::exists(file)) << file;
  }
  const auto csv = core::read_file(summary.results_csv);
  EXPECT_THAT(csv, HasSubstr("a red circle,sds,0,"));
  // Columns: prompt,method,seed,run,seconds,judge_recognised,judge_margin,reward,...
  auto reward_of = [&csv](const std::string& row_start) {
    std::stringstream row(csv.substr(csv.find(row_start)));
    std::string field;
    for (int i = 0; i <= 7; ++i) std::getline(row, field, ',');
    return field;
  };
  EXPECT_EQ(reward_of("a blue square,sds"), "0.5");
  EXPECT_EQ(reward_of("a red circle,sds"), "");
  EXPECT_THAT(csv, HasSubstr("a blue square,dreamdpo,0,"));
  EXPECT_THAT(core::read_file(summary.table_markdown), HasSubstr("| dreamdpo − sds (paired) |"));
  EXPECT_THAT(core::read_file(summary.html), HasSubstr("runs/a-red-circle/dreamdpo/seed_0/turntable"));
  // Resumable: nothing is generated again. An extra scorer (as --scorers hpsv2 adds) gets a
  // column of its own, filled for the reused runs too.
  struct ConstantRanker : rank::Ranker {
    std::string name() const override { return "constant"; }
    at::Tensor score(const at::Tensor& images, const std::string&) override {
      return at::full({images.size(0)}, 0.25);
    }
  } constant;
  EvalScorers with_extra;
  with_extra.extra.push_back({"constant", &constant});
  summary = run_eval(options, base, with_extra);
  EXPECT_EQ(summary.generated, 0);
  EXPECT_EQ(summary.reused, 4);
  const auto rescored = core::read_file(summary.results_csv);
  EXPECT_THAT(rescored.substr(0, rescored.find('\n')), ::testing::EndsWith(",colour_correct,constant"));
  EXPECT_THAT(rescored, HasSubstr(",0.25\n"));
  EXPECT_THAT(core::read_file(summary.table_markdown), HasSubstr("| constant |"));
  // A scorer named like a built-in column is refused before anything runs.
  with_extra.extra.push_back({"reward", &constant});
  EXPECT_THAT(testing_helpers::error_of([&] { run_eval(options, base, with_extra); }),
              HasSubstr("scorer 'reward' given twice or named like a built-in column"));
  fs::remove_all(dir);
}

TEST(EvalRunner, SweepFilesBecomeVariantsAndBadOnesAreNamed) {
  const auto root = fs::path(DREAMDPO_SOURCE_DIR) / "configs" / "sweeps";
  const auto tau = read_sweep(root / "tau.yaml");
  ASSERT_EQ(tau.size(), 5u);  // the SDS baseline, then tau 0, 0.001, 0.01, 0.1
  EXPECT_EQ(tau[0].name, "sds");
  EXPECT_EQ(tau[1].overrides, (std::vector<std::string>{"guidance.method=dreamdpo", "guidance.dreamdpo.tau=0"}));
  for (const char* file : {"pairs.yaml", "ranker.yaml"}) EXPECT_GE(read_sweep(root / file).size(), 2u) << file;
  const auto dir = fs::temp_directory_path() / ("dreamdpo_sweep_" + std::to_string(getpid()));
  fs::create_directories(dir);
  core::write_file_atomic(dir / "bad.yaml", "variants:\n  a: {guidance.dreamdpo.tua: 1}\n");
  core::write_file_atomic(dir / "prompts.txt", "a red circle\n");
  EvalOptions options;
  options.prompts_file = dir / "prompts.txt";
  options.output_dir = dir / "eval";
  options.variants = read_sweep(dir / "bad.yaml");
  const auto message = testing_helpers::error_of([&] { run_eval(options, core::load_preset("builtin"), {}); });
  EXPECT_THAT(message, HasSubstr("variant 'a'"));
  EXPECT_THAT(message, HasSubstr("tua"));
  EXPECT_FALSE(fs::exists(dir / "eval" / "runs"));
  fs::remove_all(dir);
}

TEST(EvalReport, TablePairsMethodsByPromptAndSeed) {
  std::vector<RunRecord> records;
  // DreamDPO is exactly 0.1 better on every (prompt, seed): the paired interval has no width.
  for (int p = 0; p < 3; ++p) {
    for (int s = 0; s < 2; ++s) {
      const double base = 0.2 * p + 0.05 * s;
      records.push_back({"p" + std::to_string(p), "sds", s, "r", 1.0, {{"iou", base}}});
      records.push_back({"p" + std::to_string(p), "dreamdpo", s, "r", 1.0, {{"iou", base + 0.1}}});
    }
  }
  const auto md = eval_table_markdown(records, {"sds", "dreamdpo"}, {"iou"});
  EXPECT_THAT(md, HasSubstr("dreamdpo − sds (paired)"));
  EXPECT_THAT(md, HasSubstr("| iou |"));
  EXPECT_THAT(md, HasSubstr("0.100 [0.100, 0.100] (n=6)"));
}

}  // namespace
}  // namespace dreamdpo::eval
