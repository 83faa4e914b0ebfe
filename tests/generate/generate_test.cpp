// The generate loop end to end on the exact prior: outputs, bit-exact resume, checkpoints and
// errors on bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/safetensors.h"
#include "camera/orbit.h"
#include "generate/checkpoint.h"
#include "generate/gaussian_views.h"
#include "generate/generate.h"
#include "generate/report_html.h"
#include "core/base64.h"
#include "export/gaussian_ply.h"
#include "scene/gaussians.h"
#include "test_helpers.h"

namespace dreamdpo::generate {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_helpers::error_of;

class GenerateTest : public testing_helpers::TempDirTest {
 protected:
  // Runs write into fresh folders of their own: the fixture's folder must not exist yet.
  void SetUp() override {
    TempDirTest::SetUp();
    fs::remove_all(dir_);
  }

  // Small and fast, with densification both before and after step 20 and a learned background,
  // so resume has every piece of state to restore.
  static GenerateConfig small_config() {
    GenerateConfig config;
    config.steps = 40;
    config.gaussians.count = 300;
    config.gaussians.initial_scale = 0.05;
    config.render.sizes = {16, 24};
    config.render.milestones = {25};
    config.render.validation_size = 24;
    config.densify.start = 5;
    config.densify.interval = 10;
    config.densify.until = 1.0;
    config.densify.grad_threshold = 1e-4;
    config.densify.max_count = 600;
    config.background.mode = "learned";
    config.output.checkpoint_every = 15;
    config.output.validate_every = 20;
    config.output.validation_views = 2;
    config.output.turntable_frames = 3;
    config.output.mesh_resolution = 24;
    return config;
  }
};

std::map<std::string, at::Tensor> final_state(const fs::path& run) {
  return core::read_safetensors(list_checkpoints(run).back()).tensors;
}

TEST_F(GenerateTest, WritesTheRunFolderAndReachesThePromptsTemplate) {
  auto config = small_config();
  config.steps = 120;
  config.background.mode = "solid";
  const auto result = run_generate("a green square", config, dir_);
  EXPECT_FALSE(result.interrupted);
  EXPECT_EQ(result.steps_done, 120);
  EXPECT_EQ(result.nearest_caption, "a green square");
  for (const char* file : {"run.json", "metrics.csv", "views.png", "report.html", "validation/step_000020.png",
                           "model.ply", "mesh.glb", "mesh.obj"}) {
    EXPECT_TRUE(fs::exists(dir_ / file)) << file;
  }
  EXPECT_TRUE(fs::exists(dir_ / "turntable.png") || fs::exists(dir_ / "turntable.mp4"));
  // model.ply holds exactly the Gaussians of the final checkpoint.
  const auto ply = exporters::read_gaussian_ply(dir_ / "model.ply");
  const auto checkpoint = final_state(dir_);
  for (const auto& [key, tensor] : ply) {
    EXPECT_TRUE(at::equal(tensor, checkpoint.at("gaussians." + key))) << key;
  }
  // The report is self-contained: the turntable and views are inlined, nothing is fetched.
  const auto html = core::read_file(dir_ / "report.html");
  EXPECT_THAT(html, HasSubstr("data:image/png;base64,"));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("src=\"http")));
  EXPECT_THAT(html, HasSubstr("<svg"));
  const auto run = nlohmann::json::parse(core::read_file(dir_ / "run.json"));
  EXPECT_EQ(run["status"], "finished");
  EXPECT_EQ(run["config"]["steps"], 120);
  EXPECT_EQ(run["final"]["nearest_template"], "a green square");
  EXPECT_EQ(run["final"]["assets"]["gaussians"], "model.ply");
  EXPECT_EQ(run["final"]["assets"]["mesh"], "mesh.glb");
  // metrics.csv: a header and one row per step.
  std::ifstream csv(dir_ / "metrics.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 121);
  // Only the newest checkpoints are kept.
  EXPECT_EQ(list_checkpoints(dir_).size(), 2u);
  EXPECT_EQ(list_checkpoints(dir_).back().filename(), "step_000120.safetensors");
}

// Over a solid background, Gaussians of the background's colour get no gradient from the prior;
// the alpha-sparsity term is what lets them fade. Here every Gaussian is visible, so a weight
// that outweighs the guidance shows the term is wired in with the right sign: same prompt and
// seed, the result covers less of the image, and metrics.csv logs the term.
TEST_F(GenerateTest, AlphaSparsityShrinksWhatTheResultCovers) {
  auto config = small_config();
  config.steps = 30;
  config.background.mode = "solid";
  config.output.mesh = false;
  run_generate("a green square", config, dir_ / "plain");
  config.regularisers.alpha_sparsity = 1000;
  run_generate("a green square", config, dir_ / "sparse");
  auto coverage = [](const fs::path& run) {
    const auto cloud = scene::GaussianCloud::from_state(strip_prefix("gaussians", final_state(run)));
    at::NoGradGuard no_grad;
    return render_cloud(cloud, camera::fixed_orbit(4, 15.0, 2.75, 45.0), 24, at::ones({3})).alpha.mean().item<double>();
  };
  const double plain = coverage(dir_ / "plain"), sparse = coverage(dir_ / "sparse");
  EXPECT_LT(sparse, 0.8 * plain) << "plain " << plain << ", sparse " << sparse;
  EXPECT_GT(sparse, 0.0);
  // The checkpoint carries the metrics table that metrics.csv is written from.
  const auto columns = generate_metric_columns();
  const auto column = std::find(columns.begin(), columns.end(), "regulariser") - columns.begin();
  ASSERT_LT(column, static_cast<int64_t>(columns.size()));
  const auto first_row = final_state(dir_ / "sparse").at("metrics.rows")[0];
  EXPECT_GT(first_row[column].item<double>(), 0.0) << first_row;
}

