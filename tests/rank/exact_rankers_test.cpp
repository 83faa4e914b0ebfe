#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "guidance/priors/gaussian_mixture_prior.h"
#include "rank/colour_ranker.h"
#include "rank/template_ranker.h"

namespace dreamdpo::rank {
namespace {

at::Tensor template_image(const guidance::GaussianMixturePrior& prior, const std::string& caption) {
  for (const auto& c : prior.components()) {
    if (c.caption == caption) return (c.mean + 1) / 2;
  }
  throw std::runtime_error("no template " + caption);
}

TEST(TemplateRanker, PrefersTheClosestTarget) {
  const auto prior = guidance::make_shape_templates_prior(16, 0.05);
  TemplateRanker ranker({template_image(prior, "a red square"), template_image(prior, "a blue square")}, "square");
  const auto images = at::stack({template_image(prior, "a red square"), template_image(prior, "a red circle"),
                                 template_image(prior, "a blue square")});
  const auto scores = ranker.score(images, "red");
  EXPECT_FLOAT_EQ(scores[0].item<float>(), 0.0f);  // exactly a target
  EXPECT_FLOAT_EQ(scores[2].item<float>(), 0.0f);
  EXPECT_LT(scores[1].item<float>(), -0.01f);
  // Halfway between a circle and the square scores between them.
  const auto mid = 0.5 * (images[0] + images[1]);
  const float s = ranker.score(mid.unsqueeze(0), "").item<float>();
  EXPECT_LT(s, 0.0f);
  EXPECT_GT(s, scores[1].item<float>());
}

TEST(TemplateRanker, RejectsBadImages) {
  TemplateRanker ranker({at::ones({3, 8, 8})}, "x");
  EXPECT_THROW(ranker.score(at::ones({2, 1, 8, 8}), ""), Error);
  EXPECT_THROW(ranker.score(at::ones({2, 3, 4, 4}), ""), Error);
  EXPECT_THROW(ranker.score(at::ones({3, 8, 8}), ""), Error);
}

TEST(ColourRanker, ScoresTheFractionOfPixelsNearTheColour) {
  ColourRanker ranker({1.0, 0.0, 0.0});
  auto half_red = at::ones({1, 3, 4, 4});
  half_red.slice(3, 0, 2).select(1, 1).fill_(0);
  half_red.slice(3, 0, 2).select(1, 2).fill_(0);  // left half pure red, right half white
  const auto all_red = at::zeros({1, 3, 4, 4});
  all_red.select(1, 0).fill_(1);
  const auto scores = ranker.score(at::cat({all_red, half_red, at::ones({1, 3, 4, 4})}), "");
  EXPECT_NEAR(scores[0].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(scores[1].item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(scores[2].item<float>(), 0.0, 1e-6);
  EXPECT_THROW(ColourRanker({2.0, 0.0, 0.0}), Error);
}

}  // namespace
}  // namespace dreamdpo::rank
