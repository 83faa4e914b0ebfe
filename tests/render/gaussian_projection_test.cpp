// The hand-written projection kernels (gaussian_projection.h) through project_gaussians: against
// the ATen reference and its autograd, finite differences, determinism, input checks, and the
// CUDA kernel against the CPU kernel (skipped where no CUDA device is present).
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <vector>

#include "camera/orbit.h"
#include "core/rng.h"
#include "render/gaussian_projection.h"
#include "render/gaussian_rasterizer.h"
#include "render/gaussian_rasterizer_reference.h"
#include "test_helpers.h"

namespace dreamdpo::render {
namespace {

constexpr double kPi = 3.14159265358979323846;

using Projector = ProjectedGaussians (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                         const camera::CameraBatch&, const RasterSettings&);

// Largest |a - b| / max(1, |b|) over the elements.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  const auto x = a.to(at::kCPU, at::kDouble), y = b.to(at::kCPU, at::kDouble);
  if (y.numel() == 0) return 0.0;
  return ((x - y).abs() / y.abs().clamp_min(1.0)).max().item<double>();
}

struct Scene {
  at::Tensor means, scales, rotations;
  camera::CameraBatch cams;
  RasterSettings settings;
  std::vector<at::Tensor> params() const { return {means, scales, rotations}; }
  Scene to(const at::Device& device, at::ScalarType dtype) const {
    Scene s = *this;
    for (auto* t : {&s.means, &s.scales, &s.rotations}) *t = t->detach().to(device, dtype).set_requires_grad(true);
    return s;
  }
};

const char* const kParamNames[] = {"means", "scales", "rotations"};

// Three orbit views plus one camera at (0,0,5) with the identity rotation, whose depths are
// exactly 5 - z. Besides `random_count` Gaussians in [-1,1]^3: one behind each camera, one in
// each camera's plane, and for the fourth camera one exactly on the near plane (culled: the
// test is depth > near), one just in front of it and one just behind it.
Scene awkward_scene(int64_t random_count, uint64_t seed) {
  core::Rng rng(seed);
  const auto f = at::TensorOptions().dtype(at::kDouble);
  Scene s;
  const auto orbit = camera::fixed_orbit(3, 20.0, 3.0, 50.0, 10.0);
  auto straight = at::eye(4, orbit.c2w.options());
  straight[2][3] = 5.0;
  s.cams.c2w = at::cat({orbit.c2w, straight.unsqueeze(0)});
  s.cams.fovy = at::cat({orbit.fovy, at::full({1}, 45.0 * kPi / 180.0, orbit.fovy.options())});
  s.settings.width = 24;  // non-square: a swapped width and height would show
  s.settings.height = 20;
  s.settings.near_plane = 0.5;
  const auto positions = s.cams.c2w.to(at::kDouble).select(2, 3).narrow(1, 0, 3);  // [4,3]
  const auto special = at::cat({2 * positions, positions + 0.05,
                                at::tensor({0.1, -0.05, 4.5, 0.1, -0.05, 4.4995, -0.1, 0.05, 4.5005}, f).view({3, 3})});
  s.means = at::cat({(rng.uniform({random_count, 3}, f) * 2 - 1), special});
  const int64_t n = s.means.size(0);
  s.scales = 0.05 + 0.25 * rng.uniform({n, 3}, f);
  s.scales.narrow(0, random_count, special.size(0)).fill_(0.05);
  const auto q = rng.normal({n, 4}, f);
  s.rotations = q / q.norm(2, 1, true);
  return s.to(at::kCPU, at::kDouble);
}

ProjectedGaussians project(Projector fn, const Scene& s) {
  return fn(s.means, s.scales, s.rotations, s.cams, s.settings);
}

// Random weights on every output; culled entries get weight 0 when `mask_culled`.
struct Weights {
  at::Tensor means2d, conics, depths;
  Weights(const ProjectedGaussians& p, bool mask_culled, uint64_t seed) {
    core::Rng rng(seed);
    const int64_t b = p.depths.size(0), n = p.depths.size(1);
    const auto f = at::TensorOptions().dtype(p.depths.scalar_type());
    const auto keep = mask_culled ? p.visible.to(at::kCPU, p.depths.scalar_type()) : at::ones({b, n}, f);
    means2d = rng.normal({b, n, 2}, f) * keep.unsqueeze(2);
    conics = rng.normal({b, n, 3}, f) * keep.unsqueeze(2) * 100;  // conics are small: weigh them up
    depths = rng.normal({b, n}, f) * keep;
  }
  at::Tensor loss(const ProjectedGaussians& p) const {
    const auto d = p.depths.device();
    return (p.means2d * means2d.to(d)).sum() + (p.conics * conics.to(d)).sum() + (p.depths * depths.to(d)).sum();
  }
};

std::vector<at::Tensor> gradients(Projector fn, const Scene& s, const Weights& w) {
  return torch::autograd::grad({w.loss(project(fn, s))}, s.params());
}

TEST(GaussianProjection, ForwardMatchesTheAtenReferenceIncludingCulledGaussians) {
  const auto s = awkward_scene(40, 1);
  const auto fast = project(project_gaussians, s);
  const auto slow = project(project_gaussians_reference, s);
  EXPECT_TRUE(at::equal(fast.visible, slow.visible));
  EXPECT_LE(relative_error(fast.means2d, slow.means2d), 1e-12) << (fast.means2d - slow.means2d).abs().max();
  EXPECT_LE(relative_error(fast.conics, slow.conics), 1e-12) << (fast.conics - slow.conics).abs().max();
  EXPECT_LE(relative_error(fast.depths, slow.depths), 1e-12);
  EXPECT_EQ(fast.means2d.sizes(), at::IntArrayRef({4, 51, 2}));
  EXPECT_EQ(fast.conics.sizes(), at::IntArrayRef({4, 51, 3}));
  EXPECT_TRUE(at::isfinite(fast.means2d).all().item<bool>() && at::isfinite(fast.conics).all().item<bool>());
  // The fourth camera: on the near plane culled, just in front kept, just behind culled.
  EXPECT_FALSE(fast.visible[3][48].item<bool>());
  EXPECT_EQ(fast.depths[3][48].item<double>(), 0.5);
  EXPECT_TRUE(fast.visible[3][49].item<bool>());
  EXPECT_FALSE(fast.visible[3][50].item<bool>());
  // Every camera culls the Gaussian behind it and the one in its plane; the random cloud is seen.
  for (int64_t view = 0; view < 4; ++view) {
    EXPECT_FALSE(fast.visible[view][40 + view].item<bool>()) << view;
    EXPECT_FALSE(fast.visible[view][44 + view].item<bool>()) << view;
    EXPECT_TRUE(fast.visible[view].narrow(0, 0, 40).all().item<bool>()) << view;
  }
}

TEST(GaussianProjection, ForwardMatchesTheAtenReferenceInFloat32) {
  const auto s = awkward_scene(40, 2).to(at::kCPU, at::kFloat);
  const auto fast = project(project_gaussians, s);
  const auto slow = project(project_gaussians_reference, s);
  EXPECT_EQ(fast.means2d.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(fast.visible, slow.visible));
  EXPECT_LE(relative_error(fast.means2d, slow.means2d), 1e-5);
  EXPECT_LE(relative_error(fast.conics, slow.conics), 1e-5);
  EXPECT_LE(relative_error(fast.depths, slow.depths), 1e-5);
}

TEST(GaussianProjection, BackwardMatchesAutogradOfTheReferenceForEveryInput) {
  for (uint64_t seed : {3, 4}) {
    const auto s = awkward_scene(40, seed);
    // The reference passes gradient from culled outputs, the kernel does not: weigh them 0.
    const Weights w(project(project_gaussians_reference, s), /*mask_culled=*/true, seed);
    const auto fast = gradients(project_gaussians, s, w);
    const auto slow = gradients(project_gaussians_reference, s, w);
    for (size_t i = 0; i < fast.size(); ++i) {
      ASSERT_GT(slow[i].abs().max().item<double>(), 0) << kParamNames[i];
      EXPECT_LE(relative_error(fast[i], slow[i]), 1e-10) << kParamNames[i] << " " << (fast[i] - slow[i]).abs().max();
    }
  }
}

TEST(GaussianProjection, BackwardMatchesAutogradOfTheReferenceInFloat32) {
  const auto s = awkward_scene(40, 5).to(at::kCPU, at::kFloat);
  const Weights w(project(project_gaussians_reference, s), true, 5);
  const auto fast = gradients(project_gaussians, s, w);
  const auto slow = gradients(project_gaussians_reference, s, w);
  for (size_t i = 0; i < fast.size(); ++i) {
    EXPECT_EQ(fast[i].scalar_type(), at::kFloat);
    const double scale = slow[i].abs().max().item<double>();
    EXPECT_LE((fast[i] - slow[i]).abs().max().item<double>(), 1e-4 * scale) << kParamNames[i];
  }
}

TEST(GaussianProjection, CulledGaussiansGetNoGradientFromAnyOutput) {
  // Both Gaussians are behind the only camera (on +z looking at the origin) or in its plane.
  Scene s;
  s.cams = camera::fixed_orbit(1, 0.0, 3.0, 60.0);
  s.means = at::tensor({0.2, 0.1, 4.0, 0.0, 0.3, 3.0}, at::kDouble).view({2, 3});
  s.scales = at::full({2, 3}, 0.2, at::kDouble);
  s.rotations = at::tensor({0.9, 0.1, -0.3, 0.2, 1.0, 0.0, 0.0, 0.0}, at::kDouble).view({2, 4});
  s.rotations = s.rotations / s.rotations.norm(2, 1, true);
  s = s.to(at::kCPU, at::kDouble);
  const auto p = project(project_gaussians, s);
  ASSERT_FALSE(p.visible.any().item<bool>());
  const Weights w(p, /*mask_culled=*/false, 7);
  for (const auto& g : gradients(project_gaussians, s, w)) EXPECT_EQ(g.abs().max().item<double>(), 0.0);
  // The reference would pass the gradient of depth and means2d on (what the kernel drops).
  const auto reference = gradients(project_gaussians_reference, s, w);
  EXPECT_GT(reference[0].abs().max().item<double>(), 0.0);
  // Outputs stay finite and equal to the reference (depth 1 stands in for the projection).
  const auto r = project(project_gaussians_reference, s);
  EXPECT_LE(relative_error(p.means2d, r.means2d), 1e-12);
  EXPECT_LE(relative_error(p.conics, r.conics), 1e-12);
  EXPECT_LE(relative_error(p.depths, r.depths), 1e-12);
}

TEST(GaussianProjection, GradientsMatchCentralFiniteDifferences) {
  const auto s = awkward_scene(3, 9);  // 3 random + 11 awkward Gaussians, 4 views
  // Culled outputs depend on the means (through d = 1) but pass no gradient: weigh them 0.
  const Weights w(project(project_gaussians, s), true, 9);
  const auto grads = gradients(project_gaussians, s, w);
  const double eps = 1e-6;
  int checked = 0;
  for (size_t p = 0; p < grads.size(); ++p) {
    auto param = s.params()[p];
    for (int64_t i = 0; i < param.numel(); ++i) {
      double plus, minus;
      {
        at::NoGradGuard no_grad;
        auto flat = param.view({-1});
        const double original = flat[i].item<double>();
        flat[i].fill_(original + eps);
        const auto up = project(project_gaussians, s);
        plus = w.loss(up).item<double>();
        flat[i].fill_(original - eps);
        const auto down = project(project_gaussians, s);
        minus = w.loss(down).item<double>();
        flat[i].fill_(original);
        // A step across the near plane changes which outputs count: not differentiable there.
        if (!at::equal(up.visible, down.visible)) continue;
      }
      const double numeric = (plus - minus) / (2 * eps);
      const double analytic = grads[p].reshape({-1})[i].item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-5 * std::max(1.0, std::abs(numeric))) << kParamNames[p] << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GE(checked, 14 * 10 - 2);  // only the mean z of the Gaussian on the near plane may be skipped
}

TEST(GaussianProjection, BackwardIsBitIdenticalAcrossCallsAndThreadCounts) {
  const auto s = awkward_scene(3000, 10).to(at::kCPU, at::kFloat);  // several parallel chunks
  const Weights w(project(project_gaussians, s), false, 10);
  const int threads = at::get_num_threads();
  auto run = [&](int n_threads) {
    at::set_num_threads(n_threads);
    const auto p = project(project_gaussians, s);
    auto g = torch::autograd::grad({w.loss(p)}, s.params());
    g.insert(g.end(), {p.means2d, p.conics, p.depths});
    return g;
  };
  const auto first = run(2), second = run(2), single = run(1);
  at::set_num_threads(threads);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(at::equal(first[i], second[i])) << i;
    EXPECT_TRUE(at::equal(first[i], single[i])) << i;
  }
}

TEST(GaussianProjection, CamerasGetNoGradient) {
  auto s = awkward_scene(5, 11);
  s.cams.c2w = s.cams.c2w.clone().set_requires_grad(true);
  const auto p = project(project_gaussians, s);
  EXPECT_FALSE(p.visible.requires_grad());
  Weights(p, false, 11).loss(p).backward();
  EXPECT_FALSE(s.cams.c2w.grad().defined());
  EXPECT_TRUE(s.means.grad().defined());
}

TEST(GaussianProjection, AcceptsNonContiguousAndMixedDtypeInputs) {
  const auto s = awkward_scene(10, 12);
  const auto reference = project(project_gaussians, s);
  // Scales as float32 and rotations as a transposed view: converted to the means' dtype.
  const auto scales = s.scales.detach().to(at::kFloat);
  const auto rotations = s.rotations.detach().t().contiguous().t();
  ASSERT_FALSE(rotations.is_contiguous());
  const auto p = project_gaussians(s.means, scales, rotations, s.cams, s.settings);
  EXPECT_LE(relative_error(p.means2d, reference.means2d), 1e-12);
  EXPECT_EQ(p.conics.scalar_type(), at::kDouble);
  EXPECT_LE(relative_error(p.conics, reference.conics), 1e-5);
}

TEST(GaussianProjection, HandlesAnEmptyScene) {
  Scene s = awkward_scene(1, 13);
  s.means = s.means.narrow(0, 0, 0), s.scales = s.scales.narrow(0, 0, 0), s.rotations = s.rotations.narrow(0, 0, 0);
  const auto p = project(project_gaussians, s);
  EXPECT_EQ(p.means2d.sizes(), at::IntArrayRef({4, 0, 2}));
  EXPECT_EQ(p.visible.sizes(), at::IntArrayRef({4, 0}));
}

TEST(GaussianProjection, RejectsBadInputsWithClearErrors) {
  const auto s = awkward_scene(4, 14);
  using testing_helpers::error_of;
  EXPECT_NE(error_of([&] { project_gaussians(s.means, s.scales, s.rotations.narrow(1, 0, 3), s.cams, s.settings); })
                .find("rotations must be [N,4]"),
            std::string::npos);
  auto cams = s.cams;
  cams.fovy = cams.fovy.narrow(0, 0, 2);
  EXPECT_NE(error_of([&] { project_gaussians(s.means, s.scales, s.rotations, cams, s.settings); })
                .find("one fovy per camera"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              project_gaussians(s.means.to(at::kInt), s.scales, s.rotations, s.cams, s.settings);
            }).find("float32 or float64"),
            std::string::npos);
  // The kernel itself checks its contract too.
  const auto d = s.means.detach();
  EXPECT_NE(error_of([&] {
              project_forward_cpu(d, d, s.rotations.detach(), at::zeros({4, 3, 4}, at::kDouble), at::ones({4}, at::kDouble),
                                  {});
            }).find("w2c [B,4,4]"),
            std::string::npos);
}

