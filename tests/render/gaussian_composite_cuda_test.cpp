// The CUDA compositing kernel against the CPU kernel (the CPU one is checked against the dense
// reference in gaussian_rasterizer_test.cpp). Skipped where no CUDA device is present.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <iostream>

#include "camera/orbit.h"
#include "core/rng.h"
#include "render/gaussian_composite.h"
#include "render/gaussian_rasterizer.h"
#include "test_helpers.h"

namespace dreamdpo::render {
namespace {

#define DREAMDPO_REQUIRE_CUDA_DEVICE() \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device"

// Largest |a - b| relative to max(1, max |b|).
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  const auto reference = b.to(at::kCPU, at::kDouble);
  if (reference.numel() == 0) return 0.0;
  const double scale = std::max(1.0, reference.abs().max().item<double>());
  return (a.to(at::kCPU, at::kDouble) - reference).abs().max().item<double>() / scale;
}

// 3D scene in activated parameters, as leaves on `device`.
struct WorldScene {
  at::Tensor means, scales, rotations, opacities, colours, background;
  std::vector<at::Tensor> params() const { return {means, scales, rotations, opacities, colours, background}; }
};

WorldScene world_scene(int64_t n, int64_t views, uint64_t seed, at::ScalarType dtype, const at::Device& device) {
  core::Rng rng(seed);
  const auto f = at::TensorOptions().dtype(at::kDouble);
  WorldScene s;
  s.means = (rng.uniform({n, 3}, f) * 2 - 1) * 0.6;
  s.scales = 0.03 + 0.15 * rng.uniform({n, 3}, f);
  const auto q = rng.normal({n, 4}, f);
  s.rotations = q / q.norm(2, 1, true);
  s.opacities = 0.05 + 0.9 * rng.uniform({n}, f);
  s.colours = rng.uniform({views, n, 3}, f);  // per-view colours, as the rasterizer gets them from SH
  s.background = rng.uniform({3}, f);
  for (auto* t : {&s.means, &s.scales, &s.rotations, &s.opacities, &s.colours, &s.background}) {
    *t = t->to(device, dtype).set_requires_grad(true);
  }
  return s;
}

const char* const kWorldNames[] = {"means", "scales", "rotations", "opacities", "colours", "background"};

// Gradients to every input of a random-weight loss on all three outputs.
std::vector<at::Tensor> world_gradients(const WorldScene& s, const camera::CameraBatch& cams, int64_t w, int64_t h,
                                        RasterOutput* out) {
  RasterSettings settings;
  settings.width = w;
  settings.height = h;
  settings.background = s.background;
  *out = rasterize_gaussians(s.means, s.scales, s.rotations, s.opacities, s.colours, cams, settings);
  core::Rng rng(77);
  const auto f = at::TensorOptions().dtype(s.means.scalar_type());
  const int64_t b = cams.size();
  const auto device = s.means.device();
  const auto loss = (out->rgb * rng.normal({b, 3, h, w}, f).to(device)).sum() +
                    (out->alpha * rng.normal({b, 1, h, w}, f).to(device)).sum() +
                    0.3 * (out->depth * rng.normal({b, 1, h, w}, f).to(device)).sum();
  return torch::autograd::grad({loss}, s.params());
}

TEST(GaussianRasterizerCuda, RasterizeOnCudaMatchesCpuWithGradientsForEveryInput) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const int64_t w = 45, h = 38;  // partial tiles on both edges
  const auto cams = camera::fixed_orbit(2, 20.0, 3.0, 50.0, 30.0);
  const auto cpu = world_scene(120, 2, 3, at::kDouble, at::kCPU);
  const auto gpu = world_scene(120, 2, 3, at::kDouble, at::kCUDA);
  RasterOutput out_cpu, out_gpu;
  const auto g_cpu = world_gradients(cpu, cams, w, h, &out_cpu);
  const auto g_gpu = world_gradients(gpu, cams, w, h, &out_gpu);
  EXPECT_TRUE(out_gpu.rgb.is_cuda());
  EXPECT_GT(out_cpu.alpha.mean().item<double>(), 0.1);  // the scene covers the image
  EXPECT_LE(relative_error(out_gpu.rgb, out_cpu.rgb), 1e-10);
  EXPECT_LE(relative_error(out_gpu.alpha, out_cpu.alpha), 1e-10);
  EXPECT_LE(relative_error(out_gpu.depth, out_cpu.depth), 1e-10);
  for (size_t i = 0; i < g_cpu.size(); ++i) {
    ASSERT_GT(g_cpu[i].abs().max().item<double>(), 0) << kWorldNames[i];
    EXPECT_TRUE(g_gpu[i].is_cuda()) << kWorldNames[i];
    EXPECT_LE(relative_error(g_gpu[i], g_cpu[i]), 1e-9) << kWorldNames[i];
  }
}

