// The dreamdpo binary end to end: small runs and bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_helpers.h"

namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using dreamdpo::testing_helpers::CommandResult;
using dreamdpo::testing_helpers::slurp;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / (std::string("dreamdpo_cli_") + info->name() + "_" +
                                        std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult run(const std::string& args) { return dreamdpo::testing_helpers::run_dreamdpo(args, dir_); }

  static int line_count(const std::string& text) {
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  fs::path dir_;
};

TEST_F(CliTest, Toy2dWritesEveryOutput) {
  const auto out = dir_ / "run";
  const auto r = run("toy2d \"a red square\" -o " + out.string() +
                     " --steps 25 --set prior.image_size=16 --set snapshots=4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"final.png", "snapshots.png", "metrics.csv", "run.json"}) {
    EXPECT_TRUE(fs::exists(out / file)) << file;
  }
  const auto csv = slurp(out / "metrics.csv");
  EXPECT_EQ(line_count(csv), 26);  // header + one row per step
  EXPECT_THAT(csv, HasSubstr("step,loss,grad_norm,t,t2,score_win,score_lose,gap,lose_fired"));
  const auto run_json = nlohmann::json::parse(slurp(out / "run.json"));
  EXPECT_EQ(run_json["status"], "finished");
  EXPECT_EQ(run_json["prompt"], "a red square");
  EXPECT_EQ(run_json["config"]["steps"], 25);
  EXPECT_EQ(run_json["config"]["prior"]["image_size"], 16);
  // No temporary files are left behind.
  for (const auto& entry : fs::directory_iterator(out)) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp.")));
  }
}

TEST_F(CliTest, SameSeedGivesTheSameRun) {
  const std::string args = " --steps 10 --set prior.image_size=8 --seed 3";
  ASSERT_EQ(run("toy2d red -o " + (dir_ / "a").string() + args).exit_code, 0);
  ASSERT_EQ(run("toy2d red -o " + (dir_ / "b").string() + args).exit_code, 0);
  EXPECT_EQ(slurp(dir_ / "a" / "metrics.csv"), slurp(dir_ / "b" / "metrics.csv"));
  EXPECT_EQ(slurp(dir_ / "a" / "final.png"), slurp(dir_ / "b" / "final.png"));
}

TEST_F(CliTest, EmptyPromptIsAOneLineErrorAndWritesNothing) {
  const auto out = dir_ / "never";
  const auto r = run("toy2d \"  \" -o " + out.string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("prompt is empty"));
  EXPECT_EQ(line_count(r.err), 1);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CliTest, UnknownFlagIsAOneLineError) {
  const auto r = run("toy2d red --frobnicate 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--frobnicate"));
  EXPECT_EQ(line_count(r.err), 1);
}

TEST_F(CliTest, NegativeTauIsRejectedBeforeAnyWork) {
  const auto out = dir_ / "never";
  const auto r = run("toy2d red --tau -0.5 -o " + out.string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("guidance.dreamdpo.tau must be >= 0"));
  EXPECT_EQ(line_count(r.err), 1);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CliTest, UnwritableOutputFolderIsAClearError) {
  const auto r = run("toy2d red --steps 2 -o /proc/dreamdpo_cannot_write_here");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("/proc/dreamdpo_cannot_write_here"));
  EXPECT_EQ(line_count(r.err), 1);
}

TEST_F(CliTest, UnknownWordListsTheVocabulary) {
  const auto out = dir_ / "never";
  const auto r = run("toy2d \"a zebra\" -o " + out.string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("zebra"));
  EXPECT_THAT(r.err, HasSubstr("red"));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CliTest, UnknownConfigKeyIsNamed) {
  const auto r = run("toy2d red --set guidance.dreamdpo.tua=0.1 -o " + (dir_ / "x").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("unknown config key 'guidance.dreamdpo.tua'"));
}