// Runs the same small config uninterrupted and as stop-at-20 + resume; every saved tensor
// must be identical.
void expect_resume_is_bit_identical(const GenerateConfig& config, const fs::path& dir) {
  const auto whole = dir / "whole";
  const auto parts = dir / "parts";
  run_generate("a red circle", config, whole);
  const auto stopped = run_generate("a red circle", config, parts, /*stop_after=*/20);
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_EQ(stopped.steps_done, 20);
  EXPECT_EQ(nlohmann::json::parse(core::read_file(parts / "run.json"))["status"], "interrupted");
  EXPECT_FALSE(fs::exists(parts / "views.png"));  // assets come only with a finished run
  const auto resumed = resume_generate(parts);
  EXPECT_FALSE(resumed.interrupted);
  EXPECT_EQ(resumed.steps_done, 40);
  const auto a = final_state(whole), b = final_state(parts);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, tensor] : a) {
    ASSERT_TRUE(b.count(key)) << key;
    if (key == "metrics.rows") {
      // Every column but the wall-clock step time is identical (NaN marks "no value").
      const auto n = tensor.size(1) - 1;
      EXPECT_TRUE(at::equal(at::nan_to_num(tensor.narrow(1, 0, n), -7), at::nan_to_num(b.at(key).narrow(1, 0, n), -7)));
      continue;
    }
    EXPECT_TRUE(at::equal(tensor, b.at(key))) << key;
  }
  // Densification happened on both sides of the interruption.
  EXPECT_NE(a.at("gaussians.means").size(0), 300);
}

TEST_F(GenerateTest, ResumeIsBitIdenticalToAnUninterruptedRun) {
  expect_resume_is_bit_identical(small_config(), dir_);
}

TEST_F(GenerateTest, ResumeIsBitIdenticalOnCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto config = small_config();
  config.device = "cuda";
  expect_resume_is_bit_identical(config, dir_);
}

TEST_F(GenerateTest, ExportRebuildsTheAssetsFromTheCheckpoint) {
  auto config = small_config();
  config.steps = 10;
  run_generate("a blue triangle", config, dir_);
  fs::remove(dir_ / "views.png");
  fs::remove(dir_ / "report.html");
  const auto written = export_run(dir_);
  EXPECT_EQ(written["views"], "views.png");
  EXPECT_TRUE(fs::exists(dir_ / "views.png"));
  EXPECT_THAT(core::read_file(dir_ / "report.html"), HasSubstr("a blue triangle"));
}

TEST_F(GenerateTest, BadInputFailsBeforeWritingAnything) {
  auto config = small_config();
  EXPECT_THAT(error_of([&] { run_generate("a purple dodecahedron", config, dir_); }),
              HasSubstr("words 'purple', 'dodecahedron'"));
  EXPECT_FALSE(fs::exists(dir_));
  config.render.milestones = {10, 20};
  EXPECT_THAT(error_of([&] { run_generate("a red circle", config, dir_); }), HasSubstr("render.milestones"));
  EXPECT_FALSE(fs::exists(dir_));
  // An output folder that cannot be created.
  EXPECT_THAT(error_of([&] { run_generate("a red circle", small_config(), "/proc/dreamdpo-cannot-write"); }),
              HasSubstr("/proc/dreamdpo-cannot-write"));
}

TEST_F(GenerateTest, RefusesToOverwriteARunAndResumesOnlyRealRuns) {
  auto config = small_config();
  config.steps = 6;
  run_generate("a red circle", config, dir_);
  EXPECT_THAT(error_of([&] { run_generate("a red circle", config, dir_); }), HasSubstr("--resume"));
  EXPECT_THAT(error_of([&] { resume_generate(dir_ / "nothing"); }), HasSubstr("no run to resume"));
  EXPECT_THAT(error_of([&] { resume_generate(dir_, 3); }), HasSubstr("shorten"));
}

