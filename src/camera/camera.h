// A batch of cameras: camera-to-world 4x4 in the OpenGL convention (+y up, the camera looks
// down -z) plus the vertical field of view. Conversions to other conventions live in camera/.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::camera {

struct CameraBatch {
  at::Tensor c2w;   // [B, 4, 4] float
  at::Tensor fovy;  // [B] radians

  int64_t size() const { return c2w.defined() ? c2w.size(0) : 0; }
  // The same cameras repeated `times` along the batch (for pair members and CFG halves).
  CameraBatch repeat(int64_t times) const {
    return {c2w.repeat({times, 1, 1}), fovy.repeat({times})};
  }
};

}  // namespace dreamdpo::camera
