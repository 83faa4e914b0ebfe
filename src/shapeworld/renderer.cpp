#include "shapeworld/renderer.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "shapeworld/primitives.h"

namespace dreamdpo::shapeworld {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kTiny = 1e-12f;

// Rays in an object's local frame (units of its scale): origins and unit directions [B, N, 3].
struct Rays {
  at::Tensor o, d;
};

// Distance along the rays (+inf for a miss) and the outward normal there (local frame).
struct Hit {
  at::Tensor t;       // [B, N]
  at::Tensor normal;  // [B, N, 3]
};

at::Tensor dot3(const at::Tensor& a, const at::Tensor& b) { return (a * b).sum(-1); }
at::Tensor comp(const at::Tensor& v, int64_t i) { return v.select(-1, i); }

// Keeps the nearer of two hits per ray.
Hit nearer(const Hit& a, const Hit& b) {
  const auto closer = b.t < a.t;
  return {at::where(closer, b.t, a.t), at::where(closer.unsqueeze(-1), b.normal, a.normal)};
}

Hit candidate(const at::Tensor& t, const at::Tensor& valid, const at::Tensor& normal) {
  return {at::where(valid, t, at::full_like(t, kInf)), normal};
}

// Entry and exit of a ball of `radius` at the origin; computed from the point of closest
// approach, which stays accurate for far cameras (no b^2 - c cancellation).
std::tuple<at::Tensor, at::Tensor, at::Tensor> ball_span(const Rays& r, float radius) {
  const auto tc = -dot3(r.o, r.d);
  const auto perp = r.o + tc.unsqueeze(-1) * r.d;
  const auto h2 = radius * radius - dot3(perp, perp);
  const auto half = h2.clamp_min(0).sqrt();
  return {tc - half, tc + half, h2 >= 0};
}

Hit hit_sphere(const Rays& r) {
  auto [enter, exit, touched] = ball_span(r, primitive::kSphereRadius);
  return candidate(enter, touched & (enter > 0), r.o + enter.unsqueeze(-1) * r.d);
}

// Slab test against the axis-aligned cube.
Hit hit_cube(const Rays& r) {
  const float a = primitive::kCubeHalfSide;
  const auto d = at::where(r.d.abs() < kTiny, at::full_like(r.d, kTiny), r.d);
  const auto t1 = (-a - r.o) / d;
  const auto t2 = (a - r.o) / d;
  const auto [enter, axis] = at::minimum(t1, t2).max(-1);
  const auto exit = std::get<0>(at::maximum(t1, t2).min(-1));
  const auto which = (axis.unsqueeze(-1) == at::arange(3, axis.options())).to(r.d.scalar_type());
  return candidate(enter, (exit >= enter) & (enter > 0), -which * at::sign(d));
}

// Cylinder around y: the side (entry root of the quadratic in x, z) and the two caps.
Hit hit_cylinder(const Rays& r) {
  const float rho = primitive::kCylinderRadius, h = primitive::kCylinderHalfHeight;
  const auto ox = comp(r.o, 0), oy = comp(r.o, 1), oz = comp(r.o, 2);
  const auto dx = comp(r.d, 0), dy = comp(r.d, 1), dz = comp(r.d, 2);
  const auto a = dx * dx + dz * dz;
  const auto a_safe = a.clamp_min(kTiny);
  const auto tc = -(ox * dx + oz * dz) / a_safe;
  const auto px = ox + tc * dx, pz = oz + tc * dz;
  const auto h2 = rho * rho - (px * px + pz * pz);
  const auto t_side = tc - (h2.clamp_min(0) / a_safe).sqrt();
  const auto y_side = oy + t_side * dy;
  const auto side_normal = at::stack({(ox + t_side * dx) / rho, at::zeros_like(ox), (oz + t_side * dz) / rho}, -1);
  Hit best = candidate(t_side, (h2 >= 0) & (a > kTiny) & (y_side.abs() <= h) & (t_side > 0), side_normal);

  const auto dy_safe = at::where(dy.abs() < kTiny, at::full_like(dy, kTiny), dy);
  for (float sign : {1.0f, -1.0f}) {
    const auto t = (sign * h - oy) / dy_safe;
    const auto x = ox + t * dx, z = oz + t * dz;
    const auto normal = at::zeros_like(r.o);
    normal.select(-1, 1).fill_(sign);
    best = nearer(best, candidate(t, (x * x + z * z <= rho * rho) & (t > 0), normal));
  }
  return best;
}

// Cone around y, apex up: x^2 + z^2 = k^2 (h - y)^2 for y in [-h, h], plus the base disc.
Hit hit_cone(const Rays& r) {
  const float rho = primitive::kConeRadius, h = primitive::kConeHalfHeight;
  const float k2 = (rho / (2 * h)) * (rho / (2 * h));
  const auto ox = comp(r.o, 0), oy = comp(r.o, 1), oz = comp(r.o, 2);
  const auto dx = comp(r.d, 0), dy = comp(r.d, 1), dz = comp(r.d, 2);
  const auto y0 = h - oy;  // distance below the apex; grows by -dy per unit t
  const auto a = dx * dx + dz * dz - k2 * dy * dy;
  const auto b = ox * dx + oz * dz + k2 * y0 * dy;
  const auto c = ox * ox + oz * oz - k2 * y0 * y0;
  const auto a_safe = at::where(a.abs() < 1e-9f, at::full_like(a, 1e-9f), a);
  const auto disc = b * b - a * c;
  const auto root = disc.clamp_min(0).sqrt();
  auto side = [&](const at::Tensor& t) {
    const auto below_apex = y0 - t * dy;
    const auto p = r.o + t.unsqueeze(-1) * r.d;
    auto normal = at::stack({comp(p, 0), k2 * below_apex, comp(p, 2)}, -1);
    normal = normal / normal.norm(2, -1, true).clamp_min(kTiny);
    return candidate(t, (disc >= 0) & (t > 0) & (below_apex >= 0) & (below_apex <= 2 * h), normal);
  };
  Hit best = nearer(side((-b - root) / a_safe), side((-b + root) / a_safe));

  const auto dy_safe = at::where(dy.abs() < kTiny, at::full_like(dy, kTiny), dy);
  const auto t = (-h - oy) / dy_safe;
  const auto x = ox + t * dx, z = oz + t * dz;
  const auto normal = at::zeros_like(r.o);
  normal.select(-1, 1).fill_(-1.0f);
  return nearer(best, candidate(t, (x * x + z * z <= rho * rho) & (t > 0), normal));
}

// The torus's quartic has no convenient closed form in tensor ops, so we sphere-trace its
// exact SDF for a fixed number of steps from where the ray enters the bounding ball (the
// caller starts rays there). The SDF never overshoots, so the first surface is found.
Hit hit_torus(const Rays& r, const at::Tensor& t_limit, int64_t steps) {
  const float big = primitive::kTorusMajorRadius, small = primitive::kTorusMinorRadius;
  auto sdf_parts = [&](const at::Tensor& p) {
    const auto ring = (comp(p, 0).square() + comp(p, 2).square()).sqrt();
    const auto q = ring - big;
    return std::make_tuple(ring, q, (q * q + comp(p, 1).square()).sqrt() - small);
  };
  auto t = at::zeros_like(t_limit);
  for (int64_t i = 0; i < steps; ++i) {
    const auto dist = std::get<2>(sdf_parts(r.o + t.unsqueeze(-1) * r.d));
    // Rays that left the ball stop moving: it keeps t finite and the test below simple.
    t = at::where(t <= t_limit, t + dist, t);
  }
  const auto p = r.o + t.unsqueeze(-1) * r.d;
  const auto [ring, q, dist] = sdf_parts(p);
  const auto ring_safe = ring.clamp_min(kTiny);
  auto normal = at::stack({q * comp(p, 0) / ring_safe, comp(p, 1), q * comp(p, 2) / ring_safe}, -1);
  normal = normal / normal.norm(2, -1, true).clamp_min(kTiny);
  return candidate(t, (dist.abs() < 2e-3f) & (t <= t_limit), normal);
}

// y-rotation matrix R (world = R * local) as a [3, 3] tensor.
at::Tensor yaw_matrix(float yaw, const at::TensorOptions& options) {
  const float c = std::cos(yaw), s = std::sin(yaw);
  return at::tensor({c, 0.0f, s, 0.0f, 1.0f, 0.0f, -s, 0.0f, c}, options.dtype(at::kFloat)).view({3, 3});
}

// World-space distance [B, N] (+inf for a miss) and world normal [B, N, 3] of one object.
Hit hit_object(const SceneObject& object, const at::Tensor& origins, const at::Tensor& dirs, int64_t torus_steps) {
  const auto options = origins.options();
  const auto rot = yaw_matrix(object.yaw, options);
  const auto centre = at::tensor({object.centre[0], object.centre[1], object.centre[2]}, options);
  // Row vectors: local = R^T (p - c) / s is (p - c) R / s.
  Rays local{at::matmul(origins - centre, rot) / object.scale, at::matmul(dirs, rot)};

  // Start every ray where it enters the bounding ball: keeps the per-shape maths at unit scale.
  auto [enter, exit, touched] = ball_span(local, primitive::extent(object.shape).bounding_radius * 1.001f);
  const auto start = enter.clamp_min(0);
  const Rays rebased{local.o + start.unsqueeze(-1) * local.d, local.d};
  Hit hit;
  switch (object.shape) {
    case Shape::sphere: hit = hit_sphere(rebased); break;
    case Shape::cube: hit = hit_cube(rebased); break;
    case Shape::cylinder: hit = hit_cylinder(rebased); break;
    case Shape::cone: hit = hit_cone(rebased); break;
    case Shape::torus: hit = hit_torus(rebased, exit - start, torus_steps); break;
  }
  const auto valid = touched & (exit > 0);
  const auto t = at::where(valid, (start + hit.t) * object.scale, at::full_like(hit.t, kInf));
  return {t, at::matmul(hit.normal, rot.t())};
}

void check_inputs(const camera::CameraBatch& cameras, int64_t width, int64_t height, const RenderOptions& options) {
  check(cameras.c2w.defined() && cameras.c2w.dim() == 3 && cameras.c2w.size(1) == 4 && cameras.c2w.size(2) == 4,
        "render_scene: cameras.c2w must be [B, 4, 4]");
  check(cameras.fovy.defined() && cameras.fovy.dim() == 1 && cameras.fovy.size(0) == cameras.c2w.size(0),
        "render_scene: cameras.fovy must be [B] with B = ", cameras.c2w.size(0));
  check(width >= 1 && height >= 1, "render_scene: image size must be positive, got ", width, "x", height);
  check(options.supersample >= 1 && options.supersample <= 8, "render_scene: supersample must lie in [1, 8], got ",
        options.supersample);
  check(options.torus_steps >= 1, "render_scene: torus_steps must be at least 1");
  check(options.ambient >= 0 && options.diffuse >= 0, "render_scene: ambient and diffuse must be >= 0");
  const auto& l = options.light_direction;
  check(l[0] * l[0] + l[1] * l[1] + l[2] * l[2] > 0, "render_scene: light_direction must be non-zero");
}

}  // namespace

