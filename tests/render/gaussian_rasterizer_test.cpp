#include "render/gaussian_rasterizer.h"

#include <ATen/core/grad_mode.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>

#include "camera/orbit.h"
#include "core/rng.h"
#include "render/gaussian_rasterizer_reference.h"

namespace dreamdpo::render {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A random scene in raw (unactivated) parameters, so finite differences see every activation.
struct Scene {
  at::Tensor means, log_scales, quats, opacity_logits, colours, background;
  std::vector<at::Tensor> params() const { return {means, log_scales, quats, opacity_logits, colours, background}; }
};

Scene random_scene(int64_t n, uint64_t seed, at::ScalarType dtype, double min_opacity, double max_opacity,
                   double spread) {
  core::Rng rng(seed);
  const auto f = at::TensorOptions().dtype(at::kDouble);
  Scene s;
  s.means = (rng.uniform({n, 3}, f) * 2 - 1) * spread;
  s.log_scales = at::log(0.08 + 0.25 * rng.uniform({n, 3}, f));
  s.quats = rng.normal({n, 4}, f);
  const auto o = min_opacity + (max_opacity - min_opacity) * rng.uniform({n, 1}, f);
  s.opacity_logits = at::log(o / (1 - o));
  s.colours = rng.uniform({n, 3}, f);
  s.background = rng.uniform({3}, f);
  for (auto* t : {&s.means, &s.log_scales, &s.quats, &s.opacity_logits, &s.colours, &s.background}) {
    *t = t->to(dtype).set_requires_grad(true);
  }
  return s;
}

using Rasterizer = RasterOutput (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                    const at::Tensor&, const camera::CameraBatch&, const RasterSettings&);

// A [rows, cols] float tensor from a flat list.
at::Tensor matrix(std::vector<float> values, int64_t cols) {
  const int64_t rows = static_cast<int64_t>(values.size()) / cols;
  return at::tensor(values).view({rows, cols});
}

RasterOutput render(Rasterizer fn, const Scene& s, const camera::CameraBatch& cams, int64_t w, int64_t h) {
  RasterSettings settings;
  settings.width = w;
  settings.height = h;
  settings.background = s.background;
  const auto q = s.quats / s.quats.norm(2, 1, true);
  return fn(s.means, s.log_scales.exp(), q, at::sigmoid(s.opacity_logits), s.colours, cams, settings);
}

// A scalar loss with random weights on every output, so all three outputs carry gradient.
struct Loss {
  at::Tensor wr, wa, wd;
  Loss(int64_t b, int64_t h, int64_t w, at::ScalarType dtype) {
    core::Rng rng(99);
    const auto f = at::TensorOptions().dtype(dtype);
    wr = rng.normal({b, 3, h, w}, f), wa = rng.normal({b, 1, h, w}, f), wd = rng.normal({b, 1, h, w}, f);
  }
  at::Tensor operator()(const RasterOutput& o) const {
    return (o.rgb * wr).sum() + (o.alpha * wa).sum() + 0.3 * (o.depth * wd).sum();
  }
};

std::vector<at::Tensor> gradients(Rasterizer fn, const Scene& s, const camera::CameraBatch& cams, int64_t w,
                                  int64_t h, const Loss& loss) {
  return torch::autograd::grad({loss(render(fn, s, cams, w, h))}, s.params());
}

const char* const kParamNames[] = {"means", "log_scales", "quats", "opacity_logits", "colours", "background"};

camera::CameraBatch two_views() { return camera::fixed_orbit(2, 20.0, 3.0, 50.0, 30.0); }

TEST(GaussianRasterizer, OneIsotropicGaussianMatchesTheAnalyticFalloff) {
  const int64_t size = 33;
  const double fovy = 60.0, scale = 0.1, opacity = 0.6;
  const auto cams = camera::fixed_orbit(1, 0.0, 3.0, fovy);
  RasterSettings settings;
  settings.width = settings.height = size;
  settings.background = at::tensor({0.1f, 0.2f, 0.3f});
  const auto colour = at::tensor({0.2f, 0.4f, 0.8f});
  const auto out = rasterize_gaussians(at::zeros({1, 3}), at::full({1, 3}, scale), matrix({1.0f, 0.f, 0.f, 0.f}, 4),
                                       at::full({1}, opacity), colour.view({1, 3}), cams, settings);
  const double focal = camera::focal_pixels(fovy * kPi / 180.0, size);
  const double sigma2 = std::pow(focal * scale / 3.0, 2) + 0.3;  // px^2, with the low-pass dilation
  // Pixel (16, 16) has its centre at (16.5, 16.5): the image centre.
  for (auto [dx, dy] : {std::pair{0, 0}, {3, 0}, {0, -2}, {2, 1}, {-1, -1}}) {
    const double a = opacity * std::exp(-0.5 * (dx * dx + dy * dy) / sigma2);
    const int64_t row = 16 + dy, col = 16 + dx;
    EXPECT_NEAR(out.alpha[0][0][row][col].item<double>(), a, 1e-5) << dx << "," << dy;
    for (int ch = 0; ch < 3; ++ch) {
      const double expected = a * colour[ch].item<double>() + (1 - a) * settings.background[ch].item<double>();
      EXPECT_NEAR(out.rgb[0][ch][row][col].item<double>(), expected, 1e-5);
    }
    EXPECT_NEAR(out.depth[0][0][row][col].item<double>(), 3.0 * a, 1e-5);
  }
  // Beyond 3 sigma the Gaussian is truncated.
  const int far = static_cast<int>(std::ceil(3.0 * std::sqrt(sigma2))) + 1;
  EXPECT_EQ(out.alpha[0][0][16][16 + far].item<double>(), 0.0);
  EXPECT_NEAR(out.rgb[0][2][16][16 + far].item<double>(), 0.3, 1e-7);
}

TEST(GaussianRasterizer, WorldAxesLandWhereTheOpenGlConventionPutsThem) {
  const auto cams = camera::fixed_orbit(1, 0.0, 3.0, 60.0);
  RasterSettings settings;
  settings.width = 41;  // odd sizes: the image centre (20.5, 15.5) is the centre of pixel (15, 20)
  settings.height = 31;
  // +x world is to the right of the image, +y world is up (smaller row indices).
  const auto out = rasterize_gaussians(matrix({0.5f, 0.f, 0.f, 0.f, 0.5f, 0.f}, 3), at::full({2, 3}, 0.05f),
                                       at::tensor({1.f, 0.f, 0.f, 0.f}).repeat({2, 1}), at::full({2}, 0.9f),
                                       matrix({1.f, 0.f, 0.f, 0.f, 1.f, 0.f}, 3), cams, settings);
  const auto red_at = out.rgb[0][0].argmax().item<int64_t>();
  const auto green_at = out.rgb[0][1].argmax().item<int64_t>();
  const double offset = camera::focal_pixels(60.0 * kPi / 180.0, 31) * 0.5 / 3.0;
  EXPECT_EQ(red_at / 41, 15);
  EXPECT_EQ(red_at % 41, static_cast<int64_t>(std::floor(20.5 + offset)));
  EXPECT_EQ(green_at % 41, 20);
  EXPECT_EQ(green_at / 41, static_cast<int64_t>(std::floor(15.5 - offset)));
}

TEST(GaussianRasterizer, CullsGaussiansBehindTheCamera) {
  const auto cams = camera::fixed_orbit(1, 0.0, 3.0, 60.0);
  RasterSettings settings;
  settings.width = settings.height = 16;
  const auto out = rasterize_gaussians(matrix({0.f, 0.f, 3.5f, 0.f, 0.f, 3.0f}, 3), at::full({2, 3}, 0.3f),
                                       at::tensor({1.f, 0.f, 0.f, 0.f}).repeat({2, 1}), at::full({2}, 0.9f),
                                       at::ones({2, 3}), cams, settings);
  EXPECT_EQ(out.alpha.abs().max().item<double>(), 0.0);
}

struct SceneCase {
  const char* name;
  double min_opacity, max_opacity, spread;
};

void PrintTo(const SceneCase& c, std::ostream* os) { *os << c.name; }

class RasterizerVsReference : public ::testing::TestWithParam<SceneCase> {};

TEST_P(RasterizerVsReference, ForwardAndGradientsAgree) {
  const auto& c = GetParam();
  const int64_t w = 24, h = 20;  // non-square: a transposed index would show
  const auto cams = two_views();
  for (auto dtype : {at::kDouble, at::kFloat}) {
    const auto scene = random_scene(30, 5, dtype, c.min_opacity, c.max_opacity, c.spread);
    const auto fast = render(rasterize_gaussians, scene, cams, w, h);
    const auto slow = render(rasterize_gaussians_reference, scene, cams, w, h);
    const double tol = dtype == at::kDouble ? 1e-10 : 1e-5;
    EXPECT_TRUE(at::allclose(fast.rgb, slow.rgb, 0, tol)) << (fast.rgb - slow.rgb).abs().max();
    EXPECT_TRUE(at::allclose(fast.alpha, slow.alpha, 0, tol)) << (fast.alpha - slow.alpha).abs().max();
    EXPECT_TRUE(at::allclose(fast.depth, slow.depth, 0, 3 * tol)) << (fast.depth - slow.depth).abs().max();
    // The scene must actually cover the image.
    EXPECT_GT(fast.alpha.mean().item<double>(), 0.1);
    const Loss loss(2, h, w, dtype);
    const auto g_fast = gradients(rasterize_gaussians, scene, cams, w, h, loss);
    const auto g_slow = gradients(rasterize_gaussians_reference, scene, cams, w, h, loss);
    for (size_t i = 0; i < g_fast.size(); ++i) {
      const double scale = g_slow[i].abs().max().item<double>();
      ASSERT_GT(scale, 0) << kParamNames[i];
      const double err = (g_fast[i] - g_slow[i]).abs().max().item<double>();
      EXPECT_LE(err, (dtype == at::kDouble ? 1e-9 : 2e-4) * scale)
          << c.name << " " << kParamNames[i] << " dtype " << dtype;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RasterizerScenes, RasterizerVsReference,
                         ::testing::Values(SceneCase{"sparse", 0.05, 0.8, 0.8},
                                           // Opaque and crowded: alpha clamp and early stop are hit.
                                           SceneCase{"opaque", 0.9, 0.999, 0.3}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RasterizerVsReference, PerViewColoursAgree) {
  const int64_t w = 24, h = 20;
  const auto cams = two_views();
  const auto scene = random_scene(30, 6, at::kDouble, 0.05, 0.8, 0.8);
  core::Rng rng(12);
  const auto colours = rng.uniform({2, 30, 3}, at::TensorOptions().dtype(at::kDouble)).set_requires_grad(true);
  RasterSettings settings;
  settings.width = w;
  settings.height = h;
  const auto q = scene.quats / scene.quats.norm(2, 1, true);
  const Loss loss(2, h, w, at::kDouble);
  std::vector<at::Tensor> outs, grads;
  for (Rasterizer fn : {Rasterizer(rasterize_gaussians), Rasterizer(rasterize_gaussians_reference)}) {
    const auto out = fn(scene.means, scene.log_scales.exp(), q, at::sigmoid(scene.opacity_logits), colours, cams, settings);
    outs.push_back(out.rgb);
    grads.push_back(torch::autograd::grad({loss(out)}, {colours, scene.means})[0]);
  }
  EXPECT_TRUE(at::allclose(outs[0], outs[1], 0, 1e-10));
  EXPECT_TRUE(at::allclose(grads[0], grads[1], 0, 1e-9));
  // The two views really use their own colours.
  EXPECT_GT((grads[0][0] - grads[0][1]).abs().max().item<double>(), 0.0);
}

TEST(RasterizerVsReference, OpaqueSceneHitsTheEarlyStop) {
  // Guards the case above: with every Gaussian dropped after T < 1e-4, alpha would exceed
  // 1 - 1e-4 at some pixel.
  const auto scene = random_scene(30, 5, at::kDouble, 0.9, 0.999, 0.3);
  const auto out = render(rasterize_gaussians, scene, two_views(), 24, 20);
  EXPECT_GT(out.alpha.max().item<double>(), 0.999);
  EXPECT_LT(out.alpha.max().item<double>(), 1 - 1e-4);
}

TEST(GaussianRasterizer, GradientsMatchCentralFiniteDifferences) {
  const int64_t w = 24, h = 20;
  const auto cams = two_views();
  const auto scene = random_scene(30, 11, at::kDouble, 0.05, 0.95, 0.6);
  const Loss loss(2, h, w, at::kDouble);
  const auto grads = gradients(rasterize_gaussians, scene, cams, w, h, loss);
  core::Rng rng(4);
  const double eps = 1e-6;
  for (size_t p = 0; p < grads.size(); ++p) {
    auto param = scene.params()[p];
    const auto flat_grad = grads[p].reshape({-1});
    for (int trial = 0; trial < 6; ++trial) {
      const int64_t i = rng.integer(0, param.numel() - 1);
      double plus, minus;
      {
        at::NoGradGuard no_grad;
        auto flat = param.view({-1});
        const double original = flat[i].item<double>();
        flat[i].fill_(original + eps);
        plus = loss(render(rasterize_gaussians, scene, cams, w, h)).item<double>();
        flat[i].fill_(original - eps);
        minus = loss(render(rasterize_gaussians, scene, cams, w, h)).item<double>();
        flat[i].fill_(original);
      }
      const double numeric = (plus - minus) / (2 * eps);
      const double analytic = flat_grad[i].item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-5 * std::max(1.0, std::abs(numeric)))
          << kParamNames[p] << "[" << i << "]";
    }
  }
}

TEST(GaussianRasterizer, IsBitIdenticalAcrossRunsAndThreadCounts) {
  const int64_t w = 40, h = 36;
  const auto cams = camera::fixed_orbit(3, 15.0, 2.5, 50.0);
  const auto scene = random_scene(300, 8, at::kFloat, 0.1, 0.9, 0.7);
  const Loss loss(3, h, w, at::kFloat);
  const int threads = at::get_num_threads();
  auto run = [&](int n_threads) {
    at::set_num_threads(n_threads);
    const auto out = render(rasterize_gaussians, scene, cams, w, h);
    auto g = torch::autograd::grad({loss(out)}, scene.params());
    g.insert(g.end(), {out.rgb, out.alpha, out.depth});
    return g;
  };
  const auto first = run(4), second = run(4), single = run(1);
  at::set_num_threads(threads);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(at::equal(first[i], second[i])) << i;
    EXPECT_TRUE(at::equal(first[i], single[i])) << i;
  }
}

double psnr(const at::Tensor& a, const at::Tensor& b) {
  return -10.0 * std::log10((a - b).pow(2).mean().item<double>());
}

TEST(GaussianRasterizer, AdamFitsFourViewsOfAKnownScene) {
  const int64_t size = 32;
  const auto cams = camera::fixed_orbit(4, 20.0, 3.0, 45.0, 10.0);
  RasterSettings settings;
  settings.width = settings.height = size;
  settings.background = at::ones({3});
  // Target: four coloured blobs.
  const auto target_means = matrix({0.f, 0.f, 0.f, 0.5f, 0.2f, 0.f, -0.4f, -0.3f, 0.3f, 0.f, 0.4f, -0.4f}, 3);
  const auto target_scales = matrix({0.3f, 0.15f, 0.2f, 0.15f, 0.15f, 0.15f, 0.2f, 0.1f, 0.1f, 0.1f, 0.25f, 0.1f}, 3);
  const auto target_rot = matrix({1.f, 0.f, 0.f, 0.f, 0.9f, 0.3f, 0.f, 0.f, 0.8f, 0.f, 0.5f, 0.2f, 1.f, 0.f, 0.f, 0.f}, 4);
  const auto target_colours = matrix({0.9f, 0.2f, 0.1f, 0.1f, 0.8f, 0.2f, 0.2f, 0.3f, 0.9f, 0.9f, 0.8f, 0.1f}, 3);
  const auto target = rasterize_gaussians(target_means, target_scales, target_rot / target_rot.norm(2, 1, true),
                                          at::full({4}, 0.95f), target_colours, cams, settings)
                          .rgb;

  core::Rng rng(0);
  const int64_t n = 500;
  const auto f = at::TensorOptions().dtype(at::kFloat);
  auto dir = rng.normal({n, 3}, f);
  auto means = (dir / dir.norm(2, 1, true) * 0.8 * rng.uniform({n, 1}, f).pow(1.0 / 3)).set_requires_grad(true);
  auto log_scales = at::full({n, 3}, std::log(0.05), f).set_requires_grad(true);
  auto quats = at::tensor({1.f, 0.f, 0.f, 0.f}).repeat({n, 1}).set_requires_grad(true);
  auto opacity_logits = at::full({n}, -2.0, f).set_requires_grad(true);
  auto colour_logits = at::zeros({n, 3}, f).set_requires_grad(true);
  torch::optim::Adam adam({means, log_scales, quats, opacity_logits, colour_logits}, torch::optim::AdamOptions(0.02));
  const auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    const auto image = rasterize_gaussians(means, log_scales.exp(), quats / quats.norm(2, 1, true),
                                           at::sigmoid(opacity_logits), at::sigmoid(colour_logits), cams, settings)
                           .rgb;
    const auto mse = (image - target).pow(2).mean();
    mse.backward();
    adam.step();
    const double value = psnr(image.detach(), target);
    if (step == 0) first = value;
    last = value;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fit: PSNR " << first << " -> " << last << " dB in " << seconds << " s\n";
  EXPECT_LT(first, 20.0);
  EXPECT_GE(last, 30.0);  // measured 47 dB on the reference machine
}

}  // namespace
}  // namespace dreamdpo::render