TEST(GaussianRasterizerCuda, CullsGaussiansBehindTheCameraOnCuda) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const auto cams = camera::fixed_orbit(1, 0.0, 3.0, 60.0);
  RasterSettings settings;
  settings.width = settings.height = 16;
  settings.background = at::tensor({0.2f, 0.3f, 0.4f}).to(at::kCUDA);
  const auto cuda = at::TensorOptions().device(at::kCUDA);
  const auto out = rasterize_gaussians(at::tensor({0.f, 0.f, 3.5f, 0.f, 0.f, 3.0f}, cuda).view({2, 3}),
                                       at::full({2, 3}, 0.3f, cuda), at::tensor({1.f, 0.f, 0.f, 0.f}, cuda).repeat({2, 1}),
                                       at::full({2}, 0.9f, cuda), at::ones({2, 3}, cuda), cams, settings);
  EXPECT_EQ(out.alpha.abs().max().item<double>(), 0.0);
  EXPECT_NEAR(out.rgb[0][2][5][7].item<double>(), 0.4, 1e-7);
}

#ifdef DREAMDPO_GAUSSIAN_CUDA_KERNEL

// Screen-space inputs of the compositing kernel.
struct Splats {
  at::Tensor means2d, conics, opacities, colours, depths, visible, background;
  Splats to(const at::Device& device) const {
    return {means2d.to(device), conics.to(device), opacities.to(device), colours.to(device),
            depths.to(device),  visible.to(device), background.to(device)};
  }
};

struct SplatCase {
  const char* name;
  int64_t count, width, height;
  double min_opacity, max_opacity;
};

void PrintTo(const SplatCase& c, std::ostream* os) { *os << c.name; }

// Random splats with the awkward cases mixed in: a crowd over one spot (more than a batch of
// 256 per tile), centres off-screen and exactly on tile borders, invisible ("behind the
// camera") Gaussians, degenerate and NaN conics, opacities below 1/255 and near 1, tied depths.
Splats random_splats(const SplatCase& c, int64_t views, uint64_t seed, at::ScalarType dtype) {
  core::Rng rng(seed);
  const auto f = at::TensorOptions().dtype(at::kDouble);
  const int64_t n = c.count;
  auto x = rng.uniform({views, n}, f) * (c.width + 24) - 12;
  auto y = rng.uniform({views, n}, f) * (c.height + 24) - 12;
  const auto index = at::arange(n, f).expand({views, n});
  const auto crowd = (index.fmod(3) == 0);
  x = at::where(crowd, c.width / 2.0 + 3 * rng.normal({views, n}, f), x);
  y = at::where(crowd, c.height / 2.0 + 3 * rng.normal({views, n}, f), y);
  x = at::where(index.fmod(7) == 1, at::full_like(x, 16.0), x);  // on a tile border
  y = at::where(index.fmod(11) == 2, at::full_like(y, 16.0), y);
  // Covariance R diag(s^2) R^T + 0.3, then its inverse (the conic).
  const auto sx = 0.3 + 6 * rng.uniform({views, n}, f), sy = 0.3 + 6 * rng.uniform({views, n}, f);
  const auto angle = rng.uniform({views, n}, f) * 3.14159;
  const auto cs = angle.cos(), sn = angle.sin();
  const auto s00 = cs * cs * sx * sx + sn * sn * sy * sy + 0.3, s11 = sn * sn * sx * sx + cs * cs * sy * sy + 0.3;
  const auto s01 = cs * sn * (sx * sx - sy * sy);
  const auto det = s00 * s11 - s01 * s01;
  auto conics = at::stack({s11 / det, -s01 / det, s00 / det}, 2);
  if (n > 15) {
    conics.select(1, 5).copy_(at::tensor({1.0, 1.0, 1.0}, f));   // det 0
    conics.select(1, 10).copy_(at::tensor({1.0, 2.0, 1.0}, f));  // det < 0
    conics.select(1, 15).copy_(at::tensor({NAN, 0.0, 1.0}, f));
  }
  auto opacities = c.min_opacity + (c.max_opacity - c.min_opacity) * rng.uniform({views, n}, f);
  opacities = at::where(index.fmod(23) == 4, at::full_like(opacities, 0.002), opacities);
  auto depths = 0.5 + 4.5 * rng.uniform({views, n}, f);
  depths = at::where(index.fmod(5) == 0, at::full_like(depths, 2.0), depths);  // ties: id order decides
  const auto visible = rng.uniform({views, n}, f) > 0.1;
  depths = at::where(visible, depths, -depths);
  Splats s{at::stack({x, y}, 2), conics, opacities, rng.uniform({views, n, 3}, f), depths, visible,
           rng.uniform({3}, f)};
  for (auto* t : {&s.means2d, &s.conics, &s.opacities, &s.colours, &s.depths, &s.background}) {
    *t = t->to(dtype).contiguous();
  }
  return s;
}

