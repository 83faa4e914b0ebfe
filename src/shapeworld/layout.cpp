#include "shapeworld/layout.h"

#include <algorithm>
#include <cmath>

#include "shapeworld/primitives.h"

namespace dreamdpo::shapeworld {

float size_scale(Size size) {
  // Large is twice small, so sizes read clearly; big enough that a lone small object still
  // covers ~10% of the image height. Scenes that outgrow the ball (two large objects stacked)
  // shrink as a whole.
  switch (size) {
    case Size::small: return 0.16f;
    case Size::medium: return 0.23f;
    case Size::large: return 0.32f;
  }
  return 0.23f;
}

Scene layout(const SceneSpec& input, core::Rng& rng) {
  const SceneSpec spec = canonical(input);
  Scene scene;
  for (const auto& g : spec.groups)
    for (int i = 0; i < g.count; ++i) {
      SceneObject o;
      o.shape = g.shape;
      o.rgb = colour_rgb(g.colour);
      o.scale = size_scale(g.size);
      scene.objects.push_back(o);
    }
  // Random yaw for cubes only: the other primitives are symmetric about y.
  for (auto& o : scene.objects)
    if (o.shape == Shape::cube) o.yaw = static_cast<float>(0.5 * M_PI * rng.uniform01());

  auto half_height = [](const SceneObject& o) { return primitive::extent(o.shape).half_height * o.scale; };
  float top = 0.0f;  // highest point above the ground (y = 0 until the final centring)
  if (spec.relation == Relation::on_top_of) {
    SceneObject& upper = scene.objects[0];
    SceneObject& lower = scene.objects[1];
    lower.centre = {0.0f, half_height(lower), 0.0f};
    upper.centre = {0.0f, 2.0f * half_height(lower) + half_height(upper), 0.0f};
    top = 2.0f * (half_height(lower) + half_height(upper));
  } else {
    const double angle = 2.0 * M_PI * rng.uniform01();
    const float dx = static_cast<float>(std::cos(angle)), dz = static_cast<float>(std::sin(angle));
    std::vector<float> along(scene.objects.size());
    float cursor = 0.0f;
    for (size_t i = 0; i < scene.objects.size(); ++i) {
      const float r = primitive::extent(scene.objects[i].shape).footprint_radius * scene.objects[i].scale;
      if (i > 0) cursor += 0.03f + 0.07f * static_cast<float>(rng.uniform01());  // the gap between neighbours
      along[i] = cursor + r;
      cursor += 2.0f * r;
    }
    for (size_t i = 0; i < scene.objects.size(); ++i) {
      auto& o = scene.objects[i];
      const float a = along[i] - 0.5f * cursor;
      o.centre = {a * dx, half_height(o), a * dz};
      top = std::max(top, 2.0f * half_height(o));
    }
  }

  float radius = 0.0f;
  for (auto& o : scene.objects) {
    o.centre[1] -= 0.5f * top;
    const float d = std::sqrt(o.centre[0] * o.centre[0] + o.centre[1] * o.centre[1] + o.centre[2] * o.centre[2]);
    radius = std::max(radius, d + primitive::extent(o.shape).bounding_radius * o.scale);
  }
  if (radius > kSceneRadius) {
    const float shrink = kSceneRadius / radius;
    for (auto& o : scene.objects) {
      for (auto& x : o.centre) x *= shrink;
      o.scale *= shrink;
    }
  }
  return scene;
}

bool looks_alike(const SceneSpec& a, const SceneSpec& b) {
  constexpr float kTolerance = 0.06f;  // relative, of scale and of the scene radius
  // The same draws for both (gaps, directions, yaws), so only the specs differ.
  core::Rng ra(1), rb(1);
  const Scene x = layout(a, ra), y = layout(b, rb);
  if (x.objects.size() != y.objects.size()) return false;
  for (size_t i = 0; i < x.objects.size(); ++i) {
    const auto &p = x.objects[i], &q = y.objects[i];
    if (p.shape != q.shape || p.rgb != q.rgb) return false;
    if (std::abs(p.scale - q.scale) > kTolerance * std::max(p.scale, q.scale)) return false;
    for (int k = 0; k < 3; ++k)
      if (std::abs(p.centre[k] - q.centre[k]) > kTolerance * kSceneRadius) return false;
  }
  return true;
}

}  // namespace dreamdpo::shapeworld
