// The MVDream / SD2.1 prior on a TINY random stack (UNet, VAE, text tower) written as an ldm
// single file and as a diffusers-like pipeline folder: both load to the same predictions, the
// text conditioning is the stored tower's penultimate layer, encode's gradient matches finite
// differences, errors come before any work and name what is wrong, and `dreamdpo generate
// --preset mvdream` runs end to end on the CPU. Plus MVDream's camera conversion against a
// hand-computed case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/core/grad_mode.h>

#include <fstream>
#include <sstream>

#include "camera/mvdream_camera.h"
#include "camera/orbit.h"
#include "core/safetensors.h"
#include "guidance/priors/stable_diffusion_prior.h"
#include "models/module_io.h"
#include "models/sd/ldm_unet_keys.h"
#include "models/sd/ldm_vae_keys.h"
#include "models/sd/text_encoder_keys.h"
#include "test_helpers.h"

namespace {

namespace fs = std::filesystem;
using namespace dreamdpo;
using ::testing::HasSubstr;
using testing_helpers::error_of;
using TensorMap = std::map<std::string, at::Tensor>;

const fs::path kSource = DREAMDPO_SOURCE_DIR;
const fs::path kVaeLdm = kSource / "tests/fixtures/vae/autoencoder_kl_ldm.safetensors";  // 16,32 channels, 1 layer, 8 groups
const fs::path kBpe = kSource / "tests/fixtures/clip/bpe_simple_vocab_first2000.txt.gz";
const fs::path kHfTokenizer = kSource / "tests/fixtures/clip/hf_tokenizer";

// Matches the JSON written by write_architecture.
guidance::StableDiffusionArchitecture tiny_architecture() {
  auto a = guidance::StableDiffusionArchitecture::preset("mvdream");
  a.unet.block_out_channels = {32, 32};
  a.unet.cross_attention = {true, false};
  a.unet.layers_per_block = 1;
  a.unet.attention_heads = {2, 2};
  a.unet.cross_attention_dim = 32;
  // 8 groups of 4 channels: with one channel per group, GroupNorm would erase the per-channel
  // time + camera embedding and the cameras could not matter.
  a.unet.norm_num_groups = 8;
  a.vae.block_out_channels = {16, 32};
  a.vae.layers_per_block = 1;
  a.vae.norm_num_groups = 8;
  a.text.width = 32;
  a.text.heads = 2;
  a.text.layers = 3;  // stored; SD2 runs the first 2
  return a;
}

const char* kTinyJson = R"({
  "num_frames": 4,
  "unet": {"block_out_channels": [32, 32], "cross_attention": [true, false], "layers_per_block": 1,
           "attention_heads": [2, 2], "cross_attention_dim": 32, "norm_num_groups": 8},
  "vae": {"block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 8},
  "text": {"width": 32, "heads": 2, "layers": 3}
})";

void randomise(torch::nn::Module& module) {
  at::NoGradGuard no_grad;
  for (auto& p : module.parameters()) p.copy_(at::randn(p.sizes()) * 0.2);
}

TensorMap state_of(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters()) out.emplace(item.key(), item.value().detach().clone());
  return out;
}

void write_safetensors(const fs::path& path, const TensorMap& tensors) {
  fs::create_directories(path.parent_path());
  core::write_safetensors(path, tensors);
}

// One random tiny stack, kept as modules (the reference) and written in both layouts.
struct TinyStack {
  guidance::StableDiffusionArchitecture arch = tiny_architecture();
  std::shared_ptr<models::sd::UNet2DCondition> unet;
  models::clip::ClipTextTransformer text{nullptr};  // as stored (3 blocks)
  TensorMap vae_ours;                               // diffusers names
  TensorMap ldm;

