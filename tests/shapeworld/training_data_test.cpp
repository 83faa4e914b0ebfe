// ShapeWorld training batches: shapes, determinism, hard negatives and degradations.
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shapeworld/caption.h"
#include "shapeworld/sampler.h"
#include "shapeworld/training_data.h"
#include "test_helpers.h"

namespace dreamdpo::shapeworld {
namespace {

BatchOptions small_options() {
  BatchOptions options;
  options.scenes = 3;
  options.views = 2;
  options.resolution = 16;
  options.negatives = 4;
  options.degraded = true;
  options.render.supersample = 1;
  return options;
}

TEST(TrainingData, BatchHasEveryPartWithConsistentShapes) {
  core::Rng rng(5);
  const auto batch = make_batch(small_options(), rng, at::kCPU);
  ASSERT_EQ(batch.specs.size(), 3u);
  EXPECT_EQ(batch.images.sizes(), (std::vector<int64_t>{3, 2, 3, 16, 16}));
  EXPECT_EQ(batch.degraded.sizes(), batch.images.sizes());
  EXPECT_EQ(batch.c2w.sizes(), (std::vector<int64_t>{3, 2, 4, 4}));
  EXPECT_EQ(batch.fovy.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_GE(batch.images.min().item<float>(), 0.0f);
  EXPECT_LE(batch.images.max().item<float>(), 1.0f);
  for (int64_t s = 0; s < 3; ++s) {
    // Captions parse back to their spec; every negative parses to a different spec.
    EXPECT_EQ(parse_caption(batch.captions[s]), batch.specs[s]) << batch.captions[s];
    ASSERT_EQ(batch.negative_captions[s].size(), 4u);
    for (const auto& negative : batch.negative_captions[s]) EXPECT_NE(parse_caption(negative), batch.specs[s]);
  }
  // Something is drawn (a small torus can slip between the rays at 16 px, so not per scene).
  EXPECT_LT(batch.images.min().item<float>(), 0.9f);
}

TEST(TrainingData, SameSeedSameBatchOtherSeedOtherBatch) {
  core::Rng a(11), b(11), c(12);
  const auto x = make_batch(small_options(), a, at::kCPU);
  const auto y = make_batch(small_options(), b, at::kCPU);
  const auto z = make_batch(small_options(), c, at::kCPU);
  EXPECT_EQ(x.captions, y.captions);
  EXPECT_TRUE(at::equal(x.images, y.images));
  EXPECT_TRUE(at::equal(x.degraded, y.degraded));
  EXPECT_FALSE(at::equal(x.images, z.images));
  // Rendering on CPU threads changes nothing but the speed.
  auto threaded = small_options();
  threaded.cpu_render_threads = 3;
  core::Rng d(11);
  const auto w = make_batch(threaded, d, at::kCPU);
  EXPECT_EQ(w.captions, x.captions);
  EXPECT_TRUE(at::equal(w.images, x.images));
}

// With relation_negatives_first, every two-group scene trains against all its relation
// negatives (up to the batch's count), the "which is on top" swap included; a random draw
// leaves most of them out.
TEST(TrainingData, RelationNegativesFirstPutsEveryRelationNegativeInTheBatch) {
  auto options = small_options();
  options.scenes = 48;
  options.views = 1;
  options.resolution = 8;
  options.negatives = 3;
  options.degraded = false;
  auto count_relation = [](const TrainingBatch& batch, int64_t s) {
    return std::count(batch.negative_aspects[s].begin(), batch.negative_aspects[s].end(), "relation");
  };
  int64_t random_total = 0, first_total = 0, related = 0;
  {
    core::Rng rng(3);
    const auto batch = make_batch(options, rng, at::kCPU);
    for (int64_t s = 0; s < options.scenes; ++s) random_total += count_relation(batch, s);
  }
  options.relation_negatives_first = true;
  core::Rng rng(3);
  const auto batch = make_batch(options, rng, at::kCPU);
  for (int64_t s = 0; s < options.scenes; ++s) {
    const auto& spec = batch.specs[s];
    first_total += count_relation(batch, s);
    if (spec.relation == Relation::none) continue;
    ++related;
    core::Rng any(0);
    int64_t available = 0;
    for (const auto& negative : hard_negatives(spec, any, 1000)) available += aspect_of(spec, negative) == "relation";
    EXPECT_EQ(count_relation(batch, s), std::min<int64_t>(available, options.negatives)) << to_string(spec);
    if (spec.relation == Relation::on_top_of) {
      SceneSpec swapped = spec;
      std::swap(swapped.groups[0], swapped.groups[1]);
      bool has_swap = false;
      for (const auto& caption : batch.negative_captions[s]) has_swap |= parse_caption(caption) == canonical(swapped);
      EXPECT_TRUE(has_swap) << to_string(spec);
    }
  }
  EXPECT_GT(related, 8);
  EXPECT_GT(first_total, 2 * random_total);
}

TEST(TrainingData, AspectOfNamesTheChangedAspect) {
  const SceneSpec spec = parse_caption("a red cube on top of a blue sphere");
  EXPECT_EQ(aspect_of(spec, parse_caption("a green cube on top of a blue sphere")), "colour");
  EXPECT_EQ(aspect_of(spec, parse_caption("a red cone on top of a blue sphere")), "shape");
  EXPECT_EQ(aspect_of(spec, parse_caption("a red cube on top of a large blue sphere")), "size");
  EXPECT_EQ(aspect_of(spec, parse_caption("a red cube next to a blue sphere")), "relation");
  EXPECT_EQ(aspect_of(spec, parse_caption("a blue sphere on top of a red cube")), "relation");
  EXPECT_EQ(aspect_of(parse_caption("two red cubes"), parse_caption("three red cubes")), "count");
  // Every hard negative of a few random scenes gets a named aspect.
  core::Rng rng(3);
  for (int i = 0; i < 20; ++i) {
    const auto s = sample_spec(rng);
    for (const auto& n : hard_negatives(s, rng, 8)) {
      EXPECT_THAT(aspects(), ::testing::Contains(aspect_of(s, n)));
    }
  }
}

TEST(TrainingData, DegradationsChangeImagesAndStayInRange) {
  core::Rng rng(2);
  BatchOptions options = small_options();
  const auto images = make_batch(options, rng, at::kCPU).images.select(1, 0);
  for (auto kind : {Degradation::blur, Degradation::noise, Degradation::lighting, Degradation::jitter}) {
    const auto out = degrade(images, kind, 0.5, rng);
    EXPECT_EQ(out.sizes(), images.sizes());
    EXPECT_GE(out.min().item<float>(), 0.0f);
    EXPECT_LE(out.max().item<float>(), 1.0f);
    EXPECT_GT((out - images).abs().mean().item<float>(), 0.005f) << static_cast<int>(kind);
  }
  // Blur keeps a flat image flat and its mean.
  const auto flat = at::full({1, 3, 8, 8}, 0.4);
  EXPECT_TRUE(at::allclose(degrade(flat, Degradation::blur, 1.0, rng), flat, 1e-5, 1e-6));
  EXPECT_THAT(testing_helpers::error_of([&] { degrade(at::zeros({2, 2}), rng); }), ::testing::HasSubstr("[N,3,H,W]"));
}

}  // namespace
}  // namespace dreamdpo::shapeworld
