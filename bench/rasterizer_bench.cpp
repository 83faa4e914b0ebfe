// CPU Gaussian rasterizer: forward and forward+backward, 4 views, 20k Gaussians (the scale of
// a text-to-3D run early on). Results and the command: bench/rasterizer_cpu.md.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cmath>

#include "camera/orbit.h"
#include "core/rng.h"
#include "render/gaussian_rasterizer.h"
#include "scene/gaussians.h"

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
void BM_ProjectOnly(benchmark::State& state) {
  Fixture f(state.range(0), state.range(1), state.range(2));
  at::NoGradGuard no_grad;
  for (auto _ : state) {
    const auto p = render::project_gaussians(f.cloud.means(), f.cloud.scales(), f.cloud.normalised_rotations(),
                                             f.cams, f.settings);
    benchmark::DoNotOptimize(p.conics.data_ptr());
  }
}
BENCHMARK(BM_ProjectOnly)->ArgsProduct({{20000}, {64}, {1, 2}})->Unit(benchmark::kMillisecond);
}  // namespace
