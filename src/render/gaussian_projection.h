// The EWA projection kernel of the Gaussian rasterizer: forward and hand-written backward
// (the maths: gaussian_projection_math.h). Every device has the same pair of functions;
// project_gaussians (gaussian_rasterizer.h) wraps them in one autograd Function and picks by
// the device of its tensors.
//
// Inputs: means [N,3], scales [N,3] (activated), rotations [N,4] (unit wxyz), w2c [B,4,4]
// (world-to-camera, OpenGL: the camera looks down -z), focal [B] (pixels); all contiguous, one
// floating dtype, one device. Outputs as ProjectedGaussians: means2d [B,N,2], conics [B,N,3],
// depths [B,N], visible [B,N] bool.
//
// The backward gives gradients w.r.t. means, scales and rotations only: the cameras (w2c,
// focal) never require grad in our loops. A Gaussian's gradient is the sum of its B views'
// contributions in view order (no atomics: bit-identical from call to call). Culled pairs
// (visible false) contribute nothing, whatever gradient their outputs received.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::render {

struct ProjectionParams {
  int64_t width = 64, height = 64;
  double near_plane = 0.01;  // Gaussians with depth <= near_plane are culled
  double low_pass = 0.3;     // px^2 added to the 2D covariance diagonal
};

struct ProjectionForward {
  at::Tensor means2d, conics, depths, visible;
};

struct ProjectionGrads {
  at::Tensor means, scales, rotations;
};

ProjectionForward project_forward_cpu(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                      const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& params);

// grad_means2d [B,N,2], grad_conics [B,N,3], grad_depths [B,N] (defined, contiguous).
ProjectionGrads project_backward_cpu(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                     const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& params,
                                     const at::Tensor& grad_means2d, const at::Tensor& grad_conics,
                                     const at::Tensor& grad_depths);

// The CUDA kernel has the same contracts (tensors on one CUDA device). Without it CUDA tensors
// project on CPU copies.
#ifdef DREAMDPO_WITH_CUDA
ProjectionForward project_forward_cuda(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                       const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& params);
ProjectionGrads project_backward_cuda(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                      const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& params,
                                      const at::Tensor& grad_means2d, const at::Tensor& grad_conics,
                                      const at::Tensor& grad_depths);
#endif

}  // namespace dreamdpo::render