  explicit TinyStack(uint64_t seed) {
    at::manual_seed(seed);
    unet = std::make_shared<models::sd::UNet2DCondition>(arch.unet);
    randomise(*unet);
    text = models::clip::ClipTextTransformer(arch.text, 0);
    randomise(*text);
    const auto vae_ldm = core::read_safetensors(kVaeLdm).tensors;
    vae_ours = models::sd::ldm_vae_to_diffusers(vae_ldm);
    ldm = models::sd::ours_to_ldm_unet(state_of(*unet), arch.unet);
    for (const auto& [name, t] : vae_ldm) ldm.emplace(name, t);
    for (const auto& [name, t] : models::sd::ours_to_open_clip_text(state_of(*text))) ldm.emplace(name, t);
    ldm.emplace("cond_stage_model.model.text_projection", at::randn({32, 32}));
    ldm.emplace("cond_stage_model.model.logit_scale", at::ones({}));
  }

  fs::path write_ldm(const fs::path& path, const std::function<void(TensorMap&)>& edit = {}) const {
    auto tensors = ldm;
    if (edit) edit(tensors);
    write_safetensors(path, tensors);
    return path;
  }

  // unet/ vae/ text_encoder/ tokenizer/ as a diffusers pipeline folder (text encoder: the 2 used blocks).
  fs::path write_folder(const fs::path& dir) const {
    write_safetensors(dir / "unet" / "diffusion_pytorch_model.safetensors", state_of(*unet));
    write_safetensors(dir / "vae" / "diffusion_pytorch_model.safetensors", vae_ours);
    TensorMap used;
    for (const auto& [name, t] : state_of(*text)) {
      if (name.find("resblocks.2.") == std::string::npos) used.emplace(name, t);
    }
    write_safetensors(dir / "text_encoder" / "model.safetensors", models::sd::ours_to_hf_clip_text(used));
    fs::create_directories(dir / "tokenizer");
    for (const auto& entry : fs::directory_iterator(kHfTokenizer)) fs::copy_file(entry.path(), dir / "tokenizer" / entry.path().filename());
    std::ofstream(dir / "model_index.json") << "{}";
    return dir;
  }
};

guidance::StableDiffusionPriorOptions options_for(const fs::path& checkpoint, const fs::path& tokenizer) {
  guidance::StableDiffusionPriorOptions o;
  o.name = "mvdream";
  o.checkpoint = checkpoint;
  o.tokenizer = tokenizer;
  o.architecture = tiny_architecture();
  o.image_size = 16;
  o.dtype = "auto";
  o.negative_prompt = "blurry";
  return o;
}

class StableDiffusionPriorTest : public testing_helpers::TempDirTest {};

TEST(MvdreamCamera, MatchesAHandComputedCase) {
  // MVDream's create_camera_to_world_matrix(elevation 30, azimuth 90) in its y-up world, here at
  // distance 3: position (3cos30, 3sin30, 0); columns right (0,0,-1), up (-1/2, cos30, 0), back (cos30, 1/2, 0).
  const double c = std::cos(M_PI / 6);
  const auto c2w = at::tensor({0.0, -0.5, c, 3 * c,  //
                               0.0, c, 0.5, 1.5,     //
                               -1.0, 0.0, 0.0, 0.0,  //
                               0.0, 0.0, 0.0, 1.0},
                              at::kFloat)
                       .reshape({1, 4, 4});
  // convert_opengl_to_blender: rows (x, -z, y); normalize_camera: translation onto the unit sphere.
  const auto expected = at::tensor({0.0, -0.5, c, c,     //
                                    1.0, 0.0, 0.0, 0.0,  //
                                    0.0, c, 0.5, 0.5,    //
                                    0.0, 0.0, 0.0, 1.0},
                                   at::kFloat)
                            .reshape({1, 16});
  const auto got = camera::mvdream_camera(c2w);
  EXPECT_EQ(got.sizes(), (std::vector<int64_t>{1, 16}));
  EXPECT_TRUE(at::allclose(got, expected, 1e-6, 1e-6)) << got;
  // Our front camera (azimuth 0, elevation 0, on +z) is MVDream's get_camera(elevation=0)[0].
  const auto front = camera::fixed_orbit(1, 0.0, 2.0, 40.0).c2w;
  const auto mv_front = at::tensor({1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0},
                                   at::kFloat)
                            .reshape({1, 16});
  EXPECT_TRUE(at::allclose(camera::mvdream_camera(front), mv_front, 1e-6, 1e-6)) << camera::mvdream_camera(front);
  EXPECT_NE(error_of([] { camera::mvdream_camera(at::zeros({2, 3, 4})); }).find("c2w [N,4,4]"), std::string::npos);
}

