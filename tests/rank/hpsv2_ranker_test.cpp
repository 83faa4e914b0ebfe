// The HPSv2 ranker against DreamDPO's HPSv2 reward on the small random open_clip model of the
// fixtures (tests/fixtures/make_clip_fixtures.py): preprocessing and scores; loading from files;
// clear errors for missing files.
#include <ATen/core/grad_mode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "generate/components.h"
#include "models/clip/image_preprocess.h"
#include "models/clip_fixture.h"
#include "rank/hpsv2_ranker.h"
#include "test_helpers.h"

namespace dreamdpo {
namespace {

namespace fs = std::filesystem;
using clip_testing::fixture;
using clip_testing::max_rel_error;
using testing_helpers::error_of;

TEST(Hpsv2Ranker, PreprocessMatchesDreamDpo) {
  auto f = fixture("hpsv2");
  const auto pre = models::clip::clip_preprocess(f.tensors.at("input.hps_images"), 28);
  EXPECT_LE(max_rel_error(pre, f.tensors.at("expected.hps_preprocessed"), "HPSv2 preprocess 40->28"), 1e-4);
  EXPECT_EQ((models::clip::shorter_side_size(256, 512, 224)), (std::array<int64_t, 2>{224, 448}));
  EXPECT_EQ((models::clip::shorter_side_size(300, 200, 224)), (std::array<int64_t, 2>{336, 224}));
}

TEST(Hpsv2Ranker, ScoresMatchDreamDpo) {
  auto f = fixture("hpsv2");
  rank::Hpsv2Ranker ranker(clip_testing::fixture_model(),
                           models::clip::ClipBpeTokenizer::from_path(clip_testing::fixture_dir() / "hf_tokenizer"));
  const auto& expected = f.tensors.at("expected.hps_score");
  const auto scores = ranker.score_ids(f.tensors.at("input.hps_images"), f.tensors.at("input.hps_text_ids"));
  EXPECT_LE(max_rel_error(scores, expected, "HPSv2 score"), 1e-4);
  // The scores differ between images, so a constant or mis-ordered result would fail.
  EXPECT_GT((expected.max() - expected.min()).item<double>(), 1e-3);
}

TEST(Hpsv2Ranker, DtypeIsCheckedAndHalfPrecisionNeedsCuda) {
  auto tokenizer = models::clip::ClipBpeTokenizer::from_path(clip_testing::fixture_dir() / "hf_tokenizer");
  EXPECT_THAT(error_of([&] { rank::Hpsv2Ranker r(clip_testing::fixture_model(), tokenizer, "fp8"); }),
              testing::HasSubstr("ranker.hpsv2.dtype must be auto, fp32, fp16 or bf16, got 'fp8'"));
  rank::Hpsv2Ranker half(clip_testing::fixture_model(), tokenizer, "fp16");
  auto f = fixture("hpsv2");
  EXPECT_THAT(error_of([&] { half.score_ids(f.tensors.at("input.hps_images"), f.tensors.at("input.hps_text_ids")); }),
              testing::HasSubstr("ranker.hpsv2.dtype=fp16 needs --device cuda"));
}

// On CUDA, "auto" runs the towers in fp16; fp16 and bf16 scores stay close to float32's.
TEST(Hpsv2RankerCuda, HalfAndBfloat16ScoresFollowFloat32) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto f = fixture("hpsv2");
  const auto images = f.tensors.at("input.hps_images").cuda();
  const auto ids = f.tensors.at("input.hps_text_ids");
  auto tokenizer = models::clip::ClipBpeTokenizer::from_path(clip_testing::fixture_dir() / "hf_tokenizer");
  rank::Hpsv2Ranker full(clip_testing::fixture_model(), tokenizer, "fp32");
  const auto expected = full.score_ids(images, ids);
  EXPECT_LE(max_rel_error(expected.cpu(), f.tensors.at("expected.hps_score"), "HPSv2 score fp32 CUDA"), 1e-4);
  for (const char* dtype : {"auto", "fp16", "bf16"}) {
    rank::Hpsv2Ranker ranker(clip_testing::fixture_model(), tokenizer, dtype);
    const auto scores = ranker.score_ids(images, ids);
    EXPECT_EQ(scores.scalar_type(), at::kFloat);
    EXPECT_LE((scores - expected).abs().max().item<double>(), std::string(dtype) == "bf16" ? 3e-2 : 5e-3) << dtype;
  }
}

// A vocabulary small enough for the fixture model (1000 ids): the 512 byte symbols, one merge and
// the two special tokens, written in the Hugging Face layout.
void write_small_tokenizer(const fs::path& dir) {
  std::ifstream in(clip_testing::fixture_dir() / "hf_tokenizer" / "vocab.json");
  const auto full = nlohmann::json::parse(in);
  nlohmann::json vocab;
  for (const auto& [token, id] : full.items())
    if (id.get<int64_t>() < 512) vocab[token] = id;
  vocab["in</w>"] = 512;
  vocab["<|startoftext|>"] = 513;
  vocab["<|endoftext|>"] = 514;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << "#version: 0.2\ni n</w>\n";
}

class Hpsv2RankerFiles : public testing_helpers::TempDirTest {};

TEST_F(Hpsv2RankerFiles, LoadsCheckpointConfigAndTokenizerFromFiles) {
  core::write_safetensors(dir_ / "hps.safetensors", clip_testing::fixture_weights());
  std::ofstream(dir_ / "model.json") << fixture("vision_tower").metadata.at("config");
  write_small_tokenizer(dir_);
  rank::Hpsv2Config config;
  config.checkpoint = (dir_ / "hps.safetensors").string();
  config.tokenizer = dir_.string();
  config.model_config = (dir_ / "model.json").string();
  rank::Hpsv2Ranker ranker(config);
  EXPECT_EQ(ranker.name(), "hpsv2");
  auto f = fixture("hpsv2");
  const auto& images = f.tensors.at("input.hps_images");
  const auto scores = ranker.score(images, "in in");
  ASSERT_EQ(scores.sizes(), (at::IntArrayRef{4}));
  const auto tok = models::clip::ClipBpeTokenizer::from_path(dir_);
  const auto ids = tok.tokenize({"in in"});
  EXPECT_EQ(ids[0][1].item<int64_t>(), 512);  // the merge applied
  EXPECT_TRUE(at::allclose(scores, ranker.score_ids(images, ids.repeat({4, 1})), 1e-5, 1e-6));
  EXPECT_LE(scores.abs().max().item<double>(), 1.0 + 1e-5);  // cosines
}

TEST_F(Hpsv2RankerFiles, MissingFilesAndWrongCheckpointsAreClearErrors) {
  rank::Hpsv2Config config;
  EXPECT_NE(error_of([&] { rank::Hpsv2Ranker r(config); }).find("ranker.hpsv2.checkpoint"), std::string::npos);
  config.checkpoint = (dir_ / "HPS_v2_compressed.pt").string();
  const auto missing = error_of([&] { rank::Hpsv2Ranker r(config); });
  EXPECT_NE(missing.find("HPS_v2_compressed.pt does not exist"), std::string::npos) << missing;
  // A checkpoint of another model: the error names what does not fit.
  core::write_safetensors(dir_ / "other.safetensors", {{"model.diffusion_model.out.0.weight", at::zeros({4})}});
  write_small_tokenizer(dir_);
  config.checkpoint = (dir_ / "other.safetensors").string();
  config.tokenizer = dir_.string();
  config.model_config = (dir_ / "nope.json").string();
  EXPECT_NE(error_of([&] { rank::Hpsv2Ranker r(config); }).find("nope.json does not exist"), std::string::npos);
  std::ofstream(dir_ / "model.json") << fixture("vision_tower").metadata.at("config");
  config.model_config = (dir_ / "model.json").string();
  const auto wrong = error_of([&] { rank::Hpsv2Ranker r(config); });
  EXPECT_NE(wrong.find("unexpected model.diffusion_model.out.0.weight"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("missing"), std::string::npos) << wrong;
  config.tokenizer = (dir_ / "absent_vocab.txt.gz").string();
  EXPECT_NE(error_of([&] { rank::Hpsv2Ranker r(config); }).find("ranker.hpsv2.tokenizer"), std::string::npos);
}

TEST(Hpsv2Ranker, IsRegistered) {
  const auto names = generate::ranker_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "hpsv2"), names.end());
}

}  // namespace
}  // namespace dreamdpo
