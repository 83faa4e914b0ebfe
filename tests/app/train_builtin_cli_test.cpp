// `dreamdpo train-builtin` end to end: tiny smoke runs write loadable files; bad input fails clearly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/builtin/clip_reward.h"
#include "models/builtin/judge.h"
#include "models/builtin/mv_unet.h"

namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TrainBuiltinCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dreamdpo_train_builtin_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result run(const std::string& args) {
    const std::string command = std::string(DREAMDPO_BINARY) + " --threads 1 train-builtin " + args + " >" +
                                (dir_ / "out").string() + " 2>" + (dir_ / "err").string();
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir_ / "out"), slurp(dir_ / "err")};
  }
  fs::path dir_;
};

TEST_F(TrainBuiltinCli, SmokeRunsWriteLoadableFilesAndEvalReadsThem) {
  const auto reward = dir_ / "reward.safetensors";
  auto r = run("reward --steps 3 --batch 4 --eval-scenes 4 -o " + reward.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("accuracy"));
  EXPECT_THAT(r.out, HasSubstr("clean>degraded"));
  EXPECT_NO_THROW(dreamdpo::models::ClipReward::load(reward));
  r = run("reward --eval --eval-scenes 4 -o " + reward.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("held-out scenes"));

  const auto judge = dir_ / "judge.safetensors";
  r = run("judge --steps 2 --batch 3 --eval-scenes 4 -o " + judge.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NO_THROW(dreamdpo::models::Judge::load(judge));
}

TEST_F(TrainBuiltinCli, DiffusionSmokeRunWritesAModelThatContinues) {
  const auto first = dir_ / "d.safetensors", second = dir_ / "d2.safetensors";
  auto r = run("diffusion --steps 2 --batch 2 --pool 4 -o " + first.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("diffusion: 2 steps"));
  EXPECT_NO_THROW(dreamdpo::models::load_mv_diffusion(first, at::kCPU));
  // --init continues from a file; an architecture mismatch or a missing file is an error.
  r = run("diffusion --steps 1 --batch 2 --pool 4 --init " + first.string() + " -o " + second.string());
  ASSERT_EQ(r.code, 0) << r.err;
  // --eval samples the file on held-out scenes and asks the shipped judge.
  r = run("diffusion --eval --eval-scenes 2 -o " + second.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("judged correct"));
  EXPECT_THAT(r.out, HasSubstr("over 2 held-out scenes"));
  r = run("diffusion --steps 1 --batch 2 --pool 4 --init " + (dir_ / "none.safetensors").string() + " -o " +
          second.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("none.safetensors"));
}

TEST_F(TrainBuiltinCli, BadInputFailsWithClearMessages) {
  auto r = run("diffusion --eval -o " + (dir_ / "d.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("d.safetensors"));
  r = run("diffusion --eval --eval-scenes 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--eval-scenes must be >= 1"));
  r = run("reward --eval -o " + (dir_ / "none.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  r = run("reward --steps 0 -o " + (dir_ / "x.safetensors").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--steps"));
  EXPECT_EQ(run("unicorn").code, 2);
}

}  // namespace
