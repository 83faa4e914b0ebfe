#include "shapeworld/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/training_data.h"
#include "test_helpers.h"

namespace dreamdpo::shapeworld {
namespace {

using testing_helpers::error_of;

ObjectGroup group(int count, Shape shape, Colour colour, Size size = Size::medium) {
  return {count, shape, colour, size};
}

// Aspects in which two groups differ: colour, shape, size, count.
int group_differences(const ObjectGroup& a, const ObjectGroup& b) {
  return (a.colour != b.colour) + (a.shape != b.shape) + (a.size != b.size) + (a.count != b.count);
}

// Fewest aspects in which two canonical specs differ (next_to groups may match either way round;
// swapping an on_top_of counts as one aspect, the order).
int spec_differences(const SceneSpec& a, const SceneSpec& b) {
  if (a.groups.size() != b.groups.size()) return 99;
  const int relation = a.relation != b.relation;
  if (a.groups.size() == 1) return group_differences(a.groups[0], b.groups[0]);
  const int straight = group_differences(a.groups[0], b.groups[0]) + group_differences(a.groups[1], b.groups[1]);
  const int crossed = group_differences(a.groups[0], b.groups[1]) + group_differences(a.groups[1], b.groups[0]);
  const bool symmetric = a.relation == Relation::next_to || b.relation == Relation::next_to;
  return relation + std::min(straight, crossed + (symmetric ? 0 : 1));
}

TEST(ShapeWorldSpec, ValidationNamesTheBrokenRule) {
  EXPECT_NE(error_of([] { SceneSpec{}.validate(); }).find("1 or 2 groups"), std::string::npos);
  EXPECT_NE(error_of([] { SceneSpec{{group(4, Shape::cube, Colour::red)}, Relation::none}.validate(); })
                .find("1 to 3 objects"),
            std::string::npos);
  EXPECT_NE(error_of([] { SceneSpec{{group(1, Shape::cube, Colour::red)}, Relation::next_to}.validate(); })
                .find("needs two groups"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              SceneSpec{{group(1, Shape::cube, Colour::red), group(1, Shape::cone, Colour::red)}, Relation::none}
                  .validate();
            }).find("need a relation"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              SceneSpec{{group(2, Shape::cube, Colour::red), group(1, Shape::cone, Colour::red)}, Relation::on_top_of}
                  .validate();
            }).find("one object to one object"),
            std::string::npos);
}

TEST(ShapeWorldSpec, NextToIsSymmetricOnTopOfIsNot) {
  const ObjectGroup a = group(1, Shape::cube, Colour::red), b = group(2, Shape::sphere, Colour::blue, Size::small);
  EXPECT_EQ((SceneSpec{{a, b}, Relation::next_to}), (SceneSpec{{b, a}, Relation::next_to}));
  const ObjectGroup c = group(1, Shape::sphere, Colour::blue);
  EXPECT_NE((SceneSpec{{a, c}, Relation::on_top_of}), (SceneSpec{{c, a}, Relation::on_top_of}));
  EXPECT_EQ(to_string(SceneSpec{{a, b}, Relation::next_to}), "[1 red cube] next_to [2 small blue sphere]");
  // Invalid specs compare field by field instead of throwing.
  EXPECT_FALSE((SceneSpec{} == SceneSpec{{a}, Relation::none}));
}

TEST(ShapeWorldSampler, SpecsAreValidCanonicalAndDeterministic) {
  core::Rng rng_a(11), rng_b(11);
  int on_top = 0, next_to = 0, three = 0;
  for (int i = 0; i < 500; ++i) {
    const SceneSpec spec = sample_spec(rng_a);
    EXPECT_TRUE(spec.problem().empty()) << to_string(spec);
    const SceneSpec again = sample_spec(rng_b);
    ASSERT_EQ(spec.groups, again.groups);  // field by field: same draw
    ASSERT_EQ(spec.relation, again.relation);
    on_top += spec.relation == Relation::on_top_of;
    next_to += spec.relation == Relation::next_to;
    three += spec.object_count() == 3;
  }
  EXPECT_GT(on_top, 60);
  EXPECT_GT(next_to, 60);
  EXPECT_GT(three, 30);
}

