#include "camera/orbit.h"

#include <cmath>

#include "core/error.h"

namespace dreamdpo::camera {

namespace {
constexpr double kDegToRad = M_PI / 180.0;
}

at::Tensor look_at_origin(const at::Tensor& elevation, const at::Tensor& azimuth, const at::Tensor& distance) {
  const auto el = elevation.to(at::kDouble);
  const auto az = azimuth.to(at::kDouble);
  const auto d = distance.to(at::kDouble);
  const auto position = at::stack({d * at::cos(el) * at::sin(az), d * at::sin(el), d * at::cos(el) * at::cos(az)}, 1);
  // The camera's +z axis points from the origin to the camera (it looks down -z).
  const auto back = position / position.norm(2, 1, true);
  const auto world_up = at::tensor({0.0, 1.0, 0.0}, at::kDouble).expand_as(back);
  auto right = at::cross(world_up, back, 1);
  right = right / right.norm(2, 1, true).clamp_min(1e-12);
  const auto up = at::cross(back, right, 1);
  auto c2w = at::eye(4, at::kDouble).repeat({el.size(0), 1, 1});
  c2w.slice(1, 0, 3).select(2, 0).copy_(right);
  c2w.slice(1, 0, 3).select(2, 1).copy_(up);
  c2w.slice(1, 0, 3).select(2, 2).copy_(back);
  c2w.slice(1, 0, 3).select(2, 3).copy_(position);
  return c2w.to(at::kFloat);
}

double focal_pixels(double fovy_radians, int64_t height) {
  return 0.5 * static_cast<double>(height) / std::tan(0.5 * fovy_radians);
}

void OrbitSamplerConfig::validate(const std::string& path) const {
  using core::key_path;
  check(n_view >= 1 && n_view <= 64, key_path(path, "n_view"), " must lie in [1, 64]");
  auto range = [&](const std::vector<double>& r, const char* name, double lo, double hi) {
    check(r.size() == 2 && r[0] <= r[1], key_path(path, name), " must be [min, max]");
    check(r[0] >= lo && r[1] <= hi, key_path(path, name), " must lie in [", lo, ", ", hi, "]");
  };
  range(elevation_deg, "elevation_deg", -89.0, 89.0);
  range(distance, "distance", 1e-3, 1e6);
  range(fovy_deg, "fovy_deg", 1.0, 179.0);
}

double OrbitSamplerConfig::absolute_distance(double d, double fovy) const {
  return relative_distance ? d / std::tan(0.5 * fovy * kDegToRad) : d;
}

CameraBatch sample_orbit(const OrbitSamplerConfig& config, core::Rng& rng) {
  auto uniform = [&rng](const std::vector<double>& r) { return r[0] + (r[1] - r[0]) * rng.uniform01(); };
  const double a0 = 360.0 * rng.uniform01();
  const double elevation = uniform(config.elevation_deg);
  const double distance = uniform(config.distance);
  const double fovy = uniform(config.fovy_deg);
  return fixed_orbit(config.n_view, elevation, config.absolute_distance(distance, fovy), fovy, a0);
}

CameraBatch fixed_orbit(int64_t views, double elevation_deg, double distance, double fovy_deg,
                        double first_azimuth_deg) {
  check(views >= 1, "an orbit needs at least one view");
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const auto azimuth = (first_azimuth_deg + at::arange(views, f64) * (360.0 / static_cast<double>(views))) * kDegToRad;
  const auto elevation = at::full({views}, elevation_deg * kDegToRad, f64);
  const auto dist = at::full({views}, distance, f64);
  return {look_at_origin(elevation, azimuth, dist), at::full({views}, fovy_deg * kDegToRad, at::kFloat)};
}

}  // namespace dreamdpo::camera
