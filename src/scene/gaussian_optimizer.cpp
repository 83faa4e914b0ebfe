#include "scene/gaussian_optimizer.h"

#include <ATen/core/grad_mode.h>
#include <cmath>

#include "core/error.h"

namespace dreamdpo::scene {

void GaussianLearningRates::validate(const std::string& path) const {
  for (const auto& [key, value] : std::map<std::string, double>{{"means", means},
                                                                {"log_scales", log_scales},
                                                                {"rotations", rotations},
                                                                {"opacity_logits", opacity_logits},
                                                                {"sh_dc", sh_dc},
                                                                {"sh_rest", sh_rest}}) {
    check(value >= 0 && std::isfinite(value), core::key_path(path, key), " must be a finite rate >= 0, got ", value);
  }
  check(means_final_factor > 0 && means_final_factor <= 1, core::key_path(path, "means_final_factor"),
        " must lie in (0, 1], got ", means_final_factor);
}

double GaussianLearningRates::rate(const std::string& key, double progress) const {
  if (key == "means") return means * std::pow(means_final_factor, std::clamp(progress, 0.0, 1.0));
  if (key == "log_scales") return log_scales;
  if (key == "rotations") return rotations;
  if (key == "opacity_logits") return opacity_logits;
  if (key == "sh_dc") return sh_dc;
  if (key == "sh_rest") return sh_rest;
  fail("no learning rate for parameter group '", key, "'");
}

GaussianAdam::GaussianAdam(const GaussianLearningRates& rates, double beta1, double beta2, double eps)
    : rates_(rates), beta1_(beta1), beta2_(beta2), eps_(eps) {
  rates_.validate("lr");
}

void GaussianAdam::ensure_moments(const GaussianCloud& cloud) {
  auto& mutable_cloud = const_cast<GaussianCloud&>(cloud);
  for (const auto& key : GaussianCloud::parameter_keys()) {
    const auto& p = mutable_cloud.parameter(key);
    auto& m = exp_avg_[key];
    if (!m.defined()) {
      m = at::zeros_like(p, p.options().requires_grad(false));
      exp_avg_sq_[key] = at::zeros_like(m);
    }
    check(m.sizes() == p.sizes(), "optimiser state of '", key, "' has shape ", m.sizes(),
          " but the parameter has ", p.sizes(), " (densification out of sync)");
  }
}

void GaussianAdam::step(GaussianCloud& cloud, double progress) {
  ensure_moments(cloud);
  ++steps_;
  const double correction1 = 1 - std::pow(beta1_, static_cast<double>(steps_));
  const double correction2 = 1 - std::pow(beta2_, static_cast<double>(steps_));
  at::NoGradGuard no_grad;
  for (const auto& key : GaussianCloud::parameter_keys()) {
    auto& p = cloud.parameter(key);
    const auto& grad = p.grad();
    if (!grad.defined() || p.numel() == 0) continue;
    auto& m = exp_avg_.at(key);
    auto& v = exp_avg_sq_.at(key);
    m.mul_(beta1_).add_(grad, 1 - beta1_);
    v.mul_(beta2_).addcmul_(grad, grad, 1 - beta2_);
    const double step_size = rates_.rate(key, progress) / correction1;
    const auto denominator = (v / correction2).sqrt_().add_(eps_);
    p.addcdiv_(m, denominator, -step_size);
  }
}

void GaussianAdam::keep_rows(GaussianCloud& cloud, const at::Tensor& keep) {
  ensure_moments(cloud);
  const auto index = keep.to(at::kCPU).nonzero().view({-1}).to(cloud.means().device());
  for (const auto& key : GaussianCloud::parameter_keys()) {
    auto& p = cloud.parameter(key);
    p = p.detach().index_select(0, index).contiguous().set_requires_grad(true);
    exp_avg_[key] = exp_avg_[key].index_select(0, index).contiguous();
    exp_avg_sq_[key] = exp_avg_sq_[key].index_select(0, index).contiguous();
  }
}

void GaussianAdam::append_rows(GaussianCloud& cloud, const std::map<std::string, at::Tensor>& rows) {
  ensure_moments(cloud);
  for (const auto& key : GaussianCloud::parameter_keys()) {
    check(rows.count(key), "append_rows: no rows for '", key, "'");
    auto& p = cloud.parameter(key);
    const auto extra = rows.at(key).detach().to(p.options().requires_grad(false));
    p = at::cat({p.detach(), extra}, 0).contiguous().set_requires_grad(true);
    exp_avg_[key] = at::cat({exp_avg_[key], at::zeros_like(extra)}, 0);
    exp_avg_sq_[key] = at::cat({exp_avg_sq_[key], at::zeros_like(extra)}, 0);
  }
}

void GaussianAdam::reset_rows(const std::string& key, const at::Tensor& mask) {
  check(exp_avg_.count(key), "reset_rows: no optimiser state for '", key, "'");
  auto shape = std::vector<int64_t>(exp_avg_[key].dim(), 1);
  shape[0] = -1;
  const auto keep = (~mask.to(exp_avg_[key].device()).to(at::kBool)).to(exp_avg_[key].dtype()).view(shape);
  exp_avg_[key].mul_(keep);
  exp_avg_sq_[key].mul_(keep);
}

std::map<std::string, at::Tensor> GaussianAdam::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& [key, m] : exp_avg_) {
    out["exp_avg." + key] = m.detach().clone();
    out["exp_avg_sq." + key] = exp_avg_sq_.at(key).detach().clone();
  }
  out["step"] = at::tensor(std::vector<int64_t>{steps_}, at::kLong);
  return out;
}

void GaussianAdam::load_state(const std::map<std::string, at::Tensor>& state, const GaussianCloud& cloud) {
  check(state.count("step") && state.at("step").numel() == 1, "optimiser state lacks its step count");
  auto& mutable_cloud = const_cast<GaussianCloud&>(cloud);
  for (const auto& key : GaussianCloud::parameter_keys()) {
    for (const std::string prefix : {"exp_avg.", "exp_avg_sq."}) {
      check(state.count(prefix + key), "optimiser state lacks '", prefix + key, "'");
      check(state.at(prefix + key).sizes() == mutable_cloud.parameter(key).sizes(), "optimiser state '",
            prefix + key, "' has shape ", state.at(prefix + key).sizes(), ", the parameter ",
            mutable_cloud.parameter(key).sizes());
    }
    const auto options = mutable_cloud.parameter(key).options().requires_grad(false);
    exp_avg_[key] = state.at("exp_avg." + key).to(options).clone();
    exp_avg_sq_[key] = state.at("exp_avg_sq." + key).to(options).clone();
  }
  steps_ = state.at("step").to(at::kLong).item<int64_t>();
}

}  // namespace dreamdpo::scene
