// LibTorch side of the CUDA compositing kernel: checks, allocation, dispatch by dtype. The
// kernels themselves are in gaussian_composite_cuda.cu (raw pointers, plain nvcc). This file
// is globbed into every build; it compiles to nothing without CUDA.
#ifdef DREAMDPO_WITH_CUDA
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <limits>
#include <vector>

#include "core/error.h"
#include "render/gaussian_composite.h"
#include "render/gaussian_composite_cuda_kernels.h"

namespace dreamdpo::render {

namespace {

// Scratch for the kernels: byte tensors from the caching allocator, kept alive until the
// wrapper returns. Freed blocks are reused in stream order, so queued kernels stay safe.
class Scratch {
 public:
  explicit Scratch(const at::Device& device) : options_(at::TensorOptions().dtype(at::kByte).device(device)) {}
  cuda::Allocate allocator() {
    // At least one byte: CUB reads a null pointer as a size query.
    return [this](size_t bytes) {
      held_.push_back(at::empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, options_));
      return held_.back().data_ptr();
    };
  }

 private:
  at::TensorOptions options_;
  std::vector<at::Tensor> held_;
};

void check_inputs(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                  const at::Tensor& colours, const at::Tensor& depths, const at::Tensor& background, int64_t width,
                  int64_t height) {
  const auto dtype = means2d.scalar_type();
  check(dtype == at::kFloat || dtype == at::kDouble, "rasterizer (CUDA kernel): float32 or float64 tensors expected, got ",
        dtype);
  check(means2d.is_cuda(), "rasterizer (CUDA kernel): inputs must be CUDA tensors, got ", means2d.device());
  for (const auto* t : {&means2d, &conics, &opacities, &colours, &depths, &background}) {
    check(t->scalar_type() == dtype && t->is_contiguous() && t->device() == means2d.device(),
          "rasterizer (CUDA kernel): inputs must be contiguous tensors of one dtype on one CUDA device");
  }
  check(means2d.dim() == 3 && means2d.size(2) == 2, "rasterizer (CUDA kernel): means2d must be [B,N,2], got ",
        means2d.sizes());
  const int64_t b = means2d.size(0), n = means2d.size(1);
  check(conics.sizes() == at::IntArrayRef({b, n, 3}) && colours.sizes() == at::IntArrayRef({b, n, 3}) &&
            opacities.sizes() == at::IntArrayRef({b, n}) && depths.sizes() == at::IntArrayRef({b, n}) &&
            background.numel() == 3,
        "rasterizer (CUDA kernel): expected conics/colours [B,N,3], opacities/depths [B,N], background [3]");
  check(width >= 1 && height >= 1, "rasterizer (CUDA kernel): image size must be positive");
  check(b * n < std::numeric_limits<int32_t>::max(), "rasterizer (CUDA kernel): at most 2^31 Gaussians over all views");
}

template <typename scalar_t>
cuda::Splats<scalar_t> splats_of(const at::Tensor& means2d, const at::Tensor& conics, const at::Tensor& opacities,
                                 const at::Tensor& colours, const at::Tensor& depths, const at::Tensor* visible,
                                 const at::Tensor& background, int64_t width, int64_t height) {
  return {means2d.size(0),
          means2d.size(1),
          width,
          height,
          means2d.data_ptr<scalar_t>(),
          conics.data_ptr<scalar_t>(),
          opacities.data_ptr<scalar_t>(),
          colours.data_ptr<scalar_t>(),
          depths.data_ptr<scalar_t>(),
          visible ? visible->data_ptr<bool>() : nullptr,
          background.data_ptr<scalar_t>()};
}

}  // namespace

