// Samples the density of a cloud of 3D Gaussians on a regular grid, for mesh extraction:
//   sigma(x) = sum_i opacity_i * exp(-0.5 (x - mu_i)^T Sigma_i^-1 (x - mu_i))
// and the density-weighted colour sum_i w_i(x) c_i / sigma(x), with c_i the view-independent
// (DC band) colour clamped to [0,1]. Like the rasterizer, each Gaussian is cut off beyond
// `cutoff_sigmas` Mahalanobis distance, so skipping the Gaussians whose cutoff box misses a
// block of grid points changes nothing (no seams between blocks).
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <optional>

#include "scene/gaussians.h"

namespace dreamdpo::exporters {

struct DensityGridOptions {
  int64_t resolution = 128;  // R: grid points per axis (>= 2)
  // Box to sample; when unset, the box around the means padded by `padding_scales` times the
  // largest scale of any Gaussian.
  std::optional<std::array<float, 3>> box_min, box_max;
  double padding_scales = 3.0;
  double cutoff_sigmas = 3.0;  // Mahalanobis radius beyond which a Gaussian contributes 0
  int64_t block = 4;  // largest leaf block edge in grid points; the grid is halved recursively
                      // down to leaves, culling Gaussians whose cutoff box misses each part
  // Upper bound on points x Gaussians evaluated at once: bounds memory (8 bytes each, a few
  // temporaries) whatever the cloud and grid sizes.
  int64_t max_pairs = int64_t{1} << 22;
};

struct DensityGrid {
  // Grid point (i, j, k) sits at box_min + (i, j, k) * (box_max - box_min) / (R - 1).
  at::Tensor density;  // [R,R,R] float32 CPU, indexed [x][y][z]
  at::Tensor colour;   // [R,R,R,3] float32 CPU in [0,1]; 0 where the density is 0
  std::array<float, 3> box_min{}, box_max{};
};

// Runs without autograd, on the cloud's device; the result is on the CPU.
DensityGrid sample_density_grid(const scene::GaussianCloud& cloud,
                                const DensityGridOptions& options = {});

}  // namespace dreamdpo::exporters