TEST_F(GenerateTest, CorruptCheckpointGivesAClearErrorNamingTheFallback) {
  auto config = small_config();
  config.steps = 30;
  run_generate("a red circle", config, dir_, /*stop_after=*/30 - 1);
  const auto checkpoints = list_checkpoints(dir_);
  ASSERT_EQ(checkpoints.size(), 2u);  // step 15 and step 29
  // Truncate the newest one, as a full disk or a killed copy would.
  const auto bytes = core::read_file(checkpoints.back());
  {
    std::ofstream out(checkpoints.back(), std::ios::binary | std::ios::trunc);
    out << bytes.substr(0, bytes.size() / 2);
  }
  const auto message = error_of([&] { resume_generate(dir_); });
  EXPECT_THAT(message, HasSubstr("step_000029.safetensors"));
  EXPECT_THAT(message, HasSubstr("delete it to resume from step_000015.safetensors"));
  // Following the advice works.
  fs::remove(checkpoints.back());
  EXPECT_EQ(resume_generate(dir_).steps_done, 30);
}

TEST_F(GenerateTest, AFailedSaveKeepsEarlierCheckpointsAndSaysHowToContinue) {
  auto config = small_config();
  config.steps = 20;
  config.output.checkpoint_every = 5;
  config.output.keep_checkpoints = 10;
  run_generate("a red circle", config, dir_, /*stop_after=*/10);
  ASSERT_EQ(list_checkpoints(dir_).size(), 2u);
  // Make the next checkpoint impossible to write: its file name is taken by a folder.
  fs::create_directories(dir_ / "checkpoints" / "step_000015.safetensors" / "blocker");
  const auto message = error_of([&] { resume_generate(dir_); });
  EXPECT_THAT(message, HasSubstr("could not save the checkpoint of step 15"));
  EXPECT_THAT(message, HasSubstr("step_000010.safetensors"));
  EXPECT_THAT(message, HasSubstr("--resume"));
  // The earlier checkpoints are intact and loadable.
  EXPECT_EQ(load_latest_checkpoint(dir_).step, 10);
}

TEST_F(GenerateTest, StartsFromTheGaussiansOfAnEarlierRun) {
  auto config = small_config();
  config.steps = 8;
  run_generate("a red circle", config, dir_ / "coarse");
  const auto coarse = exporters::read_gaussian_ply(dir_ / "coarse" / "model.ply");
  config.gaussians.init = (dir_ / "coarse" / "model.ply").string();
  config.steps = 1;
  config.densify.start = 100;
  run_generate("a red circle", config, dir_ / "fine");
  // One small Adam step from the coarse Gaussians: same count, nearby positions.
  const auto fine = exporters::read_gaussian_ply(dir_ / "fine" / "model.ply");
  ASSERT_EQ(fine.at("means").size(0), coarse.at("means").size(0));
  EXPECT_LT((fine.at("means") - coarse.at("means")).abs().max().item<double>(), 0.02);
  config.gaussians.init = (dir_ / "missing.ply").string();
  EXPECT_THAT(error_of([&] { run_generate("a red circle", config, dir_ / "never"); }), HasSubstr("missing.ply"));
  EXPECT_FALSE(fs::exists(dir_ / "never"));
  config.gaussians.init = "cube";
  EXPECT_THAT(error_of([&] { run_generate("a red circle", config, dir_ / "never"); }), HasSubstr("gaussians.init"));
}

TEST(Checkpoint, KeepsOnlyTheNewestAndRoundTripsMetrics) {
  const auto dir = fs::temp_directory_path() / ("dreamdpo_checkpoint_" + std::to_string(getpid()));
  fs::remove_all(dir);
  core::MetricsTable metrics({"step", "loss"});
  metrics.add_row({0, 1.5});
  metrics.add_row({1, NAN});
  for (int64_t step : {5, 10, 15}) {
    Checkpoint c;
    c.step = step;
    c.tensors["x"] = at::full({2}, static_cast<double>(step));
    store_metrics(metrics, c);
    save_checkpoint(dir, c, 2);
  }
  const auto all = list_checkpoints(dir);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].filename(), "step_000010.safetensors");
  const auto latest = load_latest_checkpoint(dir);
  EXPECT_EQ(latest.step, 15);
  EXPECT_EQ(latest.tensors.at("x")[0].item<double>(), 15.0);
  core::MetricsTable restored({"step", "loss"});
  restore_metrics(latest, restored);
  ASSERT_EQ(restored.rows().size(), 2u);
  EXPECT_EQ(restored.rows()[0][1], 1.5);
  EXPECT_TRUE(std::isnan(restored.rows()[1][1]));
  core::MetricsTable other({"step", "gap"});
  EXPECT_THAT(error_of([&] { restore_metrics(latest, other); }), HasSubstr("columns"));
  fs::remove_all(dir);
}

TEST(Report, ChartsAndEscapingAndBase64) {
  EXPECT_EQ(core::base64_encode(""), "");
  EXPECT_EQ(core::base64_encode("f"), "Zg==");
  EXPECT_EQ(core::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(core::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  // A NaN splits the curve into two polylines; the axis labels show the range.
  const auto svg = svg_line_chart("loss", {0, 1, 2, 3, 4}, {1, 2, NAN, 4, 5});
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 2u);
  EXPECT_THAT(svg, HasSubstr(">5<"));
  EXPECT_THAT(svg, HasSubstr(">1<"));
  EXPECT_THAT(svg_line_chart("empty", {}, {}), HasSubstr("no data"));
}

}  // namespace
}  // namespace dreamdpo::generate