CompositeForward forward(const Splats& s, int64_t w, int64_t h) {
  const auto fn = s.means2d.is_cuda() ? composite_forward_cuda : composite_forward_cpu;
  return fn(s.means2d, s.conics, s.opacities, s.colours, s.depths, s.visible, s.background, w, h);
}

struct PixelGrads {
  at::Tensor rgb, alpha, depth;
};

PixelGrads random_pixel_grads(int64_t views, int64_t w, int64_t h, at::ScalarType dtype) {
  core::Rng rng(5);
  const auto f = at::TensorOptions().dtype(dtype);
  return {rng.normal({views, 3, h, w}, f), rng.normal({views, 1, h, w}, f), rng.normal({views, 1, h, w}, f)};
}

CompositeGrads backward(const Splats& s, const CompositeForward& fwd, const PixelGrads& g, int64_t w, int64_t h) {
  const auto device = s.means2d.device();
  const auto fn = s.means2d.is_cuda() ? composite_backward_cuda : composite_backward_cpu;
  return fn(s.means2d, s.conics, s.opacities, s.colours, s.depths, s.background, fwd.tile_offsets, fwd.tile_ids,
            g.rgb.to(device), g.alpha.to(device), g.depth.to(device), w, h);
}

std::vector<at::Tensor> list_of(const CompositeGrads& g) { return {g.means2d, g.conics, g.opacities, g.colours, g.depths}; }
const char* const kGradNames[] = {"means2d", "conics", "opacities", "colours", "depths"};

class GaussianCompositeCuda : public ::testing::TestWithParam<SplatCase> {};

