// read_state_dict (safetensors, torch zip, diffusers folders, wrappers) and the layout detector.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "core/safetensors.h"
#include "models/checkpoint/load_check.h"
#include "models/checkpoint/state_dict_file.h"
#include "test_helpers.h"

namespace {
namespace fs = std::filesystem;
namespace ckpt = dreamdpo::models::checkpoint;
using dreamdpo::testing_helpers::error_of;
using ::testing::HasSubstr;
using K = ckpt::CheckpointKind;

fs::path fixtures() { return fs::path(DREAMDPO_TEST_DATA_DIR).parent_path() / "fixtures"; }
fs::path repo() { return fs::path(DREAMDPO_TEST_DATA_DIR).parent_path().parent_path(); }

// The diffusers VAE fixture's weights (inputs and outputs left out).
std::map<std::string, at::Tensor> vae_weights() {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : dreamdpo::core::read_safetensors(fixtures() / "vae" / "autoencoder_kl.safetensors").tensors) {
    if (name.rfind("input.", 0) != 0 && name.rfind("expected.", 0) != 0) out[name] = t;
  }
  return out;
}

const char* kSmallVaeConfig = R"({"_class_name": "AutoencoderKL", "block_out_channels": [16, 32],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
  "layers_per_block": 1, "latent_channels": 4, "norm_num_groups": 8, "act_fn": "silu", "sample_size": 16})";

class StateDictFile : public dreamdpo::testing_helpers::TempDirTest {};

TEST_F(StateDictFile, UnwrapsALightningStateDict) {
  const auto tensors = ckpt::read_state_dict(fixtures() / "checkpoint" / "lightning.ckpt");
  EXPECT_EQ(tensors.size(), 18u);
  EXPECT_TRUE(tensors.count("model.conv.weight"));
  EXPECT_TRUE(tensors.count("nested.inner.weight"));
  EXPECT_FALSE(tensors.count("optimizer_states.0.state.0.exp_avg"));  // not part of the model
}

TEST_F(StateDictFile, UnwrapsModelAndModuleButNotLdmNames) {
  auto write = [&](const std::string& file, const std::vector<std::string>& names) {
    std::map<std::string, at::Tensor> tensors;
    for (const auto& n : names) tensors[n] = at::ones({1});
    dreamdpo::core::write_safetensors(dir_ / file, tensors);
    std::vector<std::string> out;
    for (const auto& item : ckpt::read_state_dict(dir_ / file)) out.push_back(item.first);
    return out;
  };
  EXPECT_EQ(write("a.safetensors", {"module.a.weight", "module.b"}), (std::vector<std::string>{"a.weight", "b"}));
  EXPECT_EQ(write("b.safetensors", {"model.module.x"}), (std::vector<std::string>{"x"}));
  EXPECT_EQ(write("c.safetensors", {"model.diffusion_model.out.0.weight"}),
            (std::vector<std::string>{"model.diffusion_model.out.0.weight"}));
  EXPECT_EQ(write("d.safetensors", {"model.x", "other"}), (std::vector<std::string>{"model.x", "other"}));
}

TEST_F(StateDictFile, ReadsDiffusersModelAndPipelineFolders) {
  const auto weights = vae_weights();
  fs::create_directories(dir_ / "pipe" / "vae");
  fs::create_directories(dir_ / "pipe" / "tokenizer");
  std::ofstream(dir_ / "pipe" / "vae" / "config.json") << kSmallVaeConfig;
  dreamdpo::core::write_safetensors(dir_ / "pipe" / "vae" / "diffusion_pytorch_model.safetensors", weights);
  const auto model = ckpt::read_checkpoint_file(dir_ / "pipe" / "vae");
  EXPECT_EQ(model.format, "diffusers folder");
  EXPECT_EQ(model.tensors.size(), weights.size());
  const auto description = ckpt::describe_checkpoint(model.tensors);
  EXPECT_EQ(description.kind, K::kDiffusersVae);
  const auto checks = ckpt::check_strict_load(dir_ / "pipe" / "vae", model, description);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_TRUE(checks[0].checked && checks[0].ok) << checks[0].message;
  EXPECT_THAT(checks[0].message, HasSubstr("norm groups 8"));  // from config.json

  const auto pipeline = ckpt::read_checkpoint_file(dir_ / "pipe");
  EXPECT_TRUE(pipeline.tensors.count("vae.encoder.conv_in.weight"));
  EXPECT_EQ(ckpt::describe_checkpoint(pipeline.tensors).kind, K::kDiffusersPipeline);

  // Sharded weights with an index.
  fs::create_directories(dir_ / "sharded");
  std::map<std::string, at::Tensor> first, second;
  for (const auto& [name, t] : weights) (name.rfind("encoder.", 0) == 0 ? first : second)[name] = t;
  dreamdpo::core::write_safetensors(dir_ / "sharded" / "model-1.safetensors", first);
  dreamdpo::core::write_safetensors(dir_ / "sharded" / "model-2.safetensors", second);
  nlohmann::json index;
  for (const auto& item : first) index["weight_map"][item.first] = "model-1.safetensors";
  for (const auto& item : second) index["weight_map"][item.first] = "model-2.safetensors";
  std::ofstream(dir_ / "sharded" / "diffusion_pytorch_model.safetensors.index.json") << index.dump();
  EXPECT_EQ(ckpt::read_state_dict(dir_ / "sharded").size(), weights.size());
}