// --- CUDA kernel against the CPU kernel ---

#define DREAMDPO_REQUIRE_CUDA_DEVICE() \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device"

TEST(GaussianProjectionCuda, ForwardAndBackwardMatchTheCpuKernel) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  for (auto dtype : {at::kDouble, at::kFloat}) {
    // Enough Gaussians for many blocks and a partial last one.
    const auto base = awkward_scene(1000, 15);
    const auto cpu = base.to(at::kCPU, dtype), gpu = base.to(at::kCUDA, dtype);
    const auto p_cpu = project(project_gaussians, cpu), p_gpu = project(project_gaussians, gpu);
    ASSERT_TRUE(p_gpu.means2d.is_cuda());
    // FMA contraction on the GPU rounds differently: close, not bit-equal.
    const double tol = dtype == at::kDouble ? 1e-12 : 1e-4;
    EXPECT_TRUE(at::equal(p_gpu.visible.cpu(), p_cpu.visible)) << dtype;
    EXPECT_LE(relative_error(p_gpu.means2d, p_cpu.means2d), tol) << dtype;
    EXPECT_LE(relative_error(p_gpu.conics, p_cpu.conics), tol) << dtype;
    EXPECT_LE(relative_error(p_gpu.depths, p_cpu.depths), tol) << dtype;
    const Weights w(p_cpu, false, 15);
    const auto g_cpu = gradients(project_gaussians, cpu, w), g_gpu = gradients(project_gaussians, gpu, w);
    for (size_t i = 0; i < g_cpu.size(); ++i) {
      ASSERT_TRUE(g_gpu[i].is_cuda());
      const double scale = std::max(1.0, g_cpu[i].abs().max().item<double>());
      EXPECT_LE((g_gpu[i].cpu() - g_cpu[i]).abs().max().item<double>(), (dtype == at::kDouble ? 1e-10 : 1e-4) * scale)
          << kParamNames[i] << " " << dtype;
    }
  }
}

