// Differentiable rasterizer of 3D Gaussians (3DGS-style splatting).
//
// Pipeline: world -> camera (w2c = inverse(c2w), OpenGL: the camera looks down -z, depth =
// -z_cam) -> EWA projection of R S S^T R^T to a 2D covariance with the perspective Jacobian
// (+0.3 px^2 low-pass dilation) -> 16x16 tile binning -> per-tile depth sort -> front-to-back
// compositing. Projection and compositing are hand-written kernels with hand-written
// backwards (gaussian_projection.h, gaussian_composite.h), each wrapped as an autograd Function.
//
// One deliberate difference from 3DGS: each Gaussian is truncated at its 3-sigma ellipse
// (d^T Sigma^-1 d <= 9) instead of at the tiles its bounding square touches, so the image
// does not depend on the tile grid and the dense reference can reproduce it exactly.
#pragma once
#include <ATen/ATen.h>

#include "camera/camera.h"

namespace dreamdpo::render {

struct RasterSettings {
  int64_t width = 64;
  int64_t height = 64;
  at::Tensor background;      // [3]; undefined means black
  double near_plane = 0.01;   // Gaussians with depth below this are culled
  double low_pass = 0.3;      // px^2 added to the 2D covariance diagonal
};

struct RasterOutput {
  at::Tensor rgb;    // [B,3,H,W] composited over the background
  at::Tensor alpha;  // [B,1,H,W] 1 - final transmittance
  at::Tensor depth;  // [B,1,H,W] sum_i w_i depth_i (not normalised by alpha)
  // The projected centres [B,N,2] (pixels) the image was composited from, and which Gaussians
  // were in front of the camera [B,N]: call means2d.retain_grad() before backward to read the
  // screen-space gradient that drives densification.
  at::Tensor means2d;
  at::Tensor visible;
};

// Screen-space Gaussians of every view. Pixel (row i, column j) has its centre at
// (j + 0.5, i + 0.5); the principal point is (W/2, H/2); image rows grow downwards.
struct ProjectedGaussians {
  at::Tensor means2d;  // [B,N,2] pixels (x right, y down)
  at::Tensor conics;   // [B,N,3] (a, b, c): inverse 2D covariance [[a, b], [b, c]]
  at::Tensor depths;   // [B,N] distance along the view axis
  at::Tensor visible;  // [B,N] bool: in front of the near plane
};

// Differentiable w.r.t. means [N,3], scales [N,3], rotations [N,4] (wxyz); float32 or float64.
// The cameras get no gradient. Culled Gaussians (visible false) keep finite outputs (their
// projection uses depth 1) and pass no gradient back from any output, their depth included.
ProjectedGaussians project_gaussians(const at::Tensor& means, const at::Tensor& scales,
                                     const at::Tensor& rotations, const camera::CameraBatch& cams,
                                     const RasterSettings& settings);

// means [N,3]; scales [N,3] (activated, > 0); rotations [N,4] normalised quaternions wxyz;
// opacities [N] or [N,1] in [0,1]; colours [N,3] (view-independent) or [B,N,3] (per view, e.g.
// SH evaluated per camera in tensor ops). float32 or float64; gradients flow to every input
// and to settings.background. The kernel runs on the tensors' device (the CUDA kernel when
// built with CUDA, else CUDA tensors composite on CPU copies).
RasterOutput rasterize_gaussians(const at::Tensor& means, const at::Tensor& scales,
                                 const at::Tensor& rotations, const at::Tensor& opacities,
                                 const at::Tensor& colours, const camera::CameraBatch& cams,
                                 const RasterSettings& settings);

}  // namespace dreamdpo::render
