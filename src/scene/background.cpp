#include "scene/background.h"

#include <ATen/core/grad_mode.h>
#include <cmath>

#include "core/error.h"

namespace dreamdpo::scene {

void BackgroundConfig::validate(const std::string& path) const {
  using core::key_path;
  check(mode == "solid" || mode == "random" || mode == "learned", key_path(path, "mode"),
        " must be solid, random or learned, got '", mode, "'");
  check(colour.size() == 3, key_path(path, "colour"), " must be [r, g, b], got ", colour.size(), " values");
  for (double c : colour) check(c >= 0 && c <= 1, key_path(path, "colour"), " values must lie in [0, 1]");
  check(random_prob >= 0 && random_prob <= 1, key_path(path, "random_prob"), " must lie in [0, 1]");
}

Background::Background(const BackgroundConfig& config, at::Device device) : config_(config), device_(device) {
  config_.validate("background");
  solid_ = at::tensor(std::vector<float>(config.colour.begin(), config.colour.end())).to(device);
  if (learned()) {
    // Start at the solid colour (clamped away from 0 and 1 so the logit is finite).
    logits_ = at::logit(solid_.clamp(0.02, 0.98)).set_requires_grad(true);
    exp_avg_ = at::zeros({3}, solid_.options());
    exp_avg_sq_ = at::zeros({3}, solid_.options());
  }
}

at::Tensor Background::training(int64_t views, core::Rng& rng) const {
  if (learned()) return at::sigmoid(logits_).unsqueeze(0).expand({views, 3});
  auto colours = fixed(views);
  if (config_.mode == "random") {
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device_);
    const auto random = rng.uniform({views, 3}, f32);
    const auto use = (rng.uniform({views, 1}, f32) < config_.random_prob).to(at::kFloat);
    colours = use * random + (1 - use) * colours;
  }
  return colours;
}

at::Tensor Background::fixed(int64_t views) const { return solid_.unsqueeze(0).expand({views, 3}).contiguous(); }

at::Tensor Background::composite(const at::Tensor& rgb, const at::Tensor& alpha, const at::Tensor& colours) {
  return rgb + (1 - alpha) * colours.to(rgb.options()).view({-1, 3, 1, 1});
}

void Background::step(double lr) {
  if (!learned() || !logits_.grad().defined()) return;
  at::NoGradGuard no_grad;
  ++steps_;
  const auto& g = logits_.grad();
  exp_avg_.mul_(0.9).add_(g, 0.1);
  exp_avg_sq_.mul_(0.999).addcmul_(g, g, 0.001);
  const double c1 = 1 - std::pow(0.9, static_cast<double>(steps_));
  const double c2 = 1 - std::pow(0.999, static_cast<double>(steps_));
  logits_.addcdiv_(exp_avg_, (exp_avg_sq_ / c2).sqrt_().add_(1e-8), -lr / c1);
  logits_.mutable_grad().zero_();
}

std::map<std::string, at::Tensor> Background::state() const {
  if (!learned()) return {};
  return {{"background.logits", logits_.detach().clone()},
          {"background.exp_avg", exp_avg_.clone()},
          {"background.exp_avg_sq", exp_avg_sq_.clone()},
          {"background.step", at::tensor(std::vector<int64_t>{steps_}, at::kLong)}};
}

void Background::load_state(const std::map<std::string, at::Tensor>& state) {
  if (!learned()) return;
  for (const char* key : {"background.logits", "background.exp_avg", "background.exp_avg_sq", "background.step"}) {
    check(state.count(key), "checkpoint lacks '", key, "' (was it saved with another background mode?)");
  }
  at::NoGradGuard no_grad;
  logits_.copy_(state.at("background.logits").view({3}));
  exp_avg_.copy_(state.at("background.exp_avg").view({3}));
  exp_avg_sq_.copy_(state.at("background.exp_avg_sq").view({3}));
  steps_ = state.at("background.step").to(at::kLong).item<int64_t>();
}

}  // namespace dreamdpo::scene
