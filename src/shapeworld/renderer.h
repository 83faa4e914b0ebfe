// Ground-truth renders of ShapeWorld scenes by analytic ray casting: every pixel of every view
// at once in batched ATen ops, on the device of the camera tensors (CPU or CUDA). Not
// differentiable; it draws training images and evaluation references.
//
// Conventions: one ray per pixel centre (pixel (i, j) has its centre at (j + 0.5, i + 0.5)),
// the principal point at the image centre, focal = 0.5 H / tan(fovy / 2), OpenGL cameras
// (+y up, looking down -z). Shading: colour * (ambient + diffuse * max(0, n . l)).
#pragma once
#include <ATen/ATen.h>

#include <array>

#include "camera/camera.h"
#include "shapeworld/layout.h"

namespace dreamdpo::shapeworld {

struct RenderOptions {
  std::array<float, 3> light_direction = {0.4f, 0.8f, 0.45f};  // towards the light (world), normalised
  float ambient = 0.3f;
  float diffuse = 0.7f;
  std::array<float, 3> background = {1.0f, 1.0f, 1.0f};
  int64_t supersample = 1;   // k: k x k rays per pixel, averaged
  int64_t torus_steps = 64;  // sphere-tracing steps for tori
};

struct RenderedScene {
  at::Tensor rgb;    // [B, 3, H, W] in [0, 1], background where nothing is hit
  at::Tensor alpha;  // [B, 1, H, W], 1 on objects (fractional on edges when supersampled)
  at::Tensor depth;  // [B, 1, H, W], distance along the view axis (camera -z); 0 on background
};

RenderedScene render_scene(const Scene& scene, const camera::CameraBatch& cameras, int64_t width, int64_t height,
                           const RenderOptions& options = {});

}  // namespace dreamdpo::shapeworld