CompositeForward composite_forward_cuda(const at::Tensor& means2d, const at::Tensor& conics,
                                        const at::Tensor& opacities, const at::Tensor& colours,
                                        const at::Tensor& depths, const at::Tensor& visible,
                                        const at::Tensor& background, int64_t width, int64_t height) {
  check_inputs(means2d, conics, opacities, colours, depths, background, width, height);
  check(visible.scalar_type() == at::kBool && visible.is_contiguous() && visible.device() == means2d.device() &&
            visible.sizes() == opacities.sizes(),
        "rasterizer (CUDA kernel): visible must be a contiguous bool [B,N] tensor on the inputs' device");
  const c10::cuda::CUDAGuard guard(means2d.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  const int64_t views = means2d.size(0), lists = views * cuda::tiles_x(width) * cuda::tiles_y(height);
  const auto options = means2d.options();
  const auto index_options = options.dtype(at::kLong);
  CompositeForward out;
  out.rgb = at::empty({views, 3, height, width}, options);
  out.alpha = at::empty({views, 1, height, width}, options);
  out.depth = at::empty({views, 1, height, width}, options);
  out.tile_offsets = at::empty({lists + 1}, index_options);
  Scratch scratch(means2d.device());
  const auto allocate = scratch.allocator();
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "composite_forward_cuda", [&] {
    const auto s = splats_of<scalar_t>(means2d, conics, opacities, colours, depths, &visible, background, width, height);
    const auto gaussian_offsets = at::empty({means2d.size(0) * means2d.size(1) + 1}, index_options);
    const int64_t total = cuda::count_tile_entries(s, gaussian_offsets.data_ptr<int64_t>(), allocate, stream);
    out.tile_ids = at::empty({total}, options.dtype(at::kInt));
    cuda::build_tile_lists(s, gaussian_offsets.data_ptr<int64_t>(), total, out.tile_offsets.data_ptr<int64_t>(),
                           out.tile_ids.data_ptr<int32_t>(), allocate, stream);
    cuda::composite_forward(s, out.tile_offsets.data_ptr<int64_t>(), out.tile_ids.data_ptr<int32_t>(),
                            out.rgb.data_ptr<scalar_t>(), out.alpha.data_ptr<scalar_t>(), out.depth.data_ptr<scalar_t>(),
                            stream);
  });
  return out;
}

CompositeGrads composite_backward_cuda(const at::Tensor& means2d, const at::Tensor& conics,
                                       const at::Tensor& opacities, const at::Tensor& colours,
                                       const at::Tensor& depths, const at::Tensor& background,
                                       const at::Tensor& tile_offsets, const at::Tensor& tile_ids,
                                       const at::Tensor& grad_rgb, const at::Tensor& grad_alpha,
                                       const at::Tensor& grad_depth, int64_t width, int64_t height) {
  check_inputs(means2d, conics, opacities, colours, depths, background, width, height);
  const int64_t views = means2d.size(0), lists = views * cuda::tiles_x(width) * cuda::tiles_y(height);
  check(tile_offsets.scalar_type() == at::kLong && tile_offsets.numel() == lists + 1 &&
            tile_ids.scalar_type() == at::kInt && tile_offsets.device() == means2d.device() &&
            tile_ids.device() == means2d.device() && tile_offsets.is_contiguous() && tile_ids.is_contiguous(),
        "rasterizer (CUDA kernel): tile lists must come from composite_forward_cuda for the same inputs");
  for (const auto* g : {&grad_rgb, &grad_alpha, &grad_depth}) {
    check(g->defined() && g->dim() == 4 && g->device() == means2d.device() && g->size(0) == views && g->size(2) == height &&
              g->size(3) == width,
          "rasterizer (CUDA kernel): pixel gradients must be [B,C,H,W] on the inputs' device");
  }
  const c10::cuda::CUDAGuard guard(means2d.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  const auto options = means2d.options();
  const auto g_rgb = grad_rgb.to(options).contiguous();
  const auto g_alpha = grad_alpha.to(options).contiguous();
  const auto g_depth = grad_depth.to(options).contiguous();
  CompositeGrads grads;
  grads.means2d = at::empty_like(means2d);
  grads.conics = at::empty_like(conics);
  grads.opacities = at::empty_like(opacities);
  grads.colours = at::empty_like(colours);
  grads.depths = at::empty_like(depths);
  Scratch scratch(means2d.device());
  AT_DISPATCH_FLOATING_TYPES(means2d.scalar_type(), "composite_backward_cuda", [&] {
    const auto s = splats_of<scalar_t>(means2d, conics, opacities, colours, depths, nullptr, background, width, height);
    const cuda::SplatGrads<scalar_t> out{grads.means2d.data_ptr<scalar_t>(), grads.conics.data_ptr<scalar_t>(),
                                         grads.opacities.data_ptr<scalar_t>(), grads.colours.data_ptr<scalar_t>(),
                                         grads.depths.data_ptr<scalar_t>()};
    cuda::composite_backward(s, tile_offsets.data_ptr<int64_t>(), tile_ids.data_ptr<int32_t>(), tile_ids.numel(),
                             g_rgb.data_ptr<scalar_t>(), g_alpha.data_ptr<scalar_t>(), g_depth.data_ptr<scalar_t>(), out,
                             scratch.allocator(), stream);
  });
  return grads;
}

}  // namespace dreamdpo::render
#endif  // DREAMDPO_WITH_CUDA