RenderedScene render_scene(const Scene& scene, const camera::CameraBatch& cameras, int64_t width, int64_t height,
                           const RenderOptions& options) {
  check_inputs(cameras, width, height, options);
  const auto c2w = cameras.c2w.to(at::kFloat);
  const auto fopts = c2w.options();
  const int64_t batch = c2w.size(0), k = options.supersample;
  const int64_t w = width * k, h = height * k;

  // Camera-space directions through pixel centres (image rows go down, camera y goes up).
  const auto focal = (0.5 * static_cast<double>(h) / at::tan(0.5 * cameras.fovy.to(fopts))).view({batch, 1, 1});
  const auto cols = (at::arange(w, fopts) + 0.5 - 0.5 * static_cast<double>(w)).view({1, 1, w}) / focal;
  const auto rows = (at::arange(h, fopts) + 0.5 - 0.5 * static_cast<double>(h)).view({1, h, 1}) / focal;
  const auto cam_dirs = at::stack({cols.expand({batch, h, w}), -rows.expand({batch, h, w}),
                                   -at::ones({batch, h, w}, fopts)},
                                  -1)
                            .view({batch, h * w, 3});
  const auto rotation = c2w.slice(1, 0, 3).slice(2, 0, 3);
  auto dirs = at::matmul(cam_dirs, rotation.transpose(1, 2));
  dirs = dirs / dirs.norm(2, -1, true);
  const auto origins = c2w.slice(1, 0, 3).select(2, 3).unsqueeze(1).expand({batch, h * w, 3});

  Hit best{at::full({batch, h * w}, kInf, fopts), at::zeros({batch, h * w, 3}, fopts)};
  auto colour = at::zeros({batch, h * w, 3}, fopts);
  for (const auto& object : scene.objects) {
    const Hit hit = hit_object(object, origins, dirs, options.torus_steps);
    const auto closer = (hit.t < best.t).unsqueeze(-1);
    const auto rgb = at::tensor({object.rgb[0], object.rgb[1], object.rgb[2]}, fopts);
    colour = at::where(closer, rgb.expand_as(colour), colour);
    best = nearer(best, hit);
  }

  const auto& l = options.light_direction;
  auto light = at::tensor({l[0], l[1], l[2]}, fopts);
  light = light / light.norm();
  const auto normal = best.normal / best.normal.norm(2, -1, true).clamp_min(kTiny);
  const auto lambert = dot3(normal, light).clamp_min(0).unsqueeze(-1);
  const auto shaded = (colour * (options.ambient + options.diffuse * lambert)).clamp(0, 1);
  const auto hit_mask = at::isfinite(best.t);
  const auto background = at::tensor({options.background[0], options.background[1], options.background[2]}, fopts);
  const auto rgb = at::where(hit_mask.unsqueeze(-1), shaded, background.expand_as(shaded));
  const auto alpha = hit_mask.to(at::kFloat);
  const auto forward = -c2w.slice(1, 0, 3).select(2, 2).unsqueeze(1);  // [B, 1, 3]
  const auto depth = at::where(hit_mask, best.t * dot3(dirs, forward), at::zeros_like(best.t));

  auto to_image = [&](const at::Tensor& v, int64_t channels) {
    return v.reshape({batch, h, w, channels}).permute({0, 3, 1, 2}).contiguous();
  };
  RenderedScene out{to_image(rgb, 3), to_image(alpha, 1), to_image(depth, 1)};
  if (k > 1) {
    out.rgb = at::avg_pool2d(out.rgb, {k, k});
    out.alpha = at::avg_pool2d(out.alpha, {k, k});
    // Mean depth of the sub-rays that hit something.
    const auto coverage = out.alpha;
    out.depth = at::where(coverage > 0, at::avg_pool2d(out.depth, {k, k}) / coverage.clamp_min(kTiny),
                          at::zeros_like(coverage));
  }
  return out;
}

}  // namespace dreamdpo::shapeworld