TEST(ShapeWorldSampler, OptionsRestrictTheScenes) {
  core::Rng rng(5);
  SamplerOptions only_single;
  only_single.max_objects = 1;
  SamplerOptions no_stacks;
  no_stacks.allow_on_top_of = false;
  no_stacks.p_relation = 1.0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(sample_spec(rng, only_single).object_count(), 1);
    EXPECT_EQ(sample_spec(rng, no_stacks).relation, Relation::next_to);
  }
  SamplerOptions bad;
  bad.p_sized = 1.5;
  EXPECT_NE(error_of([&] { sample_spec(rng, bad); }).find("sampler.p_sized must lie in [0, 1]"), std::string::npos);
}

TEST(ShapeWorldSampler, HardNegativesDifferInExactlyOneAspectAndParseBack) {
  core::Rng rng(21);
  for (int i = 0; i < 300; ++i) {
    const SceneSpec spec = sample_spec(rng);
    const auto negatives = hard_negatives(spec, rng, 8);
    EXPECT_EQ(negatives.size(), 8u) << to_string(spec);  // every spec has at least 7 other colours
    for (size_t j = 0; j < negatives.size(); ++j) {
      EXPECT_NE(negatives[j], spec);
      EXPECT_EQ(spec_differences(spec, negatives[j]), 1) << to_string(spec) << " vs " << to_string(negatives[j]);
      EXPECT_EQ(parse_caption(write_caption(negatives[j], rng)), negatives[j]);
      for (size_t k = 0; k < j; ++k) EXPECT_NE(negatives[j], negatives[k]);
    }
  }
}

TEST(ShapeWorldSampler, HardNegativesEnumerateAllAndStopWhenExhausted) {
  core::Rng rng(1);
  // One group: 7 colours + 4 shapes + 2 sizes + 2 counts.
  const SceneSpec single{{group(1, Shape::cube, Colour::red)}, Relation::none};
  EXPECT_EQ(hard_negatives(single, rng, 1000).size(), 15u);
  // A stack: per group 7 colours + 4 shapes + 2 sizes, the relation (next_to), the order.
  const SceneSpec stack{{group(1, Shape::cube, Colour::red), group(1, Shape::sphere, Colour::blue)},
                        Relation::on_top_of};
  const auto all = hard_negatives(stack, rng, 1000);
  EXPECT_EQ(all.size(), 2u * 13u + 2u);
  EXPECT_NE(std::find(all.begin(), all.end(), parse_caption("a red cube under a blue sphere")), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), parse_caption("a red cube next to a blue sphere")), all.end());
  EXPECT_TRUE(hard_negatives(stack, rng, 0).empty());
}

// Three objects of any size fill the scene ball once shrunk to fit, so "three small cubes" and
// "three large cubes" render alike: neither may be the other's hard negative. A lone object is
// never shrunk, and in a mixed scene the relative size still shows: those keep their sizes.
TEST(ShapeWorldSampler, HardNegativesSkipSizesThatShrinkingErases) {
  core::Rng rng(3);
  auto sizes_of = [&](const std::string& caption) {
    std::vector<std::string> sized;
    for (const auto& n : hard_negatives(parse_caption(caption), rng, 1000))
      if (aspect_of(parse_caption(caption), n) == "size") sized.push_back(canonical_caption(n));
    return sized;
  };
  EXPECT_TRUE(looks_alike(parse_caption("three small blue cubes"), parse_caption("three large blue cubes")));
  EXPECT_TRUE(sizes_of("three blue cubes").empty());
  EXPECT_TRUE(sizes_of("three small blue cubes").empty());
  EXPECT_EQ(sizes_of("a red cube").size(), 2u);  // small and large
  EXPECT_FALSE(looks_alike(parse_caption("a small red cube"), parse_caption("a large red cube")));
  EXPECT_EQ(sizes_of("a large red cube next to a large blue sphere").size(), 4u);
  // Different colours or shapes never look alike, even at the same places and scales.
  EXPECT_FALSE(looks_alike(parse_caption("three red cubes"), parse_caption("three blue cubes")));
  EXPECT_TRUE(looks_alike(parse_caption("two red cubes"), parse_caption("two red boxes")));
}

}  // namespace
}  // namespace dreamdpo::shapeworld