TEST_P(GaussianCompositeCuda, ForwardAndBackwardMatchTheCpuKernel) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const auto& c = GetParam();
  const int64_t views = 2;
  for (auto dtype : {at::kDouble, at::kFloat}) {
    const auto cpu = random_splats(c, views, 21, dtype);
    const auto gpu = cpu.to(at::kCUDA);
    const auto f_cpu = forward(cpu, c.width, c.height);
    const auto f_gpu = forward(gpu, c.width, c.height);
    // Same lists: same tile rectangles, depth order and id tie-break.
    ASSERT_TRUE(at::equal(f_gpu.tile_offsets.cpu(), f_cpu.tile_offsets)) << c.name;
    ASSERT_TRUE(at::equal(f_gpu.tile_ids.cpu(), f_cpu.tile_ids)) << c.name;
    ASSERT_GT(f_cpu.tile_ids.numel(), 0);
    const double tol = dtype == at::kDouble ? 1e-10 : 1e-5;
    EXPECT_LE(relative_error(f_gpu.rgb, f_cpu.rgb), tol) << c.name << " " << dtype;
    EXPECT_LE(relative_error(f_gpu.alpha, f_cpu.alpha), tol) << c.name << " " << dtype;
    EXPECT_LE(relative_error(f_gpu.depth, f_cpu.depth), tol) << c.name << " " << dtype;

    const auto pixel_grads = random_pixel_grads(views, c.width, c.height, dtype);
    const auto g_cpu = list_of(backward(cpu, f_cpu, pixel_grads, c.width, c.height));
    const auto g_gpu = list_of(backward(gpu, f_gpu, pixel_grads, c.width, c.height));
    // Measured on an H100: <= 1.3e-15 (float64) and <= 7.2e-7 (float32; the backward recovers
    // transmittance by division, a few ulp of drift per splat).
    const double grad_tol = dtype == at::kDouble ? 1e-10 : 1e-5;
    for (size_t i = 0; i < g_cpu.size(); ++i) {
      ASSERT_GT(g_cpu[i].abs().max().item<double>(), 0) << kGradNames[i];
      const double err = relative_error(g_gpu[i], g_cpu[i]);
      EXPECT_LE(err, grad_tol) << c.name << " " << kGradNames[i] << " " << dtype;
      std::cout << c.name << " " << dtype << " " << kGradNames[i] << ": relative error " << err << "\n";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scenes, GaussianCompositeCuda,
    ::testing::Values(SplatCase{"sparse", 300, 37, 29, 0.05, 0.9},
                      // Opaque crowd: alpha clamp and the early stop, per pixel and per block.
                      SplatCase{"opaque", 1200, 40, 34, 0.9, 0.999},
                      // Faint crowd: more than 256 splats per tile composite before the stop.
                      SplatCase{"faint", 2400, 40, 34, 0.005, 0.03}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(GaussianCompositeCudaCases, OpaqueCrowdHitsTheEarlyStopAndFaintCrowdFillsSeveralBatches) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const SplatCase opaque{"opaque", 1200, 40, 34, 0.9, 0.999}, faint{"faint", 2400, 40, 34, 0.005, 0.03};
  const auto o = forward(random_splats(opaque, 2, 21, at::kDouble).to(at::kCUDA), 40, 34);
  EXPECT_GT(o.alpha.max().item<double>(), 0.999);
  EXPECT_LT(o.alpha.max().item<double>(), 1 - 1e-4);
  const auto f = forward(random_splats(faint, 2, 21, at::kDouble).to(at::kCUDA), 40, 34);
  const auto lengths = f.tile_offsets.slice(0, 1) - f.tile_offsets.slice(0, 0, -1);
  EXPECT_GT(lengths.max().item<int64_t>(), 2 * 256);
}

TEST(GaussianCompositeCudaCases, BackwardIsBitIdenticalAcrossCalls) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const SplatCase c{"crowd", 3000, 64, 48, 0.1, 0.95};
  for (auto dtype : {at::kFloat, at::kDouble}) {
    const auto s = random_splats(c, 3, 8, dtype).to(at::kCUDA);
    const auto first = forward(s, c.width, c.height), second = forward(s, c.width, c.height);
    EXPECT_TRUE(at::equal(first.tile_ids, second.tile_ids));
    EXPECT_TRUE(at::equal(first.rgb, second.rgb));
    const auto pixel_grads = random_pixel_grads(3, c.width, c.height, dtype);
    const auto a = list_of(backward(s, first, pixel_grads, c.width, c.height));
    const auto b = list_of(backward(s, second, pixel_grads, c.width, c.height));
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << kGradNames[i] << " " << dtype;
  }
}

TEST(GaussianCompositeCudaCases, EmptyScenesShowTheBackground) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const SplatCase c{"empty", 0, 20, 18, 0.5, 0.5};
  auto none = random_splats(c, 2, 1, at::kDouble);
  auto hidden = random_splats(SplatCase{"hidden", 50, 20, 18, 0.5, 0.9}, 2, 1, at::kDouble);
  hidden.visible.fill_(false);
  for (const auto& s : {none, hidden}) {
    const auto gpu = s.to(at::kCUDA);
    const auto f = forward(gpu, c.width, c.height);
    EXPECT_EQ(f.tile_ids.numel(), 0);
    EXPECT_EQ(f.tile_offsets.numel(), 2 * 2 * 2 + 1);
    EXPECT_EQ(f.tile_offsets.abs().max().item<int64_t>(), 0);
    EXPECT_EQ(f.alpha.abs().max().item<double>(), 0.0);
    EXPECT_EQ(f.depth.abs().max().item<double>(), 0.0);
    EXPECT_TRUE(at::equal(f.rgb.cpu(), s.background.view({1, 3, 1, 1}).expand({2, 3, 18, 20})));
    const auto g = list_of(backward(gpu, f, random_pixel_grads(2, c.width, c.height, at::kDouble), c.width, c.height));
    const std::vector<at::Tensor> inputs = {s.means2d, s.conics, s.opacities, s.colours, s.depths};
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_EQ(g[i].sizes(), inputs[i].sizes()) << kGradNames[i];
      if (g[i].numel() > 0) {
        EXPECT_EQ(g[i].abs().max().item<double>(), 0.0) << kGradNames[i];
      }
    }
  }
}

TEST(GaussianCompositeCudaCases, RejectsCpuTensorsWithAClearError) {
  const auto s = random_splats(SplatCase{"cpu", 10, 16, 16, 0.5, 0.9}, 1, 1, at::kFloat);
  EXPECT_NE(testing_helpers::error_of([&] { composite_forward_cuda(s.means2d, s.conics, s.opacities, s.colours,
                                                                    s.depths, s.visible, s.background, 16, 16); })
                .find("must be CUDA tensors"),
            std::string::npos);
}

#else

TEST(GaussianCompositeCudaCases, NeedsACudaBuild) { GTEST_SKIP() << "built without the CUDA compositing kernel"; }

#endif  // DREAMDPO_GAUSSIAN_CUDA_KERNEL

}  // namespace
}  // namespace dreamdpo::render
