#include "guidance/noise_schedule.h"

#include <cmath>

#include "core/error.h"

namespace dreamdpo::guidance {

NoiseSchedule NoiseSchedule::make(const std::string& kind, int64_t num_steps, double beta_start,
                                  double beta_end) {
  check(num_steps >= 2, "noise schedule needs at least 2 steps, got ", num_steps);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor betas;
  if (kind == "scaled_linear") {
    betas = at::linspace(std::sqrt(beta_start), std::sqrt(beta_end), num_steps, f64).pow(2);
  } else if (kind == "linear") {
    betas = at::linspace(beta_start, beta_end, num_steps, f64);
  } else if (kind == "cosine") {
    // alpha_bar(s) = cos^2(((s/T + 0.008)/1.008) * pi/2), betas clipped at 0.999.
    const double s = 0.008;
    auto steps = at::arange(num_steps + 1, f64) / static_cast<double>(num_steps);
    auto f = at::cos((steps + s) / (1 + s) * M_PI / 2).pow(2);
    auto ab = f / f[0];
    betas = (1 - ab.slice(0, 1) / ab.slice(0, 0, num_steps)).clamp_max(0.999);
  } else {
    fail("unknown noise schedule '", kind, "' (known: scaled_linear, linear, cosine)");
  }
  return NoiseSchedule(at::cumprod(1 - betas, 0));
}

NoiseSchedule::NoiseSchedule(at::Tensor alphas_cumprod)
    : alphas_cumprod_(alphas_cumprod.to(at::kDouble).cpu().contiguous()) {
  check(alphas_cumprod_.dim() == 1 && alphas_cumprod_.size(0) >= 2,
        "alphas_cumprod must be a 1-D tensor of at least 2 entries");
}

double NoiseSchedule::alpha_bar(int64_t t) const {
  check(t >= 0 && t < num_steps(), "timestep ", t, " outside [0, ", num_steps(), ")");
  return alphas_cumprod_[t].item<double>();
}

at::Tensor NoiseSchedule::alpha_bar(const at::Tensor& t, const at::Tensor& like) const {
  const auto t_cpu = t.to(at::kLong).cpu().reshape({-1});
  check(t_cpu.numel() == like.size(0), "expected one timestep per sample (", like.size(0),
        "), got ", t_cpu.numel());
  check(t_cpu.numel() == 0 || (t_cpu.min().item<int64_t>() >= 0 &&
                               t_cpu.max().item<int64_t>() < num_steps()),
        "timestep outside [0, ", num_steps(), ")");
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return alphas_cumprod_.index_select(0, t_cpu).reshape(shape).to(like.options());
}

at::Tensor NoiseSchedule::q_sample(const at::Tensor& z0, const at::Tensor& t,
                                   const at::Tensor& eps) const {
  const auto ab = alpha_bar(t, z0);
  return ab.sqrt() * z0 + (1 - ab).sqrt() * eps;
}

at::Tensor NoiseSchedule::predict_x0(const at::Tensor& z_t, const at::Tensor& t,
                                     const at::Tensor& eps_hat) const {
  const auto ab = alpha_bar(t, z_t);
  return (z_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt();
}

at::Tensor NoiseSchedule::weight(const at::Tensor& t, const at::Tensor& like) const {
  return 1 - alpha_bar(t, like);
}

}  // namespace dreamdpo::guidance
