// The judge-based check of the built-in diffusion model (shapeworld/diffusion_eval.h), with the
// shipped judge and stand-in samplers whose right answer is known: renders of the captioned
// scene must be judged about as well as the ground truth, blank images far worse (and their
// identical views always agree); the sampler gets canonical captions and one camera per view.
#include "shapeworld/diffusion_eval.h"

#include <gmock/gmock.h>
#include <cmath>
#include <iostream>
#include <gtest/gtest.h>

#include "guidance/priors/builtin_prior.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/renderer.h"
#include "shapeworld/training_data.h"
#include "test_helpers.h"

namespace dreamdpo::shapeworld {
namespace {

using testing_helpers::error_of;

class DiffusionJudgeEval : public testing::Test {
 protected:
  std::shared_ptr<models::Judge> judge_ = models::Judge::load(guidance::builtin_model_path("judge.safetensors"));
  DiffusionJudgeOptions options_ = [] {
    DiffusionJudgeOptions o;
    o.scenes = 32;
    o.chunk = 16;
    return o;
  }();
};

TEST_F(DiffusionJudgeEval, RendersOfTheCaptionScoreLikeGroundTruthAndBlankImagesDoNot) {
  int64_t calls = 0;
  core::Rng layout_rng(5);
  const MultiViewSampler render_caption = [&](const std::vector<std::string>& captions, const at::Tensor& c2w) {
    ++calls;
    EXPECT_EQ(c2w.size(0), static_cast<int64_t>(captions.size()) * options_.n_view);
    std::vector<at::Tensor> images;
    for (size_t i = 0; i < captions.size(); ++i) {
      const auto spec = parse_caption(captions[i]);
      EXPECT_EQ(canonical_caption(spec), captions[i]);
      const auto cams = c2w.slice(0, i * options_.n_view, (i + 1) * options_.n_view);
      const camera::CameraBatch batch{cams, at::full({options_.n_view}, 45.0 * M_PI / 180.0, cams.options())};
      images.push_back(
          render_scene(layout(spec, layout_rng), batch, 32, 32, BatchOptions::default_render()).rgb);
    }
    return at::cat(images);
  };
  core::Rng rng(11);
  const auto rendered = judge_samples(render_caption, *judge_, options_, rng, at::kCPU);
  EXPECT_EQ(calls, 2);  // 32 scenes in chunks of 16
  EXPECT_EQ(rendered.scenes, 32);
  std::cout << "caption renders: " << rendered.summary() << "\n";
  // The judge is far above chance (1 in 9) on clean renders; renders of the caption from other
  // layouts score within sampling noise of the ground truth.
  EXPECT_GT(rendered.reference_correct, 0.3);
  EXPECT_NEAR(rendered.judged_correct, rendered.reference_correct, 0.2);

  const MultiViewSampler blank = [](const std::vector<std::string>& captions, const at::Tensor& c2w) {
    return at::ones({c2w.size(0), 3, 32, 32});
  };
  core::Rng same(11);  // the same scenes, cameras and negatives
  const auto empty = judge_samples(blank, *judge_, options_, same, at::kCPU);
  std::cout << "blank images: " << empty.summary() << "\n";
  EXPECT_DOUBLE_EQ(empty.reference_correct, rendered.reference_correct);
  EXPECT_LT(empty.judged_correct, rendered.reference_correct - 0.2);
  EXPECT_DOUBLE_EQ(empty.view_agreement, 1.0);  // four identical views pick the same caption
}

TEST_F(DiffusionJudgeEval, ASamplerReturningTheWrongBatchIsAClearError) {
  const MultiViewSampler short_batch = [](const std::vector<std::string>& captions, const at::Tensor&) {
    return at::ones({static_cast<int64_t>(captions.size()), 3, 32, 32});
  };
  core::Rng rng(1);
  EXPECT_THAT(error_of([&] { judge_samples(short_batch, *judge_, options_, rng, at::kCPU); }),
              testing::HasSubstr("the sampler returned"));
}

}  // namespace
}  // namespace dreamdpo::shapeworld
