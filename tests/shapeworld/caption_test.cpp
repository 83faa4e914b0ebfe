#include "shapeworld/caption.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "shapeworld/sampler.h"
#include "test_helpers.h"

namespace dreamdpo::shapeworld {
namespace {

using testing_helpers::error_of;

ObjectGroup group(int count, Shape shape, Colour colour, Size size = Size::medium) {
  return {count, shape, colour, size};
}

TEST(ShapeWorldCaption, RoundTripsTwoThousandSampledSpecsThroughRandomPhrasings) {
  core::Rng rng(7);
  int related = 0, sized = 0;
  for (int i = 0; i < 2000; ++i) {
    const SceneSpec spec = sample_spec(rng);
    const std::string caption = write_caption(spec, rng);
    ASSERT_EQ(parse_caption(caption), spec) << caption << " vs " << to_string(spec);
    ASSERT_EQ(parse_caption(canonical_caption(spec)), spec) << canonical_caption(spec);
    related += spec.relation != Relation::none;
    sized += spec.groups[0].size != Size::medium;
  }
  // The sampler covers the grammar: relations and sizes both appear often.
  EXPECT_GT(related, 800);
  EXPECT_GT(sized, 800);
}

TEST(ShapeWorldCaption, WriterUsesTheSynonymsAndOrders) {
  core::Rng rng(3);
  SceneSpec spec{{group(1, Shape::cube, Colour::red, Size::small), group(1, Shape::torus, Colour::blue)},
                 Relation::on_top_of};
  std::set<std::string> seen;
  for (int i = 0; i < 400; ++i) {
    std::string text = write_caption(spec, rng);
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    std::istringstream in(text);
    for (std::string w; in >> w;) seen.insert(w);
  }
  for (const char* w : {"box", "block", "cube", "ring", "donut", "torus", "tiny", "little", "small", "under",
                        "beneath", "underneath", "below", "above", "resting", "top", "one", "a"})
    EXPECT_TRUE(seen.count(w) || seen.count(std::string(w) + ".")) << w;
}

TEST(ShapeWorldCaption, CanonicalCaptionIsOneFixedForm) {
  SceneSpec spec{{group(1, Shape::sphere, Colour::orange, Size::large), group(2, Shape::cube, Colour::red)},
                 Relation::next_to};
  // next_to sorts its groups (sphere before cube), whatever order they came in.
  EXPECT_EQ(canonical_caption(spec), "a large orange sphere next to two red cubes");
  EXPECT_EQ(canonical_caption({{group(1, Shape::cone, Colour::orange)}, Relation::none}), "an orange cone");
  EXPECT_EQ(canonical_caption({{group(3, Shape::torus, Colour::white, Size::small)}, Relation::none}),
            "three small white tori");
}

TEST(ShapeWorldCaption, ParsesHandWrittenCaptions) {
  const SceneSpec stack{{group(1, Shape::cube, Colour::red), group(1, Shape::sphere, Colour::blue)},
                        Relation::on_top_of};
  EXPECT_EQ(parse_caption("a red cube on top of a blue sphere"), stack);
  EXPECT_EQ(parse_caption("  A   RED box resting on one Blue ball.  "), stack);
  EXPECT_EQ(parse_caption("a red block above a blue sphere."), stack);
  // Inverse relations swap the groups.
  for (const char* rel : {"under", "below", "beneath", "underneath"})
    EXPECT_EQ(parse_caption(std::string("a blue sphere ") + rel + " a red cube"), stack) << rel;
  // The swapped stack is a different scene.
  EXPECT_NE(parse_caption("a blue sphere on a red cube"), stack);

  const SceneSpec beside{{group(2, Shape::torus, Colour::green, Size::large), group(1, Shape::cone, Colour::black)},
                         Relation::next_to};
  EXPECT_EQ(parse_caption("two big green donuts next to a black cone"), beside);
  EXPECT_EQ(parse_caption("a black cone beside two green large rings"), beside);
  EXPECT_EQ(parse_caption("A black cone by two large green toruses."), beside);
  EXPECT_EQ(parse_caption("one tiny yellow cylinder"),
            (SceneSpec{{group(1, Shape::cylinder, Colour::yellow, Size::small)}, Relation::none}));
  // A group next to an identical group is one group.
  EXPECT_EQ(parse_caption("a red cube next to two red cubes"),
            (SceneSpec{{group(3, Shape::cube, Colour::red)}, Relation::none}));
}

TEST(ShapeWorldCaption, UnknownWordsAreListedWithTheVocabulary) {
  const std::string message = error_of([] { parse_caption("a shiny red cube near a Pyramid"); });
  EXPECT_NE(message.find("'shiny'"), std::string::npos) << message;
  EXPECT_NE(message.find("'near'"), std::string::npos) << message;
  EXPECT_NE(message.find("'pyramid'"), std::string::npos) << message;
  EXPECT_EQ(message.find("'red'"), std::string::npos) << message;
  EXPECT_NE(message.find("Known words: a, an, one, two, three"), std::string::npos) << message;
  EXPECT_NE(message.find("donut"), std::string::npos) << message;
}

TEST(ShapeWorldCaption, GrammaticalNonsenseSaysWhatWasExpected) {
  auto expect_error = [](const std::string& caption, const std::string& part) {
    const std::string message = error_of([&] { parse_caption(caption); });
    EXPECT_NE(message.find(part), std::string::npos) << caption << " -> " << message;
  };
  expect_error("", "empty");
  expect_error(" . ", "empty");
  expect_error("red cube", "expected a count word");
  expect_error("a cube", "needs a colour");
  expect_error("a red blue cube", "one colour per object");
  expect_error("a small big red cube", "one size word");
  expect_error("a red", "a shape");
  expect_error("a red cubes", "a singular shape");
  expect_error("two red cube", "a plural shape");
  expect_error("a red cube a blue sphere", "a relation");
  expect_error("a red cube on top a blue sphere", "a count word");
  expect_error("a red cube next to", "a count word");
  expect_error("a red cube on a blue sphere by a green cone", "the end of the caption");
  expect_error("two red cubes on a blue sphere", "'on top of' relates one object to one object");
  expect_error("two red cubes next to two blue spheres", "at most 3 objects");
  expect_error("a red cube on on a blue sphere", "a count word");
}

TEST(ShapeWorldCaption, VocabularyHasEachWordOnce) {
  const auto& words = vocabulary();
  std::set<std::string> unique(words.begin(), words.end());
  EXPECT_EQ(unique.size(), words.size());
  for (const char* w : {"a", "three", "tiny", "big", "purple", "boxes", "tori", "underneath", "resting", "by"})
    EXPECT_TRUE(unique.count(w)) << w;
  EXPECT_FALSE(unique.count("medium"));  // medium = no size word
}

}  // namespace
}  // namespace dreamdpo::shapeworld
