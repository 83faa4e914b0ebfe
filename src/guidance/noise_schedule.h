// The discrete DDPM noise schedule shared by every prior: alpha_bar_t for t in [0, T), the
// forward process q(z_t | z_0) and the one-step x0 estimate.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace dreamdpo::guidance {

class NoiseSchedule {
 public:
  // "scaled_linear" (Stable Diffusion / MVDream: linear in sqrt(beta)), "linear" (DDPM) or
  // "cosine" (Nichol & Dhariwal), over `num_steps` training timesteps.
  static NoiseSchedule make(const std::string& kind, int64_t num_steps = 1000,
                            double beta_start = 0.00085, double beta_end = 0.012);
  explicit NoiseSchedule(at::Tensor alphas_cumprod);

  int64_t num_steps() const { return alphas_cumprod_.size(0); }
  double alpha_bar(int64_t t) const;
  // alpha_bar_t for a tensor of integer timesteps, shaped to broadcast against `like`
  // ([N] -> [N, 1, 1, ...]), on like's device and dtype.
  at::Tensor alpha_bar(const at::Tensor& t, const at::Tensor& like) const;

  // z_t = sqrt(ab) z0 + sqrt(1 - ab) eps.
  at::Tensor q_sample(const at::Tensor& z0, const at::Tensor& t, const at::Tensor& eps) const;
  // z0_hat = (z_t - sqrt(1 - ab) eps_hat) / sqrt(ab).
  at::Tensor predict_x0(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& eps_hat) const;
  // SDS / DreamDPO weighting w(t) = 1 - alpha_bar_t, broadcast like alpha_bar(t, like).
  at::Tensor weight(const at::Tensor& t, const at::Tensor& like) const;

  const at::Tensor& alphas_cumprod() const { return alphas_cumprod_; }

 private:
  at::Tensor alphas_cumprod_;  // [T] float64 on CPU
};

}  // namespace dreamdpo::guidance
