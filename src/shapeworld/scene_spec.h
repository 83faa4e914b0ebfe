// The meaning of a ShapeWorld caption: one or two groups of identical primitives and, with two
// groups, how they relate ("group 0 REL group 1"). Captions (caption.h) parse to this and the
// layout (sampler.h) builds scenes from it.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace dreamdpo::shapeworld {

enum class Shape { sphere, cube, cylinder, cone, torus };
enum class Colour { red, green, blue, yellow, orange, purple, white, black };
// medium = no size word in the caption.
enum class Size { medium, small, large };
enum class Relation { none, on_top_of, next_to };

inline constexpr std::array<Shape, 5> kShapes = {Shape::sphere, Shape::cube, Shape::cylinder, Shape::cone,
                                                 Shape::torus};
inline constexpr std::array<Colour, 8> kColours = {Colour::red,    Colour::green,  Colour::blue,  Colour::yellow,
                                                   Colour::orange, Colour::purple, Colour::white, Colour::black};
inline constexpr std::array<Size, 3> kSizes = {Size::medium, Size::small, Size::large};
inline constexpr int kMaxObjects = 3;

const char* name(Shape shape);
const char* name(Colour colour);
const char* name(Size size);
const char* name(Relation relation);

// Display sRGB in [0, 1]; the values are listed in docs/shapeworld.md.
std::array<float, 3> colour_rgb(Colour colour);

struct ObjectGroup {
  int count = 1;  // 1..3
  Shape shape = Shape::sphere;
  Colour colour = Colour::red;
  Size size = Size::medium;

  bool operator==(const ObjectGroup& o) const {
    return count == o.count && shape == o.shape && colour == o.colour && size == o.size;
  }
  bool operator!=(const ObjectGroup& o) const { return !(*this == o); }
  // Same kind of object (everything but the count).
  bool same_kind(const ObjectGroup& o) const { return shape == o.shape && colour == o.colour && size == o.size; }
};

// Rules (validate() enforces them): 1 group with relation none, or 2 groups with a relation;
// 1..3 objects in all; on_top_of needs one object in each group.
struct SceneSpec {
  std::vector<ObjectGroup> groups;
  Relation relation = Relation::none;

  int object_count() const;
  // The broken rule in words, or "" for a valid spec.
  std::string problem() const;
  // Throws dreamdpo::Error naming the broken rule.
  void validate() const;
  // Compares canonical forms, so "A next to B" equals "B next to A".
  bool operator==(const SceneSpec& o) const;
  bool operator!=(const SceneSpec& o) const { return !(*this == o); }
};

// One representative per meaning: next_to is symmetric, so its groups are sorted; a group
// next to an identical group is one group with both counts ("two red cubes"). Validates.
SceneSpec canonical(SceneSpec spec);

// Structured text for messages and test failures: "[1 small red cube] on_top_of [1 blue sphere]".
std::string to_string(const ObjectGroup& group);
std::string to_string(const SceneSpec& spec);

}  // namespace dreamdpo::shapeworld
