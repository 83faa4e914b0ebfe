#include "shapeworld/scene_spec.h"

#include <algorithm>
#include <sstream>
#include <tuple>

#include "core/error.h"

namespace dreamdpo::shapeworld {

const char* name(Shape shape) {
  switch (shape) {
    case Shape::sphere: return "sphere";
    case Shape::cube: return "cube";
    case Shape::cylinder: return "cylinder";
    case Shape::cone: return "cone";
    case Shape::torus: return "torus";
  }
  return "?";
}

const char* name(Colour colour) {
  switch (colour) {
    case Colour::red: return "red";
    case Colour::green: return "green";
    case Colour::blue: return "blue";
    case Colour::yellow: return "yellow";
    case Colour::orange: return "orange";
    case Colour::purple: return "purple";
    case Colour::white: return "white";
    case Colour::black: return "black";
  }
  return "?";
}

const char* name(Size size) {
  switch (size) {
    case Size::medium: return "medium";
    case Size::small: return "small";
    case Size::large: return "large";
  }
  return "?";
}

const char* name(Relation relation) {
  switch (relation) {
    case Relation::none: return "none";
    case Relation::on_top_of: return "on_top_of";
    case Relation::next_to: return "next_to";
  }
  return "?";
}

std::array<float, 3> colour_rgb(Colour colour) {
  // Chosen far apart in RGB (the closest pair, red/orange, is ~100/255 apart) so a small model
  // can tell them apart under shading; white and black stay off the extremes so shading shows.
  auto rgb = [](int r, int g, int b) { return std::array<float, 3>{r / 255.0f, g / 255.0f, b / 255.0f}; };
  switch (colour) {
    case Colour::red: return rgb(215, 35, 35);
    case Colour::green: return rgb(35, 165, 60);
    case Colour::blue: return rgb(35, 75, 215);
    case Colour::yellow: return rgb(240, 215, 30);
    case Colour::orange: return rgb(245, 130, 15);
    case Colour::purple: return rgb(135, 45, 175);
    case Colour::white: return rgb(235, 235, 235);
    case Colour::black: return rgb(30, 30, 30);
  }
  return rgb(0, 0, 0);
}

int SceneSpec::object_count() const {
  int n = 0;
  for (const auto& g : groups) n += g.count;
  return n;
}

std::string SceneSpec::problem() const {
  std::ostringstream why;
  if (groups.size() != 1 && groups.size() != 2) {
    why << "a scene has 1 or 2 groups of objects, got " << groups.size();
    return why.str();
  }
  for (const auto& g : groups)
    if (g.count < 1 || g.count > kMaxObjects) {
      why << "an object group has 1 to " << kMaxObjects << " objects, got " << g.count;
      return why.str();
    }
  if (object_count() > kMaxObjects) {
    why << "a scene has at most " << kMaxObjects << " objects, got " << object_count();
  } else if (groups.size() == 1 && relation != Relation::none) {
    why << "a relation (" << name(relation) << ") needs two groups of objects";
  } else if (groups.size() == 2 && relation == Relation::none) {
    why << "two groups of objects need a relation (on top of, next to)";
  } else if (relation == Relation::on_top_of && (groups[0].count != 1 || groups[1].count != 1)) {
    why << "'on top of' relates one object to one object, got " << groups[0].count << " and " << groups[1].count;
  }
  return why.str();
}

void SceneSpec::validate() const {
  const std::string why = problem();
  check(why.empty(), "invalid scene ", to_string(*this), ": ", why);
}

namespace {
auto order_key(const ObjectGroup& g) { return std::make_tuple(g.shape, g.colour, g.size, g.count); }
}  // namespace

SceneSpec canonical(SceneSpec spec) {
  spec.validate();
  if (spec.relation == Relation::next_to) {
    auto& g = spec.groups;
    if (g[0].same_kind(g[1])) {
      g[0].count += g[1].count;
      g.pop_back();
      spec.relation = Relation::none;
    } else if (order_key(g[1]) < order_key(g[0])) {
      std::swap(g[0], g[1]);
    }
  }
  return spec;
}

bool SceneSpec::operator==(const SceneSpec& o) const {
  // Invalid specs have no canonical form; they compare field by field (and never throw).
  const bool both_valid = problem().empty() && o.problem().empty();
  const SceneSpec a = both_valid ? canonical(*this) : *this;
  const SceneSpec b = both_valid ? canonical(o) : o;
  return a.relation == b.relation && a.groups == b.groups;
}

std::string to_string(const ObjectGroup& group) {
  std::string out = "[" + std::to_string(group.count) + " ";
  if (group.size != Size::medium) out += std::string(name(group.size)) + " ";
  return out + name(group.colour) + " " + name(group.shape) + "]";
}

std::string to_string(const SceneSpec& spec) {
  std::string out;
  for (size_t i = 0; i < spec.groups.size(); ++i) {
    if (i > 0) out += std::string(" ") + name(spec.relation) + " ";
    out += to_string(spec.groups[i]);
  }
  return out.empty() ? "[empty scene]" : out;
}

}  // namespace dreamdpo::shapeworld