TEST_F(StableDiffusionPriorTest, LdmFileAndDiffusersFolderGiveTheSamePredictions) {
  TinyStack stack(7);
  guidance::StableDiffusionPrior from_ldm(options_for(stack.write_ldm(dir_ / "tiny.safetensors"), kBpe), at::kCPU);
  guidance::StableDiffusionPrior from_folder(options_for(stack.write_folder(dir_ / "pipe"), kBpe), at::kCPU);
  EXPECT_EQ(from_ldm.source_layout(), "ldm single file");
  EXPECT_EQ(from_folder.source_layout(), "diffusers folder");
  EXPECT_EQ(from_ldm.dtype(), at::kFloat);  // auto on the CPU
  EXPECT_EQ(from_ldm.views_per_sample(), 4);

  const auto text = from_ldm.encode_prompt("a cat");
  const auto text_folder = from_folder.encode_prompt("a cat");
  ASSERT_EQ(text.cond.sizes(), (std::vector<int64_t>{1, 77, 32}));
  EXPECT_TRUE(at::allclose(text.cond, text_folder.cond, 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(text.uncond, text_folder.uncond, 1e-6, 1e-6));
  // cond = the stored 3-block tower's penultimate layer (+ ln_final); uncond = the negative prompt.
  const auto tokenizer = models::clip::ClipBpeTokenizer::from_path(kBpe);
  const auto reference = stack.text->hidden_states(tokenizer.tokenize({"a cat", "blurry"}),
                                                   models::clip::ClipTextLayer::kPenultimate);
  EXPECT_TRUE(at::allclose(text.cond, reference.slice(0, 0, 1), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(text.uncond, reference.slice(0, 1, 2), 1e-5, 1e-5));

  at::manual_seed(3);
  const auto z_t = at::randn({4, 4, 8, 8});
  const auto t = at::full({4}, 500, at::kLong);
  const auto cameras = camera::fixed_orbit(4, 15.0, 2.5, 40.0);
  const auto embedding = text.cond.expand({4, 77, 32});
  const auto eps = from_ldm.predict_noise(z_t, t, embedding, cameras);
  const auto eps_folder = from_folder.predict_noise(z_t, t, embedding, cameras);
  ASSERT_EQ(eps.sizes(), z_t.sizes());
  EXPECT_TRUE(at::allclose(eps, eps_folder, 1e-5, 1e-5)) << (eps - eps_folder).abs().max();
  // ... and equal the written UNet called with MVDream's cameras, 4 frames.
  const auto direct = stack.unet->forward(z_t, t, embedding, camera::mvdream_camera(cameras.c2w), 4);
  EXPECT_TRUE(at::allclose(eps, direct, 1e-5, 1e-5));
  // The cameras matter.
  const auto turned = from_ldm.predict_noise(z_t, t, embedding, camera::fixed_orbit(4, 15.0, 2.5, 40.0, 33.0));
  EXPECT_GT((turned - eps).abs().max().item<double>(), 1e-3 * eps.abs().max().item<double>());

  // decode(encode(x)) has the image shape and range; a pipeline's tokenizer/ is found by itself.
  const auto images = at::rand({4, 3, 32, 32});  // resized to 16
  const auto z = from_ldm.encode(images);
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{4, 4, 8, 8}));
  const auto decoded = from_ldm.decode(z);
  EXPECT_EQ(decoded.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
  EXPECT_GE(decoded.min().item<double>(), 0.0);
  EXPECT_LE(decoded.max().item<double>(), 1.0);
  guidance::StableDiffusionPrior own_tokenizer(options_for(dir_ / "pipe", ""), at::kCPU);
  EXPECT_TRUE(at::allclose(own_tokenizer.encode_prompt("a cat").cond, text.cond, 1e-6, 1e-6));
  // Batches must be whole objects of 4 views, with cameras.
  EXPECT_THAT(error_of([&] { from_ldm.predict_noise(z_t.slice(0, 0, 3), t.slice(0, 0, 3), embedding.slice(0, 0, 3), std::nullopt); }),
              HasSubstr("not a multiple of 4"));
  EXPECT_THAT(error_of([&] { from_ldm.predict_noise(z_t, t, embedding, std::nullopt); }), HasSubstr("needs one camera per view"));
}

TEST_F(StableDiffusionPriorTest, EncodeGradientMatchesFiniteDifferences) {
  const TinyStack stack(11);
  guidance::StableDiffusionPrior prior(options_for(stack.write_ldm(dir_ / "tiny.safetensors"), kBpe), at::kCPU);
  at::manual_seed(5);
  const auto images = at::rand({1, 3, 16, 16}, at::kDouble);  // the gradient comes back in the images' dtype
  const auto weights = at::randn({1, 4, 8, 8}, at::kDouble);
  auto loss_of = [&](const at::Tensor& x) { return (prior.encode(x) * weights).sum(); };
  auto x = images.clone().requires_grad_(true);
  loss_of(x).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().scalar_type(), at::kDouble);
  at::NoGradGuard no_grad;
  const std::vector<std::array<int64_t, 3>> pixels = {{0, 3, 4}, {1, 8, 8}, {2, 15, 0}, {0, 10, 13}};
  for (const auto& [c, h, w] : pixels) {
    const double eps = 1e-2;
    auto plus = images.clone(), minus = images.clone();
    plus[0][c][h][w] += eps;
    minus[0][c][h][w] -= eps;
    const double numeric = (loss_of(plus).item<double>() - loss_of(minus).item<double>()) / (2 * eps);
    const double analytic = x.grad()[0][c][h][w].item<double>();
    EXPECT_NEAR(analytic, numeric, 2e-2 * std::max(1.0, std::abs(numeric))) << c << "," << h << "," << w;
  }
}

