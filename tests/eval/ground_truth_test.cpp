// Evaluation metrics on hand-made cases: a perfect result scores perfect, a wrong colour loses
// the colour point, a wrong shape loses silhouette IoU; and the confidence intervals.
#include <gtest/gtest.h>

#include <cmath>

#include "camera/orbit.h"
#include "core/rng.h"
#include "eval/ground_truth.h"
#include "eval/statistics.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/renderer.h"

namespace dreamdpo::eval {
namespace {

shapeworld::RenderedScene render_caption(const std::string& caption, const camera::CameraBatch& cams) {
  core::Rng rng(1);
  return shapeworld::render_scene(shapeworld::layout(shapeworld::parse_caption(caption), rng), cams, 48, 48);
}

TEST(GroundTruth, PerfectResultScoresPerfectEvenWhenMoved) {
  const auto cams = camera::fixed_orbit(4, 15.0, 2.75, 45.0);
  const auto truth = render_caption("a red cube", cams);
  const auto spec = single_object_spec("a red cube");
  ASSERT_TRUE(spec.has_value());
  auto score = compare_with_ground_truth(truth.rgb, truth.alpha, truth.rgb, truth.alpha, spec->groups[0].colour);
  EXPECT_DOUBLE_EQ(score.silhouette_iou, 1.0);
  EXPECT_NEAR(score.colour_error, 0.0, 1e-12);
  EXPECT_TRUE(score.colour_correct);
  // The same object drawn 3 pixels to the side (over the white background) is still perfect.
  const auto moved_rgb = at::roll(truth.rgb, {3}, {3});
  const auto moved_alpha = at::roll(truth.alpha, {3}, {3});
  score = compare_with_ground_truth(moved_rgb, moved_alpha, truth.rgb, truth.alpha, spec->groups[0].colour);
  EXPECT_DOUBLE_EQ(score.silhouette_iou, 1.0);
  EXPECT_TRUE(score.colour_correct);
}

// Gaussians render half-transparent pixels, composited over the white background: the object's
// own colour is what counts, or every dark object would read as a lighter colour.
TEST(GroundTruth, HalfTransparentDarkObjectKeepsItsColour) {
  const auto cams = camera::fixed_orbit(4, 15.0, 2.75, 45.0);
  const auto truth = render_caption("a black cube", cams);
  const double coverage = 0.6;
  const auto faint_rgb = truth.rgb * coverage + (1 - coverage);  // over white: a*c + (1-a)*1
  const auto faint_alpha = truth.alpha * coverage;
  const auto score =
      compare_with_ground_truth(faint_rgb, faint_alpha, truth.rgb, truth.alpha, shapeworld::Colour::black);
  EXPECT_DOUBLE_EQ(score.silhouette_iou, 1.0);
  EXPECT_NEAR(score.colour_error, 0.0, 1e-6);  // float inputs
  EXPECT_TRUE(score.colour_correct);
}

TEST(GroundTruth, WrongColourLosesTheColourPointButNotTheShape) {
  const auto cams = camera::fixed_orbit(4, 15.0, 2.75, 45.0);
  const auto truth = render_caption("a red cube", cams);
  const auto blue = render_caption("a blue cube", cams);
  const auto score = compare_with_ground_truth(blue.rgb, blue.alpha, truth.rgb, truth.alpha, shapeworld::Colour::red);
  EXPECT_DOUBLE_EQ(score.silhouette_iou, 1.0);
  EXPECT_FALSE(score.colour_correct);
  EXPECT_GT(score.colour_error, 0.2);
}

TEST(GroundTruth, WrongShapeLosesSilhouetteAndNothingDrawnScoresZero) {
  const auto cams = camera::fixed_orbit(4, 15.0, 2.75, 45.0);
  const auto truth = render_caption("a green torus", cams);
  const auto cone = render_caption("a green cone", cams);
  const auto score = compare_with_ground_truth(cone.rgb, cone.alpha, truth.rgb, truth.alpha, shapeworld::Colour::green);
  EXPECT_LT(score.silhouette_iou, 0.6);
  EXPECT_TRUE(score.colour_correct);
  const auto empty = compare_with_ground_truth(at::ones_like(truth.rgb), at::zeros_like(truth.alpha), truth.rgb,
                                               truth.alpha, shapeworld::Colour::green);
  EXPECT_DOUBLE_EQ(empty.silhouette_iou, 0.0);
  EXPECT_TRUE(std::isnan(empty.colour_error));
  EXPECT_FALSE(empty.colour_correct);
}

TEST(GroundTruth, OnlySingleObjectPromptsHaveOne) {
  EXPECT_TRUE(single_object_spec("a small yellow cone").has_value());
  EXPECT_FALSE(single_object_spec("two red cubes").has_value());
  EXPECT_FALSE(single_object_spec("a red cube on top of a blue sphere").has_value());
  EXPECT_FALSE(single_object_spec("a cat wearing a hat").has_value());
}

TEST(Statistics, MeanAndConfidenceIntervals) {
  const auto i = mean_ci95({1, 2, 3, NAN});
  EXPECT_EQ(i.n, 3);
  EXPECT_DOUBLE_EQ(i.mean, 2.0);
  // s = 1, n = 3: half width t(2) * 1/sqrt(3).
  EXPECT_NEAR(i.high - i.mean, 4.303 / std::sqrt(3.0), 1e-12);
  const auto d = paired_difference_ci95({1, 2, 3, 4}, {0, 1, 2, NAN});
  EXPECT_EQ(d.n, 3);
  EXPECT_DOUBLE_EQ(d.mean, 1.0);
  EXPECT_DOUBLE_EQ(d.low, 1.0);  // no spread
  EXPECT_TRUE(std::isnan(mean_ci95({5}).low));
  EXPECT_NEAR(t_quantile_975(1000), 1.962, 1e-3);
}

}  // namespace
}  // namespace dreamdpo::eval
