// The five primitives' dimensions in units of an object's scale s, shared by the layout (which
// stacks and spaces objects) and the renderer (which intersects them). Every primitive is
// centred on its bounding box: it spans y in [-half_height, +half_height] * s.
#pragma once
#include "shapeworld/scene_spec.h"

namespace dreamdpo::shapeworld::primitive {

inline constexpr float kSphereRadius = 1.0f;
inline constexpr float kCubeHalfSide = 0.8f;
inline constexpr float kCylinderRadius = 0.8f;
inline constexpr float kCylinderHalfHeight = 0.8f;
// Base (radius kConeRadius) at y = -kConeHalfHeight, apex at y = +kConeHalfHeight.
inline constexpr float kConeRadius = 0.9f;
inline constexpr float kConeHalfHeight = 0.9f;
// Lying flat: the ring goes round the y axis.
inline constexpr float kTorusMajorRadius = 0.75f;
inline constexpr float kTorusMinorRadius = 0.3f;

struct Extent {
  float half_height;       // half of the vertical extent
  float footprint_radius;  // horizontal radius of a circle holding the shape at any yaw
  float bounding_radius;   // radius of a ball around the centre holding the shape
};

inline Extent extent(Shape shape) {
  switch (shape) {
    case Shape::sphere: return {kSphereRadius, kSphereRadius, kSphereRadius};
    case Shape::cube: return {kCubeHalfSide, 1.41422f * kCubeHalfSide, 1.73206f * kCubeHalfSide};
    case Shape::cylinder: return {kCylinderHalfHeight, kCylinderRadius, 1.13138f};  // hypot(0.8, 0.8)
    case Shape::cone: return {kConeHalfHeight, kConeRadius, 1.27280f};               // hypot(0.9, 0.9)
    case Shape::torus:
      return {kTorusMinorRadius, kTorusMajorRadius + kTorusMinorRadius, kTorusMajorRadius + kTorusMinorRadius};
  }
  return {1.0f, 1.0f, 1.0f};
}

}  // namespace dreamdpo::shapeworld::primitive