// Small generate settings for CLI tests (a few seconds on one thread).
const std::string kSmallGenerate =
    " --preset exact --set gaussians.count=200 --set render.sizes=[16] --set render.validation_size=16"
    " --set output.validation_views=2 --set output.turntable_frames=2 --set output.mesh_resolution=16";

TEST_F(CliTest, GenerateEndToEndThenExport) {
  const auto out = dir_ / "run";
  const auto r = run("generate \"a red circle\" -o " + out.string() + " --steps 12" + kSmallGenerate);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out.string() + "\n");
  for (const char* file : {"run.json", "metrics.csv", "views.png", "report.html", "checkpoints/step_000012.safetensors"}) {
    EXPECT_TRUE(fs::exists(out / file)) << file;
  }
  EXPECT_EQ(line_count(slurp(out / "metrics.csv")), 13);
  fs::remove(out / "views.png");
  const auto e = run("export " + out.string());
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_THAT(e.out, HasSubstr("views.png"));
  EXPECT_TRUE(fs::exists(out / "views.png"));
}

TEST_F(CliTest, CtrlCSavesACheckpointAndResumeKeepsTheConfig) {
  const auto out = dir_ / "run";
  // Start a long run, interrupt it once it is under way, and expect exit status 130.
  const std::string command = std::string(DREAMDPO_BINARY) + " --threads 1 generate \"a blue square\" -o " +
                              out.string() + " --steps 100000" + kSmallGenerate + " --set output.checkpoint_every=0" +
                              " >/dev/null 2>" + (dir_ / "err.txt").string() + " & pid=$!; " +
                              "for i in $(seq 100); do [ -s " + (out / "run.json").string() +
                              " ] && break; sleep 0.1; done; sleep 0.5; kill -INT $pid; wait $pid; exit $?";
  const int status = std::system(("sh -c '" + command + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(dir_ / "err.txt");
  EXPECT_THAT(slurp(dir_ / "err.txt"), HasSubstr("--resume"));
  const auto recorded = nlohmann::json::parse(slurp(out / "run.json"));
  EXPECT_EQ(recorded["status"], "interrupted");
  const int64_t done = recorded["final"]["steps_done"];
  EXPECT_GT(done, 0);
  EXPECT_EQ(line_count(slurp(out / "metrics.csv")), done + 1);
  // Other settings cannot change on resume; --steps can only extend... here it shortens the
  // planned 100000 steps, which is refused.
  EXPECT_THAT(run("generate --resume " + out.string() + " --tau 0.5").err, HasSubstr("only --steps"));
  EXPECT_THAT(run("generate --resume " + out.string() + " --steps 5").err, HasSubstr("shorten"));
}

TEST_F(CliTest, GenerateResumeFinishesAStoppedRun) {
  const auto out = dir_ / "run";
  ASSERT_EQ(run("generate red -o " + out.string() + " --steps 6" + kSmallGenerate).exit_code, 0);
  // A finished run can be extended.
  const auto r = run("generate --resume " + out.string() + " --steps 9");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(line_count(slurp(out / "metrics.csv")), 10);
  EXPECT_EQ(nlohmann::json::parse(slurp(out / "run.json"))["config"]["steps"], 9);
  EXPECT_THAT(run("generate blue --resume " + out.string()).err, HasSubstr("is for the prompt 'red'"));
}

TEST_F(CliTest, GenerateRejectsBadInputWithOneLine) {
  auto r = run("generate \"a zebra\" -o " + (dir_ / "never").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("zebra"));
  EXPECT_EQ(line_count(r.err), 1);
  EXPECT_FALSE(fs::exists(dir_ / "never"));
  r = run("generate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("give a prompt"));
  r = run("generate red --set background.mode=stripes -o " + (dir_ / "never").string());
  EXPECT_THAT(r.err, HasSubstr("background.mode"));
  r = run("generate --resume " + (dir_ / "missing").string());
  EXPECT_THAT(r.err, HasSubstr("no run to resume"));
}

}  // namespace
