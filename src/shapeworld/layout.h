// From a SceneSpec to concrete objects: positions, scales and colours with y up, resting on an
// implicit ground, the whole scene centred at the origin inside a ball of radius kSceneRadius
// (cameras orbit at distance 2.5-3 with fovy 40-50 degrees).
#pragma once
#include <array>
#include <vector>

#include "core/rng.h"
#include "shapeworld/scene_spec.h"

namespace dreamdpo::shapeworld {

inline constexpr float kSceneRadius = 0.6f;

struct SceneObject {
  Shape shape = Shape::sphere;
  std::array<float, 3> rgb = {1, 1, 1};     // [0, 1]
  std::array<float, 3> centre = {0, 0, 0};  // centre of the object's bounding box
  float scale = 1.0f;                       // s of primitives.h
  float yaw = 0.0f;                         // rotation about +y, radians
};

struct Scene {
  std::vector<SceneObject> objects;
};

// The scale s of a primitive of this size before any shrinking to fit the scene ball.
float size_scale(Size size);

// Group 0's objects come first, then group 1's. on_top_of stacks group 0 on group 1; counts and
// next_to put the objects side by side along a random horizontal direction. Cubes get a random
// yaw. Scenes too wide for the ball are shrunk as a whole, keeping relative sizes.
Scene layout(const SceneSpec& spec, core::Rng& rng);

// Whether two specs lay out as the same picture: the same shapes and colours at the same places
// and scales (within 6%), for the same random draws. Shrinking to the ball can erase a size:
// "three small cubes" and "three large cubes" both fill it, so neither caption is wrong for
// the other's render, and a hard negative must not be one of them.
bool looks_alike(const SceneSpec& a, const SceneSpec& b);

}  // namespace dreamdpo::shapeworld