TEST_F(StableDiffusionPriorTest, ErrorsNameWhatIsWrongBeforeAnyWork) {
  const TinyStack stack(13);
  const auto good = stack.write_ldm(dir_ / "tiny.safetensors");
  auto make = [](guidance::StableDiffusionPriorOptions o) { guidance::StableDiffusionPrior prior(o, at::kCPU); };
  // A missing tensor is named.
  const auto broken = stack.write_ldm(dir_ / "broken.safetensors", [](TensorMap& t) {
    t.erase("model.diffusion_model.input_blocks.1.0.in_layers.0.weight");
  });
  EXPECT_THAT(error_of([&] { make(options_for(broken, kBpe)); }), HasSubstr("input_blocks.1.0.in_layers.0.weight"));
  // A mis-shaped text tensor is named.
  const auto misshaped = stack.write_ldm(dir_ / "misshaped.safetensors", [](TensorMap& t) {
    t["cond_stage_model.model.ln_final.weight"] = at::ones({31});
  });
  EXPECT_THAT(error_of([&] { make(options_for(misshaped, kBpe)); }), HasSubstr("ln_final.weight"));
  // Wrong kinds: a VAE file; an SD file (no camera embedding) for MVDream; MVDream for sd21.
  EXPECT_THAT(error_of([&] { make(options_for(kVaeLdm, kBpe)); }),
              HasSubstr("is in no layout we know, not MVDream's sd-v2.1-base-4view.pt"));
  const auto vae_only = dir_ / "vae.safetensors";
  write_safetensors(vae_only, stack.vae_ours);
  EXPECT_THAT(error_of([&] { make(options_for(vae_only, kBpe)); }), HasSubstr("is a diffusers VAE"));
  const auto sd = stack.write_ldm(dir_ / "sd.safetensors", [](TensorMap& t) {
    for (auto it = t.begin(); it != t.end();) it = it->first.find("camera_embed") != std::string::npos ? t.erase(it) : std::next(it);
  });
  EXPECT_THAT(error_of([&] { make(options_for(sd, kBpe)); }), HasSubstr("use --preset sd21"));
  auto as_sd21 = options_for(good, kBpe);
  as_sd21.name = "sd21";
  EXPECT_THAT(error_of([&] { make(as_sd21); }), HasSubstr("use --preset mvdream"));
  // Missing files and tokenizer; impossible sizes and dtypes.
  EXPECT_THAT(error_of([&] { make(options_for("", kBpe)); }), HasSubstr("prior.checkpoint is not set"));
  EXPECT_THAT(error_of([&] { make(options_for(dir_ / "nope.pt", kBpe)); }), HasSubstr("does not exist"));
  EXPECT_THAT(error_of([&] { make(options_for(good, "")); }), HasSubstr("prior.tokenizer is not set"));
  EXPECT_THAT(error_of([&] { make(options_for(good, dir_ / "bpe.txt.gz")); }), HasSubstr("does not exist"));
  auto odd_size = options_for(good, kBpe);
  odd_size.image_size = 18;
  EXPECT_THAT(error_of([&] { make(odd_size); }), HasSubstr("must be a multiple of 4"));
  auto half = options_for(good, kBpe);
  half.dtype = "fp16";
  EXPECT_THAT(error_of([&] { make(half); }), HasSubstr("needs --device cuda"));
}