TEST_F(StateDictFile, DetectsTheKnownLayouts) {
  auto kind_of = [](const std::vector<std::string>& names) {
    std::map<std::string, at::Tensor> tensors;
    for (const auto& n : names) tensors[n] = at::zeros({2});
    return ckpt::describe_checkpoint(tensors).kind;
  };
  EXPECT_EQ(kind_of({"model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.encoder.conv_in.weight",
                     "cond_stage_model.model.token_embedding.weight"}),
            K::kLdmStableDiffusion);
  EXPECT_EQ(kind_of({"model.diffusion_model.input_blocks.0.0.weight", "model.diffusion_model.camera_embed.0.weight",
                     "first_stage_model.encoder.conv_in.weight"}),
            K::kLdmMvdream);
  EXPECT_EQ(kind_of({"conv_in.weight", "time_embedding.linear_1.weight", "down_blocks.0.resnets.0.conv1.weight"}),
            K::kDiffusersUnet);
  EXPECT_EQ(kind_of({"encoder.conv_in.weight", "decoder.conv_in.weight"}), K::kDiffusersVae);
  EXPECT_EQ(kind_of({"text_model.embeddings.token_embedding.weight"}), K::kDiffusersTextEncoder);
  EXPECT_EQ(kind_of({"visual.conv1.weight", "token_embedding.weight", "logit_scale"}), K::kOpenClip);
  EXPECT_EQ(kind_of({"blip.visual_encoder.cls_token", "blip.text_encoder.embeddings.word_embeddings.weight",
                     "mlp.layers.0.weight"}),
            K::kImageReward);
  EXPECT_EQ(kind_of({"something.else"}), K::kUnknown);

  const auto d = ckpt::describe_checkpoint_file(repo() / "models" / "builtin" / "judge.safetensors");
  EXPECT_EQ(d.kind, K::kBuiltinJudge);
  EXPECT_EQ(d.format, "safetensors");
  EXPECT_GT(d.parameter_count, 0);
  const auto zip = ckpt::describe_checkpoint_file(fixtures() / "checkpoint" / "lightning.ckpt");
  EXPECT_EQ(zip.format, "PyTorch zip");
  EXPECT_EQ(zip.dtype_counts.at("float16"), 1u);
  EXPECT_EQ(zip.dtype_counts.at("bfloat16"), 1u);
  EXPECT_EQ(zip.dtype_counts.at("int64"), 1u);
}

TEST_F(StateDictFile, ClearErrors) {
  EXPECT_THAT(error_of([&] { ckpt::read_state_dict(dir_ / "nope.bin"); }), HasSubstr("does not exist"));
  std::ofstream(dir_ / "text.bin") << "just some text, no weights";
  EXPECT_THAT(error_of([&] { ckpt::read_state_dict(dir_ / "text.bin"); }),
              HasSubstr("neither a safetensors file nor a PyTorch checkpoint"));
  fs::create_directories(dir_ / "empty");
  EXPECT_THAT(error_of([&] { ckpt::read_state_dict(dir_ / "empty"); }), HasSubstr("neither a diffusers model folder"));
  EXPECT_THAT(error_of([&] { ckpt::read_state_dict(fixtures() / "checkpoint" / "legacy.pt"); }), HasSubstr("legacy"));
}

}  // namespace
