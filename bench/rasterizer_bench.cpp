// CPU Gaussian rasterizer: forward and forward+backward, 4 views, 20k Gaussians (the scale of
// a text-to-3D run early on). Results and the command: bench/rasterizer_cpu.md.
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "camera/orbit.h"
#include "core/rng.h"
#include "render/gaussian_rasterizer.h"
#include "render/gaussian_rasterizer_reference.h"
#include "scene/gaussians.h"

#ifdef DREAMDPO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>

#include "render/gaussian_composite.h"
#endif

namespace {

using namespace dreamdpo;

struct Fixture {
  scene::GaussianCloud cloud;
  camera::CameraBatch cams;
  render::RasterSettings settings;
  Fixture(int64_t count, int64_t size, int64_t threads) {
    at::set_num_threads(static_cast<int>(threads));
    scene::GaussiansConfig config;
    config.count = count;
    config.radius = 0.6;
    config.initial_scale = 0.03;
    config.initial_opacity = 0.3;
    core::Rng rng(0);
    cloud = scene::GaussianCloud(config, rng);
    cams = camera::fixed_orbit(4, 15.0, 2.5, 45.0);
    settings.width = settings.height = size;
    settings.background = at::ones({3});
  }
  render::RasterOutput render() {
    return render::rasterize_gaussians(cloud.means(), cloud.scales(), cloud.normalised_rotations(),
                                       cloud.opacities(), cloud.colours(), cams, settings);
  }
};

void BM_RasterizeForward(benchmark::State& state) {
  Fixture f(state.range(0), state.range(1), state.range(2));
  at::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(f.render().rgb.data_ptr());
  state.counters["threads"] = at::get_num_threads();
}

void BM_RasterizeForwardBackward(benchmark::State& state) {
  Fixture f(state.range(0), state.range(1), state.range(2));
  for (auto _ : state) {
    const auto out = f.render();
    (out.rgb.sum() + out.alpha.sum() + out.depth.sum()).backward();
    benchmark::DoNotOptimize(f.cloud.means().grad().data_ptr());
    for (auto& p : f.cloud.parameters()) p.mutable_grad() = at::Tensor();
  }
  state.counters["threads"] = at::get_num_threads();
}

// Args: Gaussians, image size (square), threads.
BENCHMARK(BM_RasterizeForward)->ArgsProduct({{20000}, {64, 256}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RasterizeForwardBackward)->ArgsProduct({{20000}, {64, 256}, {1, 2}})->Unit(benchmark::kMillisecond);

}  // namespace

namespace {
// The projection alone: the hand-written kernels (project_gaussians) against the ATen ops and
// autograd they replaced (project_gaussians_reference). Args: Gaussians, image size, threads.
template <bool kReference>
render::ProjectedGaussians project(Fixture& f, const at::Tensor& scales, const at::Tensor& rotations) {
  const auto fn = kReference ? render::project_gaussians_reference : render::project_gaussians;
  return fn(f.cloud.means(), scales, rotations, f.cams, f.settings);
}

template <bool kReference>
void BM_ProjectOnly(benchmark::State& state) {
  Fixture f(state.range(0), state.range(1), state.range(2));
  at::NoGradGuard no_grad;
  const auto scales = f.cloud.scales(), rotations = f.cloud.normalised_rotations();
  for (auto _ : state) benchmark::DoNotOptimize(project<kReference>(f, scales, rotations).conics.data_ptr());
}

// Forward + backward of sum(means2d) + sum(conics) + sum(depths) w.r.t. means, scales and
// rotations (the activations are formed once, outside the loop).
template <bool kReference>
void BM_ProjectForwardBackward(benchmark::State& state) {
  Fixture f(state.range(0), state.range(1), state.range(2));
  const auto scales = f.cloud.scales().detach().requires_grad_(true);
  const auto rotations = f.cloud.normalised_rotations().detach().requires_grad_(true);
  const std::vector<at::Tensor> inputs = {f.cloud.means(), scales, rotations};
  for (auto _ : state) {
    const auto p = project<kReference>(f, scales, rotations);
    const auto grads = torch::autograd::grad({p.means2d.sum() + p.conics.sum() + p.depths.sum()}, inputs);
    benchmark::DoNotOptimize(grads[0].data_ptr());
  }
}

BENCHMARK_TEMPLATE(BM_ProjectOnly, false)->ArgsProduct({{20000}, {64}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ProjectOnly, true)->ArgsProduct({{20000}, {64}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ProjectForwardBackward, false)->ArgsProduct({{20000}, {64}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ProjectForwardBackward, true)->ArgsProduct({{20000}, {64}, {1, 2}})->Unit(benchmark::kMillisecond);
}  // namespace

#ifdef DREAMDPO_WITH_CUDA
// CUDA rasterizer: 4 views, 256x256, a random object of 100k or 1M Gaussians. Results and
// commands: bench/rasterizer_cuda.md.
namespace {

// Gaussians uniform in a ball of radius 0.6 with anisotropic scales around the mean
// neighbour spacing (as 3DGS initialises them from points), random rotations, opacities and
// colours: overlap per pixel like a typical 3DGS object of that size.
struct CudaScene {
  at::Tensor means, scales, rotations, opacities, colours;
  camera::CameraBatch cams;
  render::RasterSettings settings;
  CudaScene(int64_t count, int64_t size) {
    core::Rng rng(0);
    const auto f = at::TensorOptions().dtype(at::kFloat);
    const double radius = 0.6;
    auto dir = rng.normal({count, 3}, f);
    means = dir / dir.norm(2, 1, true) * radius * rng.uniform({count, 1}, f).pow(1.0 / 3);
    const double spacing = 0.55 * std::cbrt(4.0 / 3.0 * 3.14159265 * radius * radius * radius / count);
    scales = spacing * at::exp(0.5 * rng.normal({count, 3}, f));
    auto q = rng.normal({count, 4}, f);
    rotations = q / q.norm(2, 1, true);
    opacities = 0.05 + 0.9 * rng.uniform({count}, f);
    colours = rng.uniform({count, 3}, f);
    for (auto* t : {&means, &scales, &rotations, &opacities, &colours}) *t = t->to(at::kCUDA).set_requires_grad(true);
    cams = camera::fixed_orbit(4, 15.0, 2.5, 45.0);
    settings.width = settings.height = size;
    settings.background = at::ones({3}, at::TensorOptions().device(at::kCUDA));
  }
  render::RasterOutput render() {
    return render::rasterize_gaussians(means, scales, rotations, opacities, colours, cams, settings);
  }
  void clear_grads() {
    for (auto* t : {&means, &scales, &rotations, &opacities, &colours}) t->mutable_grad() = at::Tensor();
  }
};

// Peak bytes the caching allocator handed out during `work`, above what was allocated before.
template <class Work>
double peak_mib(Work&& work) {
  using namespace c10::cuda::CUDACachingAllocator;
  c10::cuda::device_synchronize();
  const int64_t before = getDeviceStats(0).allocated_bytes[0].current;
  resetPeakStats(0);
  work();
  c10::cuda::device_synchronize();
  return static_cast<double>(getDeviceStats(0).allocated_bytes[0].peak - before) / (1 << 20);
}

void BM_CudaRasterizeForward(benchmark::State& state) {
  CudaScene scene(state.range(0), state.range(1));
  at::NoGradGuard no_grad;
  scene.render();  // warm-up: CUDA context, allocator, kernel loading
  for (auto _ : state) {
    benchmark::DoNotOptimize(scene.render().rgb.data_ptr());
    c10::cuda::device_synchronize();
  }
  state.counters["peak_MiB"] = peak_mib([&] { scene.render(); });
}

void BM_CudaRasterizeForwardBackward(benchmark::State& state) {
  CudaScene scene(state.range(0), state.range(1));
  auto step = [&] {
    const auto out = scene.render();
    (out.rgb.sum() + out.alpha.sum() + out.depth.sum()).backward();
  };
  step();
  scene.clear_grads();
  for (auto _ : state) {
    step();
    c10::cuda::device_synchronize();
    scene.clear_grads();
  }
  state.counters["peak_MiB"] = peak_mib(step);
  scene.clear_grads();
}

// The compositing kernels alone (no projection, no autograd) on the scene's projection.
void BM_CudaCompositeOnly(benchmark::State& state) {
  CudaScene scene(state.range(0), state.range(1));
  at::NoGradGuard no_grad;
  const auto p = render::project_gaussians(scene.means, scene.scales, scene.rotations, scene.cams, scene.settings);
  const int64_t views = scene.cams.size(), n = scene.means.size(0), size = state.range(1);
  const auto opac = scene.opacities.reshape({1, n}).expand({views, n}).contiguous();
  const auto col = scene.colours.unsqueeze(0).expand({views, n, 3}).contiguous();
  const auto bg = scene.settings.background.contiguous();
  const bool with_backward = state.range(2) != 0;
  const auto ones = at::ones({views, 1, size, size}, p.means2d.options());
  const auto ones3 = at::ones({views, 3, size, size}, p.means2d.options());
  auto run = [&] {
    const auto f = render::composite_forward_cuda(p.means2d, p.conics, opac, col, p.depths, p.visible, bg, size, size);
    if (with_backward) {
      render::composite_backward_cuda(p.means2d, p.conics, opac, col, p.depths, bg, f.tile_offsets, f.tile_ids, ones3,
                                      ones, ones, size, size);
    }
    return f.tile_ids.numel();
  };
  int64_t entries = run();
  for (auto _ : state) {
    entries = run();
    c10::cuda::device_synchronize();
  }
  state.counters["tile_entries"] = static_cast<double>(entries);
  state.counters["peak_MiB"] = peak_mib(run);
}

// Args: Gaussians, image size (square) [, with backward].
BENCHMARK(BM_CudaRasterizeForward)->ArgsProduct({{100000, 1000000}, {256}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CudaRasterizeForwardBackward)
    ->ArgsProduct({{100000, 1000000}, {256}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CudaCompositeOnly)->ArgsProduct({{100000, 1000000}, {256}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
#endif  // DREAMDPO_WITH_CUDA
