// Cameras on a sphere around the origin, looking at it (OpenGL convention: +y up, the camera
// looks down its -z). Azimuth 0 and elevation 0 put the camera on +z with the identity
// rotation; azimuth turns counter-clockwise seen from above (+y); elevation > 0 looks down.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "camera/camera.h"
#include "core/config.h"
#include "core/rng.h"

namespace dreamdpo::camera {

// elevation, azimuth (radians), distance: [B] -> camera-to-world [B,4,4] (float32).
at::Tensor look_at_origin(const at::Tensor& elevation, const at::Tensor& azimuth, const at::Tensor& distance);

// Focal length in pixels for an image of `height` pixels and vertical field of view `fovy`.
double focal_pixels(double fovy_radians, int64_t height);

struct OrbitSamplerConfig {
  int64_t n_view = 4;                                // views per step, evenly spaced in azimuth
  std::vector<double> elevation_deg = {0.0, 30.0};   // shared by the views of one step
  std::vector<double> distance = {2.5, 3.0};
  std::vector<double> fovy_deg = {40.0, 50.0};
  // threestudio's relative_radius (DreamDPO's official cameras): the sampled distance is
  // divided by tan(fovy/2), so the object fills the same share of the frame at every fovy.
  bool relative_distance = false;

  // The camera distance for a sampled `distance` and fovy (degrees).
  double absolute_distance(double distance, double fovy_deg) const;

  template <class V>
  void visit(V& v) {
    v("n_view", n_view, "views per step, evenly spaced in azimuth");
    v("elevation_deg", elevation_deg, "[min, max] elevation in degrees");
    v("distance", distance, "[min, max] camera distance");
    v("fovy_deg", fovy_deg, "[min, max] vertical field of view in degrees");
    v("relative_distance", relative_distance, "distance is relative: divided by tan(fovy/2) (threestudio relative_radius)");
  }
  void validate(const std::string& path) const;
};

// MVDream-style: one random azimuth a0, views at a0 + k 360/n_view; shared elevation,
// distance and fovy drawn uniformly from their ranges.
CameraBatch sample_orbit(const OrbitSamplerConfig& config, core::Rng& rng);

// Evenly spaced views at fixed elevation, distance and fovy (validation, turntables, eval).
CameraBatch fixed_orbit(int64_t views, double elevation_deg, double distance, double fovy_deg,
                        double first_azimuth_deg = 0.0);

}  // namespace dreamdpo::camera
