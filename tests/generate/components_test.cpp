// The component registry: a ranker's bad files are reported before the prior reads its weights,
// and only the template ranker needs a prior at all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "generate/components.h"
#include "test_helpers.h"

namespace dreamdpo::generate {
namespace {
using ::testing::HasSubstr;

TEST(Components, RankerFilesAreCheckedBeforeThePriorLoads) {
  PriorConfig prior;
  prior.name = "mvdream";
  prior.checkpoint = "/nonexistent/sd-v2.1-base-4view.pt";  // would fail too, but later
  prior.image_size = 256;
  guidance::GuidanceConfig guidance;
  guidance.method = "dreamdpo";
  rank::RankerConfig ranker;
  ranker.name = "imagereward";  // no files given
  const auto message = testing_helpers::error_of(
      [&] { make_guidance_stack("a cat", prior, guidance, ranker, at::Device(at::kCPU)); });
  EXPECT_THAT(message, HasSubstr("ranker.imagereward"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("sd-v2.1-base-4view.pt")));
}

TEST(Components, OnlyTheTemplateRankerNeedsAPrior) {
  EXPECT_TRUE(ranker_needs_prior("template"));
  EXPECT_FALSE(ranker_needs_prior("hpsv2"));
  rank::RankerConfig config;
  EXPECT_EQ(make_ranker("colour", config, nullptr)->name(), "colour");
  config.target = "red";
  EXPECT_THAT(testing_helpers::error_of([&] { make_ranker("template", config, nullptr); }),
              HasSubstr("needs the exact prior"));
}

}  // namespace
}  // namespace dreamdpo::generate
