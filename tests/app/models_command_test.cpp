// `dreamdpo models check` and `dreamdpo convert`: what they print, exit codes, and one clear
// line on bad input, with no partial output file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/safetensors.h"
#include "test_helpers.h"

namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using dreamdpo::testing_helpers::CommandResult;

fs::path fixtures() { return fs::path(DREAMDPO_TEST_DATA_DIR).parent_path() / "fixtures"; }

class ModelsCliTest : public dreamdpo::testing_helpers::TempDirTest {
 protected:
  CommandResult run(const std::string& args) { return dreamdpo::testing_helpers::run_dreamdpo(args, dir_); }
  // An MVDream-like single file: the fixture VAE in ldm names plus UNet and text-encoder stand-ins.
  fs::path mvdream_like(bool drop_one) {
    auto tensors = dreamdpo::core::read_safetensors(fixtures() / "vae" / "autoencoder_kl_ldm.safetensors").tensors;
    tensors["model.diffusion_model.camera_embed.0.weight"] = at::zeros({8, 16});
    tensors["cond_stage_model.model.token_embedding.weight"] = at::zeros({10, 8}, at::kHalf);
    if (drop_one) tensors.erase("first_stage_model.decoder.up.0.block.0.nin_shortcut.weight");
    const auto path = dir_ / (drop_one ? "broken.safetensors" : "mvdream.safetensors");
    dreamdpo::core::write_safetensors(path, tensors);
    return path;
  }
};

TEST_F(ModelsCliTest, CheckDescribesAndLoadsAnLdmFile) {
  const auto r = run("models check " + mvdream_like(false).string());
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the UNet and the text encoder are stand-ins
  EXPECT_THAT(r.out, HasSubstr("format: safetensors"));
  EXPECT_THAT(r.out, HasSubstr("kind: MVDream single file"));
  EXPECT_THAT(r.out, HasSubstr("tensors: 126"));
  EXPECT_THAT(r.out, HasSubstr("float16 1"));
  EXPECT_THAT(r.out, HasSubstr("load VAE (first_stage_model): loads: AutoencoderKL, block_out_channels 16,32"));
  EXPECT_THAT(r.out, HasSubstr("load UNet (model.diffusion_model): DOES NOT LOAD"));
  EXPECT_THAT(r.out, HasSubstr("load text encoder (cond_stage_model): DOES NOT LOAD"));
}

TEST_F(ModelsCliTest, CheckNamesTheMissingTensorAndFails) {
  const auto r = run("models check " + mvdream_like(true).string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("DOES NOT LOAD"));
  EXPECT_THAT(r.out, HasSubstr("missing decoder.up_blocks.1.resnets.0.conv_shortcut.weight"));
  EXPECT_THAT(r.err, HasSubstr("error: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(ModelsCliTest, ConvertWritesSafetensorsInTheAskedDtype) {
  const auto out = dir_ / "out.safetensors";
  const auto r = run("convert " + (fixtures() / "checkpoint" / "lightning.ckpt").string() + " " + out.string() +
                     " --dtype fp16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote 18 tensors"));
  const auto file = dreamdpo::core::read_safetensors(out);
  ASSERT_EQ(file.tensors.size(), 18u);
  EXPECT_EQ(file.tensors.at("model.conv.weight").scalar_type(), at::kHalf);
  EXPECT_EQ(file.tensors.at("model.long").scalar_type(), at::kLong);  // integers keep their type
  EXPECT_EQ(file.tensors.at("views.transposed").sizes(), (std::vector<std::int64_t>{6, 4}));
  const auto base = file.tensors.at("views.base").to(at::kFloat);
  EXPECT_TRUE(at::equal(file.tensors.at("views.transposed").to(at::kFloat), base.t()));
  EXPECT_EQ(file.metadata.at("converted_from"), "lightning.ckpt");
}

// (Few runs: each start of the binary loads LibTorch.)
TEST_F(ModelsCliTest, BadInputIsOneClearLineAndNoFile) {
  auto r = run("convert " + (fixtures() / "checkpoint" / "legacy.pt").string() + " " + (dir_ / "x.safetensors").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("legacy PyTorch checkpoint"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  EXPECT_FALSE(fs::exists(dir_ / "x.safetensors"));
  r = run("convert " + (fixtures() / "checkpoint" / "plain.bin").string() + " " + (dir_ / "out.bin").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("must end in .safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "out.bin"));
}

}  // namespace
