// LibTorch side of the CUDA projection kernel: checks, allocation, dispatch by dtype. The
// kernels are in gaussian_projection_cuda.cu (raw pointers, plain nvcc). This file is globbed
// into every build; it compiles to nothing without CUDA.
#ifdef DREAMDPO_WITH_CUDA
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "core/error.h"
#include "render/gaussian_projection.h"
#include "render/gaussian_projection_cuda_kernels.h"

namespace dreamdpo::render {

namespace {

void check_inputs(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                  const at::Tensor& w2c, const at::Tensor& focal) {
  const auto dtype = means.scalar_type();
  check(dtype == at::kFloat || dtype == at::kDouble,
        "projection (CUDA kernel): float32 or float64 tensors expected, got ", dtype);
  check(means.is_cuda(), "projection (CUDA kernel): inputs must be CUDA tensors, got ", means.device());
  for (const auto* t : {&means, &scales, &rotations, &w2c, &focal}) {
    check(t->scalar_type() == dtype && t->is_contiguous() && t->device() == means.device(),
          "projection (CUDA kernel): inputs must be contiguous tensors of one dtype on one CUDA device");
  }
  const int64_t n = means.size(0);
  check(means.dim() == 2 && means.size(1) == 3 && scales.sizes() == means.sizes() &&
            rotations.sizes() == at::IntArrayRef({n, 4}),
        "projection (CUDA kernel): expected means/scales [N,3] and rotations [N,4], got ", means.sizes(), ", ",
        scales.sizes(), ", ", rotations.sizes());
  check(w2c.dim() == 3 && w2c.size(1) == 4 && w2c.size(2) == 4 && focal.sizes() == at::IntArrayRef({w2c.size(0)}),
        "projection (CUDA kernel): expected w2c [B,4,4] and focal [B], got ", w2c.sizes(), ", ", focal.sizes());
}

template <typename scalar_t>
projection::Inputs<scalar_t> inputs_of(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                       const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& p) {
  return {w2c.size(0),
          means.size(0),
          means.data_ptr<scalar_t>(),
          scales.data_ptr<scalar_t>(),
          rotations.data_ptr<scalar_t>(),
          w2c.data_ptr<scalar_t>(),
          focal.data_ptr<scalar_t>(),
          static_cast<scalar_t>(0.5 * static_cast<double>(p.width)),
          static_cast<scalar_t>(0.5 * static_cast<double>(p.height)),
          static_cast<scalar_t>(p.near_plane),
          static_cast<scalar_t>(p.low_pass)};
}

}  // namespace

ProjectionForward project_forward_cuda(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                       const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& params) {
  check_inputs(means, scales, rotations, w2c, focal);
  const c10::cuda::CUDAGuard guard(means.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  const int64_t views = w2c.size(0), n = means.size(0);
  const auto options = means.options();
  ProjectionForward out;
  out.means2d = at::empty({views, n, 2}, options);
  out.conics = at::empty({views, n, 3}, options);
  out.depths = at::empty({views, n}, options);
  out.visible = at::empty({views, n}, options.dtype(at::kBool));
  AT_DISPATCH_FLOATING_TYPES(means.scalar_type(), "project_forward_cuda", [&] {
    const projection::Outputs<scalar_t> o{out.means2d.data_ptr<scalar_t>(), out.conics.data_ptr<scalar_t>(),
                                          out.depths.data_ptr<scalar_t>(), out.visible.data_ptr<bool>()};
    cuda::project_forward(inputs_of<scalar_t>(means, scales, rotations, w2c, focal, params), o, stream);
  });
  return out;
}

ProjectionGrads project_backward_cuda(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                      const at::Tensor& w2c, const at::Tensor& focal, const ProjectionParams& params,
                                      const at::Tensor& grad_means2d, const at::Tensor& grad_conics,
                                      const at::Tensor& grad_depths) {
  check_inputs(means, scales, rotations, w2c, focal);
  const int64_t views = w2c.size(0), n = means.size(0);
  const auto dtype = means.scalar_type();
  for (const auto* g : {&grad_means2d, &grad_conics, &grad_depths}) {
    check(g->defined() && g->scalar_type() == dtype && g->is_contiguous() && g->device() == means.device(),
          "projection (CUDA kernel): output gradients must be contiguous tensors of the inputs' dtype and device");
  }
  check(grad_means2d.sizes() == at::IntArrayRef({views, n, 2}) && grad_conics.sizes() == at::IntArrayRef({views, n, 3}) &&
            grad_depths.sizes() == at::IntArrayRef({views, n}),
        "projection (CUDA kernel): output gradients must be [B,N,2], [B,N,3], [B,N]");
  const c10::cuda::CUDAGuard guard(means.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  ProjectionGrads grads;
  grads.means = at::empty_like(means);
  grads.scales = at::empty_like(scales);
  grads.rotations = at::empty_like(rotations);
  AT_DISPATCH_FLOATING_TYPES(dtype, "project_backward_cuda", [&] {
    const projection::Gradients<scalar_t> g{grad_means2d.data_ptr<scalar_t>(), grad_conics.data_ptr<scalar_t>(),
                                            grad_depths.data_ptr<scalar_t>(),   grads.means.data_ptr<scalar_t>(),
                                            grads.scales.data_ptr<scalar_t>(),  grads.rotations.data_ptr<scalar_t>()};
    cuda::project_backward(inputs_of<scalar_t>(means, scales, rotations, w2c, focal, params), g, stream);
  });
  return grads;
}

}  // namespace dreamdpo::render
#endif  // DREAMDPO_WITH_CUDA
