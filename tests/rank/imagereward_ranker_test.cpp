// The imagereward ranker on the small parity model: built through the ranker registry from a
// config, it scores images as the model does, and every bad file is a clear error at build time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "../models/blip_fixture.h"
#include "core/safetensors.h"
#include "generate/components.h"
#include "guidance/priors/gaussian_mixture_prior.h"
#include "models/blip/image_reward_preprocess.h"
#include "rank/imagereward_ranker.h"
#include "test_helpers.h"

namespace dreamdpo::rank {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_helpers::error_of;

class ImageRewardRankerTest : public testing_helpers::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::map<std::string, at::Tensor> state;
    for (const auto& [file, prefix] : std::map<std::string, std::string>{
             {"vit.safetensors", "blip.visual_encoder."}, {"bert.safetensors", "blip.text_encoder."}, {"reward.safetensors", ""}}) {
      for (auto& [k, v] : testing_helpers::prefixed(testing_helpers::read_blip_fixture(file).weights, prefix)) state[k] = v;
    }
    state["blip.vision_proj.weight"] = at::zeros({4, 64});
    config_.checkpoint = (dir_ / "ImageReward.safetensors").string();
    core::write_safetensors(config_.checkpoint, state);
    config_.med_config = (dir_ / "med_config.json").string();
    fs::copy_file(testing_helpers::kImageRewardFixtures / "med_config.json", config_.med_config);
    config_.vocab = (dir_ / "vocab.txt").string();
    std::ofstream(config_.vocab) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nred\nblue\ncube\nsphere\non\ntop\nof\n";
    config_.vision_heads = 4;
  }
  ImageRewardConfig config_;
};

TEST_F(ImageRewardRankerTest, ScoresAsTheModelDoesThroughTheRegistry) {
  RankerConfig options;
  options.imagereward = config_;
  auto ranker = generate::make_ranker("imagereward", options, nullptr);  // needs no prior
  EXPECT_EQ(ranker->name(), "imagereward");
  at::manual_seed(3);
  const auto images = at::rand({3, 3, 48, 40});
  const auto scores = ranker->score(images, "a red cube on top of a blue sphere");
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{3}));

  auto& ir = dynamic_cast<ImageRewardRanker&>(*ranker);
  EXPECT_EQ(ir.model().config().vision.image_size, 32);  // read off the checkpoint
  EXPECT_EQ(ir.model().config().vision.layers, 2);
  const auto text = ir.tokenizer().encode("a red cube on top of a blue sphere", 35);
  EXPECT_EQ(text.input_ids[0][1].item<int64_t>(), 5);  // "a" after [CLS]
  at::NoGradGuard no_grad;
  const auto expected = ir.model().normalise(
      ir.model().raw_score(models::blip::image_reward_preprocess(images, 32), text.input_ids, text.attention_mask));
  EXPECT_TRUE(at::allclose(scores, expected, 1e-5, 1e-6));
  // Per image: scoring one image alone gives its score in the batch; the prompt matters.
  EXPECT_NEAR(ranker->score(images.slice(0, 2, 3), "a red cube on top of a blue sphere")[0].item<float>(),
              scores[2].item<float>(), 1e-4);
  EXPECT_FALSE(at::allclose(ranker->score(images, "a blue cube"), scores));
  EXPECT_THAT(error_of([&] { ranker->score(at::rand({1, 4, 8, 8}), "a"); }), HasSubstr("imagereward ranker"));
}

TEST_F(ImageRewardRankerTest, BadFilesFailBeforeAnyWork) {
  auto c = config_;
  c.checkpoint = "";
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("needs ranker.imagereward.checkpoint"));
  c = config_;
  c.vocab = (dir_ / "missing.txt").string();
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("ranker.imagereward.vocab: no such file"));
  c = config_;
  c.checkpoint = (dir_ / "ImageReward.pt").string();
  std::ofstream(c.checkpoint) << "PK";  // a damaged PyTorch zip: the reader's error names the file
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("ImageReward.pt"));
  c = config_;
  c.checkpoint = (dir_ / "hps.safetensors").string();
  core::write_safetensors(c.checkpoint, {{"visual.conv1.weight", at::zeros({2, 3, 4, 4})}});
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("not an ImageReward checkpoint"));
  c = config_;
  c.med_config = (dir_ / "bad.json").string();
  std::ofstream(c.med_config) << "{\"hidden_size\": 64";
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("is not valid JSON"));
  c = config_;
  c.vocab = (dir_ / "big.txt").string();
  {
    std::ofstream big(c.vocab);
    big << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";
    for (int i = 0; i < 300; ++i) big << "w" << i << "\n";
  }
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("does not belong to this model"));
  c = config_;
  c.vision_heads = 5;
  EXPECT_THAT(error_of([&] { ImageRewardRanker r(c); }), HasSubstr("into 5 heads"));
}

}  // namespace
}  // namespace dreamdpo::rank