TEST(GaussianProjectionCuda, BackwardMatchesAutogradOfTheReferenceOnCuda) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const auto s = awkward_scene(40, 16).to(at::kCUDA, at::kDouble);
  const Weights w(project(project_gaussians_reference, s), true, 16);
  const auto fast = gradients(project_gaussians, s, w);
  const auto slow = gradients(project_gaussians_reference, s, w);
  for (size_t i = 0; i < fast.size(); ++i) {
    EXPECT_LE(relative_error(fast[i], slow[i]), 1e-10) << kParamNames[i];
  }
}

TEST(GaussianProjectionCuda, BackwardIsBitIdenticalAcrossCalls) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  const auto s = awkward_scene(20000, 17).to(at::kCUDA, at::kFloat);
  const Weights w(project(project_gaussians, s), false, 17);
  const auto first = gradients(project_gaussians, s, w), second = gradients(project_gaussians, s, w);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(at::equal(first[i], second[i])) << kParamNames[i];
}

TEST(GaussianProjectionCuda, CulledGaussiansGetNoGradientOnCuda) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  Scene s;
  s.cams = camera::fixed_orbit(1, 0.0, 3.0, 60.0);
  s.means = at::tensor({0.2, 0.1, 4.0, 0.0, 0.3, 3.0}, at::kDouble).view({2, 3});
  s.scales = at::full({2, 3}, 0.2, at::kDouble);
  s.rotations = at::tensor({1.0, 0.0, 0.0, 0.0}, at::kDouble).repeat({2, 1});
  s = s.to(at::kCUDA, at::kFloat);
  const auto p = project(project_gaussians, s);
  ASSERT_FALSE(p.visible.any().item<bool>());
  EXPECT_TRUE(at::isfinite(p.conics).all().item<bool>());
  for (const auto& g : gradients(project_gaussians, s, Weights(p, false, 18))) {
    EXPECT_EQ(g.abs().max().item<double>(), 0.0);
  }
}

TEST(GaussianProjectionCuda, HandlesAnEmptySceneOnCuda) {
  DREAMDPO_REQUIRE_CUDA_DEVICE();
  Scene s = awkward_scene(1, 19).to(at::kCUDA, at::kFloat);
  s.means = s.means.narrow(0, 0, 0), s.scales = s.scales.narrow(0, 0, 0), s.rotations = s.rotations.narrow(0, 0, 0);
  const auto p = project(project_gaussians, s);
  EXPECT_EQ(p.conics.sizes(), at::IntArrayRef({4, 0, 3}));
  EXPECT_TRUE(p.conics.is_cuda());
}

}  // namespace
}  // namespace dreamdpo::render