TEST_F(StableDiffusionPriorTest, ArchitectureJsonOverridesThePreset) {
  std::ofstream(dir_ / "tiny.json") << kTinyJson;
  auto a = guidance::StableDiffusionArchitecture::preset("mvdream");
  a.override_from_json(dir_ / "tiny.json");
  const auto want = tiny_architecture();
  EXPECT_EQ(a.unet.block_out_channels, want.unet.block_out_channels);
  EXPECT_EQ(a.unet.attention_heads, want.unet.attention_heads);
  EXPECT_EQ(a.unet.camera_dim, 16);  // kept from the preset
  EXPECT_EQ(a.vae.norm_num_groups, 8);
  EXPECT_EQ(a.text.layers, 3);
  EXPECT_EQ(a.text_used_layers(), 2);
  std::ofstream(dir_ / "bad.json") << R"({"unet": {"block_out_channel": [8]}})";
  EXPECT_THAT(error_of([&] { a.override_from_json(dir_ / "bad.json"); }), HasSubstr("unknown key 'block_out_channel'"));
  EXPECT_EQ(guidance::StableDiffusionArchitecture::preset("sd21").unet.camera_dim, 0);
  EXPECT_EQ(guidance::StableDiffusionArchitecture::preset("sd21").num_frames, 1);
}

TEST_F(StableDiffusionPriorTest, GenerateWithThePresetRunsEndToEnd) {
  const TinyStack stack(17);
  const auto checkpoint = stack.write_ldm(dir_ / "tiny.safetensors");
  std::ofstream(dir_ / "tiny.json") << kTinyJson;
  const auto out = dir_ / "run";
  const std::string command =
      std::string(DREAMDPO_BINARY) + " --threads 1 generate \"a cat\" --preset mvdream --steps 2 --device cpu" +
      " --ranker colour -o " + out.string() + " --set prior.checkpoint=" + checkpoint.string() +
      " --set prior.tokenizer=" + kBpe.string() + " --set prior.architecture=" + (dir_ / "tiny.json").string() +
      " --set prior.image_size=16 --set render.sizes=[16] --set render.milestones=[] --set render.validation_size=16" +
      " --set gaussians.count=300 --set output.mesh=false --set output.turntable_frames=2" +
      " --set output.validate_every=0 --set output.checkpoint_every=0 > " + (dir_ / "log.txt").string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log(dir_ / "log.txt");
  std::stringstream text;
  text << log.rdbuf();
  ASSERT_EQ(status, 0) << text.str();
  EXPECT_TRUE(fs::exists(out / "run.json"));
  EXPECT_TRUE(fs::exists(out / "model.ply"));
  EXPECT_TRUE(fs::exists(out / "metrics.csv"));
  std::ifstream run_json(out / "run.json");
  std::stringstream run;
  run << run_json.rdbuf();
  EXPECT_THAT(run.str(), HasSubstr("\"mvdream\""));
}

}  // namespace
