// Parity of our KL VAE with diffusers' AutoencoderKL on a small random configuration
// (tests/fixtures/make_vae_fixtures.py): per block and end to end, max relative error
// max|ours - reference| / max|reference| <= 1e-4 in float32; the ldm key table; the encoder's
// gradient; strict loading errors.
#include <ATen/core/grad_mode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/safetensors.h"
#include "models/module_io.h"
#include "models/sd/autoencoder_kl.h"
#include "models/sd/ldm_vae_keys.h"
#include "key_listing.h"
#include "test_helpers.h"

namespace {
namespace fs = std::filesystem;
namespace sd = dreamdpo::models::sd;
using dreamdpo::testing_helpers::error_of;
using ::testing::HasSubstr;

fs::path fixture_dir() { return fs::path(DREAMDPO_TEST_DATA_DIR).parent_path() / "fixtures" / "vae"; }

struct Fixture {
  std::map<std::string, at::Tensor> weights, tensors;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    f.tensors = dreamdpo::core::read_safetensors(fixture_dir() / "autoencoder_kl.safetensors").tensors;
    for (const auto& [name, t] : f.tensors) {
      if (name.rfind("input.", 0) != 0 && name.rfind("expected.", 0) != 0) f.weights[name] = t;
    }
    return f;
  }();
  return f;
}

sd::AutoencoderKLConfig small_config() {
  sd::AutoencoderKLConfig c;
  c.block_out_channels = {16, 32};
  c.layers_per_block = 1;
  c.norm_num_groups = 8;
  return c;
}

sd::AutoencoderKL loaded_vae() {
  sd::AutoencoderKL vae(small_config());
  dreamdpo::models::load_state(*vae, fixture().weights, "fixture");
  vae->eval();
  return vae;
}

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  EXPECT_EQ(got.sizes(), want.sizes());
  return (got - want).abs().max().item<double>() / std::max(want.abs().max().item<double>(), 1e-12);
}

// Runs the module at `path` of our tree on its recorded input.
at::Tensor run_block(sd::AutoencoderKL& vae, const std::string& path, const at::Tensor& input) {
  const auto module = vae->named_modules()[path];
  if (auto m = std::dynamic_pointer_cast<sd::VaeLevelImpl>(module)) return m->forward(input);
  if (auto m = std::dynamic_pointer_cast<sd::VaeMidBlockImpl>(module)) return m->forward(input);
  if (auto m = std::dynamic_pointer_cast<sd::VaeAttentionImpl>(module)) return m->forward(input);
  if (auto m = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(module)) return m->forward(input);
  ADD_FAILURE() << "no runnable module at " << path;
  return input;
}

TEST(SdVae, EveryBlockMatchesDiffusers) {
  auto vae = loaded_vae();
  at::NoGradGuard no_grad;
  int blocks = 0;
  for (const auto& [name, want] : fixture().tensors) {
    if (name.rfind("expected.", 0) != 0) continue;
    const std::string path = name.substr(9);
    if (path == "mean" || path == "logvar" || path == "decoded") continue;
    const auto error = relative_error(run_block(vae, path, fixture().tensors.at("input." + path)), want);
    EXPECT_LE(error, 1e-4) << path;
    std::printf("  %-34s max rel error %.2e\n", path.c_str(), error);
    ++blocks;
  }
  EXPECT_EQ(blocks, 12);
}

TEST(SdVae, EncodeAndDecodeMatchDiffusers) {
  auto vae = loaded_vae();
  at::NoGradGuard no_grad;
  const auto posterior = vae->encode(fixture().tensors.at("input.image"));
  const auto decoded = vae->decode(fixture().tensors.at("input.latent"));
  const double mean_error = relative_error(posterior.mean, fixture().tensors.at("expected.mean"));
  const double logvar_error = relative_error(posterior.logvar, fixture().tensors.at("expected.logvar"));
  const double decode_error = relative_error(decoded, fixture().tensors.at("expected.decoded"));
  std::printf("  mean %.2e, logvar %.2e, decoded %.2e (max rel error)\n", mean_error, logvar_error, decode_error);
  EXPECT_LE(mean_error, 1e-4);
  EXPECT_LE(logvar_error, 1e-4);
  EXPECT_LE(decode_error, 1e-4);
}

TEST(SdVae, EncoderPassesGradientsToTheImages) {
  auto vae = loaded_vae();
  auto images = fixture().tensors.at("input.image").clone().requires_grad_(true);
  vae->encode(images).mean.square().sum().backward();
  ASSERT_TRUE(images.grad().defined());
  EXPECT_TRUE(at::isfinite(images.grad()).all().item<bool>());
  EXPECT_GT(images.grad().abs().sum().item<double>(), 0.0);
  // Finite-difference check of one pixel's derivative.
  at::NoGradGuard no_grad;
  const double h = 1e-2;
  auto plus = images.detach().clone(), minus = images.detach().clone();
  plus[0][1][5][7] += h;
  minus[0][1][5][7] -= h;
  const double numeric = (vae->encode(plus).mean.square().sum().item<double>() -
                          vae->encode(minus).mean.square().sum().item<double>()) / (2 * h);
  EXPECT_NEAR(images.grad()[0][1][5][7].item<double>(), numeric, 1e-2 * std::max(1.0, std::abs(numeric)));
}

