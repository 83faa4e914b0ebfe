#include "scene/gaussians.h"

#include <cmath>

#include "core/error.h"

namespace dreamdpo::scene {

namespace {
const char* const kKeys[] = {"means", "log_scales", "rotations", "opacity_logits", "sh_dc", "sh_rest"};

int64_t rest_coefficients(int64_t degree) { return (degree + 1) * (degree + 1) - 1; }
}  // namespace

void GaussiansConfig::validate(const std::string& path) const {
  using core::key_path;
  const bool ply = init.size() > 4 && init.compare(init.size() - 4, 4, ".ply") == 0;
  check(init == "ball" || init == "shell" || ply, key_path(path, "init"),
        " must be ball, shell or a path ending in .ply, got '", init, "'");
  check(count >= 1, key_path(path, "count"), " must be >= 1, got ", count);
  check(radius > 0, key_path(path, "radius"), " must be > 0, got ", radius);
  check(initial_scale > 0, key_path(path, "initial_scale"), " must be > 0, got ", initial_scale);
  check(initial_opacity > 0 && initial_opacity < 1, key_path(path, "initial_opacity"),
        " must lie in (0, 1), got ", initial_opacity);
  check(sh_degree >= 0 && sh_degree <= 3, key_path(path, "sh_degree"), " must lie in [0, 3], got ",
        sh_degree);
}

GaussianCloud::GaussianCloud(const GaussiansConfig& config, core::Rng& rng, at::Device device) {
  config.validate("gaussians");
  const int64_t n = config.count;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  // Uniform in the ball's volume: isotropic direction, radius ~ R * u^(1/3).
  auto direction = rng.normal({n, 3}, f32);
  direction = direction / direction.norm(2, 1, true).clamp_min(1e-12);
  const auto u = rng.uniform({n, 1}, f32);
  const auto radius = config.init == "shell" ? config.radius * (0.9 + 0.1 * u) : config.radius * u.pow(1.0 / 3.0);
  const auto colour = rng.uniform({n, 3}, f32);
  auto leaf = [&](const at::Tensor& t) { return t.to(device).contiguous().set_requires_grad(true); };
  sh_degree_ = config.sh_degree;
  means_ = leaf(direction * radius);
  log_scales_ = leaf(at::full({n, 3}, std::log(config.initial_scale), f32));
  rotations_ = leaf(at::tensor({1.0f, 0.0f, 0.0f, 0.0f}).repeat({n, 1}));
  const double logit = std::log(config.initial_opacity / (1.0 - config.initial_opacity));
  opacity_logits_ = leaf(at::full({n, 1}, logit, f32));
  sh_dc_ = leaf((colour - 0.5) / kShC0);
  sh_rest_ = leaf(at::zeros({n, rest_coefficients(sh_degree_), 3}, f32));
}

GaussianCloud GaussianCloud::from_state(const std::map<std::string, at::Tensor>& state) {
  for (const char* key : kKeys) {
    check(state.count(key), "Gaussian state lacks '", key, "'");
  }
  const auto& means = state.at("means");
  check(means.dim() == 2 && means.size(1) == 3, "Gaussian state: 'means' must be [N,3], got ",
        means.sizes());
  const int64_t n = means.size(0);
  auto expect = [&](const char* key, std::vector<int64_t> shape) {
    check(state.at(key).sizes() == at::IntArrayRef(shape), "Gaussian state: '", key, "' must be ",
          at::IntArrayRef(shape), ", got ", state.at(key).sizes());
  };
  expect("log_scales", {n, 3});
  expect("rotations", {n, 4});
  expect("opacity_logits", {n, 1});
  expect("sh_dc", {n, 3});
  const auto& rest = state.at("sh_rest");
  check(rest.dim() == 3 && rest.size(0) == n && rest.size(2) == 3, "Gaussian state: 'sh_rest' must be [N,K,3], got ",
        rest.sizes());
  int64_t degree = -1;
  for (int64_t d = 0; d <= 3; ++d) {
    if (rest_coefficients(d) == rest.size(1)) degree = d;
  }
  check(degree >= 0, "Gaussian state: 'sh_rest' has ", rest.size(1),
        " coefficients per colour; expected 0, 3, 8 or 15 (SH degree 0..3)");
  GaussianCloud cloud;
  auto leaf = [](const at::Tensor& t) { return t.detach().clone().contiguous().set_requires_grad(true); };
  cloud.sh_degree_ = degree;
  cloud.means_ = leaf(means);
  cloud.log_scales_ = leaf(state.at("log_scales"));
  cloud.rotations_ = leaf(state.at("rotations"));
  cloud.opacity_logits_ = leaf(state.at("opacity_logits"));
  cloud.sh_dc_ = leaf(state.at("sh_dc"));
  cloud.sh_rest_ = leaf(rest);
  return cloud;
}

std::map<std::string, at::Tensor> GaussianCloud::state() const {
  std::map<std::string, at::Tensor> out;
  const auto params = parameters();
  for (size_t i = 0; i < params.size(); ++i) out[kKeys[i]] = params[i].detach().clone();
  return out;
}

std::vector<at::Tensor> GaussianCloud::parameters() const {
  return {means_, log_scales_, rotations_, opacity_logits_, sh_dc_, sh_rest_};
}

at::Tensor rotation_matrices(const at::Tensor& q) {
  const auto w = q.select(1, 0), x = q.select(1, 1), y = q.select(1, 2), z = q.select(1, 3);
  return at::stack({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
                   1)
      .view({-1, 3, 3});
}

const std::vector<std::string>& GaussianCloud::parameter_keys() {
  static const std::vector<std::string> keys(std::begin(kKeys), std::end(kKeys));
  return keys;
}

at::Tensor& GaussianCloud::parameter(const std::string& key) {
  if (key == "means") return means_;
  if (key == "log_scales") return log_scales_;
  if (key == "rotations") return rotations_;
  if (key == "opacity_logits") return opacity_logits_;
  if (key == "sh_dc") return sh_dc_;
  if (key == "sh_rest") return sh_rest_;
  fail("GaussianCloud has no parameter '", key, "'");
}

at::Tensor GaussianCloud::scales() const { return log_scales_.exp(); }

at::Tensor GaussianCloud::normalised_rotations() const {
  return rotations_ / rotations_.norm(2, 1, true).clamp_min(1e-12);
}

at::Tensor GaussianCloud::opacities() const { return at::sigmoid(opacity_logits_).view({-1}); }

at::Tensor GaussianCloud::colours() const { return (0.5 + kShC0 * sh_dc_).clamp_min(0.0); }

at::Tensor GaussianCloud::view_colours(const at::Tensor& camera_positions) const {
  check(camera_positions.dim() == 2 && camera_positions.size(1) == 3, "view_colours: camera positions must be [B,3], got ",
        camera_positions.sizes());
  const auto dc = sh_dc_.unsqueeze(0);  // [1,N,3]
  auto result = kShC0 * dc;
  if (sh_degree_ > 0) {
    auto dir = means_.unsqueeze(0) - camera_positions.to(means_.options()).unsqueeze(1);  // [B,N,3]
    dir = dir / dir.norm(2, 2, true).clamp_min(1e-12);
    const auto x = dir.narrow(2, 0, 1), y = dir.narrow(2, 1, 1), z = dir.narrow(2, 2, 1);  // [B,N,1]
    auto sh = [&](int64_t i) { return sh_rest_.select(1, i).unsqueeze(0); };               // [1,N,3]
    // Real spherical harmonics, bands 1..3, with the constants and signs 3DGS uses.
    constexpr double kC1 = 0.4886025119029199;
    result = result - kC1 * y * sh(0) + kC1 * z * sh(1) - kC1 * x * sh(2);
    if (sh_degree_ > 1) {
      const auto xx = x * x, yy = y * y, zz = z * z;
      result = result + 1.0925484305920792 * x * y * sh(3) - 1.0925484305920792 * y * z * sh(4) +
               0.31539156525252005 * (2 * zz - xx - yy) * sh(5) - 1.0925484305920792 * x * z * sh(6) +
               0.5462742152960396 * (xx - yy) * sh(7);
      if (sh_degree_ > 2) {
        result = result - 0.5900435899266435 * y * (3 * xx - yy) * sh(8) + 2.890611442640554 * x * y * z * sh(9) -
                 0.4570457994644658 * y * (4 * zz - xx - yy) * sh(10) +
                 0.3731763325901154 * z * (2 * zz - 3 * xx - 3 * yy) * sh(11) -
                 0.4570457994644658 * x * (4 * zz - xx - yy) * sh(12) + 1.445305721320277 * z * (xx - yy) * sh(13) -
                 0.5900435899266435 * x * (xx - 3 * yy) * sh(14);
      }
    }
  }
  const int64_t views = camera_positions.size(0);
  return (result + 0.5).clamp_min(0.0).expand({views, size(), 3});
}

}  // namespace dreamdpo::scene