TEST(SdVae, LdmNamesMapOntoDiffusersNames) {
  const auto ldm = dreamdpo::core::read_safetensors(fixture_dir() / "autoencoder_kl_ldm.safetensors").tensors;
  const auto mapped = sd::ldm_vae_to_diffusers(ldm);
  ASSERT_EQ(mapped.size(), fixture().weights.size());
  for (const auto& [name, want] : fixture().weights) {
    ASSERT_TRUE(mapped.count(name)) << name << " not produced by the ldm table";
    EXPECT_TRUE(at::equal(mapped.at(name), want)) << name;
  }
  EXPECT_EQ(sd::ldm_vae_name_to_diffusers("decoder.up.0.block.2.nin_shortcut.weight", 4),
            "decoder.up_blocks.3.resnets.2.conv_shortcut.weight");
  EXPECT_EQ(sd::ldm_vae_name_to_diffusers("encoder.mid.attn_1.proj_out.bias", 4),
            "encoder.mid_block.attentions.0.to_out.0.bias");
  sd::AutoencoderKL vae(small_config());
  dreamdpo::models::load_state(*vae, mapped, "ldm fixture");  // strict: nothing missing or left over
}

// Key-name coverage at full scale: every first_stage_model tensor of the official SD 2.1 /
// MVDream files (names and shapes from the reference module tree, make_ldm_vae_names.py) maps
// onto our AutoencoderKL with SD's default config, nothing missing or left over.
TEST(SdVae, OfficialLdmNamesCoverOurSdVae) {
  std::map<std::string, at::Tensor> ldm;
  for (const auto& [name, shape] : dreamdpo::testing_helpers::read_key_listing(fixture_dir() / "ldm_sd21_first_stage_names.txt")) {
    ldm[name] = at::zeros({1}).expand(shape);  // shapes only: no memory
  }
  ASSERT_EQ(ldm.size(), 248u);
  ldm["model.diffusion_model.out.0.weight"] = at::zeros({1});  // other parts of the file are ignored
  const auto mapped = sd::ldm_vae_to_diffusers(ldm);
  sd::AutoencoderKL vae;  // SD defaults: 128, 256, 512, 512; 2 resnets per level
  std::map<std::string, std::vector<std::int64_t>> ours, theirs;
  for (const auto& item : vae->named_parameters()) ours[item.key()] = item.value().sizes().vec();
  for (const auto& [name, t] : mapped) theirs[name] = t.sizes().vec();
  EXPECT_EQ(ours, theirs);
}

TEST(SdVae, StrictLoadNamesWhatIsWrong) {
  auto weights = fixture().weights;
  weights.erase("decoder.up_blocks.1.resnets.0.conv_shortcut.weight");
  weights["encoder.extra.weight"] = at::zeros({1});
  weights["quant_conv.bias"] = at::zeros({3});
  sd::AutoencoderKL vae(small_config());
  const auto message = error_of([&] { dreamdpo::models::load_state(*vae, weights, "vae.safetensors"); });
  EXPECT_THAT(message, HasSubstr("missing decoder.up_blocks.1.resnets.0.conv_shortcut.weight"));
  EXPECT_THAT(message, HasSubstr("unexpected encoder.extra.weight"));
  EXPECT_THAT(message, HasSubstr("quant_conv.bias"));
  // An ldm tensor the table does not know keeps its name, so the strict load names it.
  auto ldm = dreamdpo::core::read_safetensors(fixture_dir() / "autoencoder_kl_ldm.safetensors").tensors;
  ldm["first_stage_model.loss.logvar"] = at::zeros({});
  ldm["first_stage_model.encoder.mid.attn_1.q.weight"] = at::zeros({32, 32, 3, 3});
  EXPECT_THAT(error_of([&] { sd::ldm_vae_to_diffusers(ldm); }), HasSubstr("encoder.mid.attn_1.q.weight"));
  ldm.erase("first_stage_model.encoder.mid.attn_1.q.weight");
  EXPECT_THAT(error_of([&] { dreamdpo::models::load_state(*vae, sd::ldm_vae_to_diffusers(ldm), "sd.ckpt"); }),
              HasSubstr("unexpected loss.logvar"));
}

class SdVaeConfig : public dreamdpo::testing_helpers::TempDirTest {};

TEST_F(SdVaeConfig, FromShapesAndFromDiffusersJson) {
  const auto inferred = sd::infer_autoencoder_kl_config(fixture().weights);
  EXPECT_EQ(inferred.block_out_channels, (std::vector<std::int64_t>{16, 32}));
  EXPECT_EQ(inferred.layers_per_block, 1);
  EXPECT_EQ(inferred.latent_channels, 4);
  EXPECT_TRUE(inferred.mid_block_add_attention);

  const auto& dir = dir_;
  // Stable Diffusion 2.1's vae/config.json.
  std::ofstream(dir / "config.json") << R"({"_class_name": "AutoencoderKL", "_diffusers_version": "0.8.0",
    "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
    "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
    "sample_size": 768, "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]})";
  const auto config = sd::read_autoencoder_kl_config(dir / "config.json");
  EXPECT_EQ(config.block_out_channels, (std::vector<std::int64_t>{128, 256, 512, 512}));
  EXPECT_EQ(config.layers_per_block, 2);
  EXPECT_DOUBLE_EQ(config.scaling_factor, 0.18215);
  std::ofstream(dir / "bad.json") << R"({"block_out_channels": [8], "down_block_types": ["AttnDownEncoderBlock2D"]})";
  EXPECT_THAT(error_of([&] { sd::read_autoencoder_kl_config(dir / "bad.json"); }), HasSubstr("AttnDownEncoderBlock2D"));
}

}  // namespace
