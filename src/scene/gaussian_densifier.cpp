#include "scene/gaussian_densifier.h"

#include <ATen/core/grad_mode.h>
#include <cmath>

#include "core/error.h"

namespace dreamdpo::scene {


void DensifyConfig::validate(const std::string& path) const {
  using core::key_path;
  check(start >= 0, key_path(path, "start"), " must be >= 0");
  check(until >= 0 && until <= 1, key_path(path, "until"), " must lie in [0, 1], got ", until);
  check(interval >= 1, key_path(path, "interval"), " must be >= 1, got ", interval);
  check(grad_threshold > 0, key_path(path, "grad_threshold"), " must be > 0");
  check(split_scale > 0, key_path(path, "split_scale"), " must be > 0");
  check(prune_opacity >= 0 && prune_opacity < 1, key_path(path, "prune_opacity"), " must lie in [0, 1)");
  check(prune_scale > 0, key_path(path, "prune_scale"), " must be > 0");
  check(opacity_reset_interval >= 0, key_path(path, "opacity_reset_interval"), " must be >= 0");
  check(max_count >= 1, key_path(path, "max_count"), " must be >= 1");
}

Densifier::Densifier(const DensifyConfig& config, double scene_radius)
    : config_(config), scene_radius_(scene_radius) {
  config_.validate("densify");
  check(scene_radius > 0, "densify: the scene radius must be > 0");
}

void Densifier::ensure_size(int64_t count, at::Device device) {
  if (!grad_sum_.defined() || grad_sum_.size(0) != count) {
    grad_sum_ = at::zeros({count}, at::TensorOptions().dtype(at::kDouble).device(device));
    seen_ = at::zeros_like(grad_sum_);
  }
}

void Densifier::accumulate(const at::Tensor& means2d_grad, const at::Tensor& visible, int64_t image_size) {
  check(means2d_grad.dim() == 3 && means2d_grad.size(2) == 2, "densify: means2d gradient must be [B,N,2]");
  ensure_size(means2d_grad.size(1), means2d_grad.device());
  // Pixels -> NDC (the unit 3DGS thresholds are stated in), so the threshold does not depend
  // on the render resolution.
  const auto norm = means2d_grad.detach().to(at::kDouble).norm(2, 2) * (0.5 * static_cast<double>(image_size));
  const auto mask = visible.to(at::kDouble);
  grad_sum_ += (norm * mask).sum(0);
  seen_ += mask.sum(0);
}

bool Densifier::due(int64_t step, int64_t total_steps) const {
  const auto last = static_cast<int64_t>(config_.until * static_cast<double>(total_steps));
  return step >= config_.start && step < last && (step + 1) % config_.interval == 0;
}

bool Densifier::opacity_reset_due(int64_t step, int64_t total_steps) const {
  const auto last = static_cast<int64_t>(config_.until * static_cast<double>(total_steps));
  return config_.opacity_reset_interval > 0 && step < last && step > config_.start &&
         (step + 1) % config_.opacity_reset_interval == 0;
}

DensifyReport Densifier::densify_and_prune(GaussianCloud& cloud, GaussianAdam& optimizer, core::Rng& rng) {
  at::NoGradGuard no_grad;
  const int64_t n = cloud.size();
  const auto device = cloud.means().device();
  ensure_size(n, device);
  DensifyReport report;
  const auto mean_grad = grad_sum_ / seen_.clamp_min(1.0);
  const auto max_scale = cloud.scales().detach().amax(1).to(at::kDouble);
  const double split_size = config_.split_scale * scene_radius_;
  auto hot = mean_grad >= config_.grad_threshold;
  if (n >= config_.max_count) hot = at::zeros_like(hot);
  auto clone = hot & (max_scale <= split_size);
  auto split = hot & (max_scale > split_size);
  // Respect max_count: take the candidates in index order until the budget is spent (a split
  // adds one net Gaussian, a clone one).
  const int64_t budget = std::max<int64_t>(0, config_.max_count - n);
  const auto candidates = (clone | split).to(at::kCPU).nonzero().view({-1});
  if (candidates.size(0) > budget) {
    const auto dropped = candidates.narrow(0, budget, candidates.size(0) - budget).to(device);
    clone.index_fill_(0, dropped, false);
    split.index_fill_(0, dropped, false);
  }
  report.cloned = clone.sum().item<int64_t>();
  report.split = split.sum().item<int64_t>();

  const auto state = cloud.state();
  auto rows_where = [&](const at::Tensor& mask) {
    std::map<std::string, at::Tensor> rows;
    const auto index = mask.to(at::kCPU).nonzero().view({-1}).to(device);
    for (const auto& [key, value] : state) rows[key] = value.index_select(0, index);
    return rows;
  };
  // Clones: exact copies (they drift apart as their gradients differ).
  auto cloned_rows = rows_where(clone);
  // Splits: two samples from each parent's own distribution, shrunk by 1.6, replace the parent.
  auto parents = rows_where(split);
  std::map<std::string, at::Tensor> split_rows;
  if (report.split > 0) {
    const auto scales = parents.at("log_scales").exp();
    const auto q = parents.at("rotations");
    const auto rot = rotation_matrices(q / q.norm(2, 1, true).clamp_min(1e-12));
    for (const auto& [key, value] : parents) {
      split_rows[key] = at::cat({value, value}, 0);
    }
    const auto offsets = rng.normal({2 * report.split, 3}, scales.options()) * at::cat({scales, scales}, 0);
    split_rows["means"] = split_rows["means"] +
                          at::matmul(at::cat({rot, rot}, 0), offsets.unsqueeze(2)).squeeze(2);
    split_rows["log_scales"] = split_rows["log_scales"] - std::log(1.6);
  }
  if (report.cloned > 0) optimizer.append_rows(cloud, cloned_rows);
  if (report.split > 0) optimizer.append_rows(cloud, split_rows);

  // Prune: transparent, oversized, and the split parents.
  const int64_t grown = cloud.size();
  auto remove = at::zeros({grown}, at::TensorOptions().dtype(at::kBool).device(device));
  remove.narrow(0, 0, n).copy_(split);
  remove |= cloud.opacities().detach() < config_.prune_opacity;
  remove |= cloud.scales().detach().amax(1) > config_.prune_scale * scene_radius_;
  // Never prune everything: an empty cloud cannot recover.
  if (remove.all().item<bool>()) remove.zero_();
  report.pruned = remove.sum().item<int64_t>() - report.split;
  optimizer.keep_rows(cloud, ~remove);
  report.count = cloud.size();
  grad_sum_ = at::Tensor();
  ensure_size(cloud.size(), device);
  return report;
}

void Densifier::reset_opacity(GaussianCloud& cloud, GaussianAdam& optimizer) {
  at::NoGradGuard no_grad;
  const double ceiling = std::log(0.01 / 0.99);
  auto& logits = cloud.opacity_logits();
  logits.clamp_max_(ceiling);
  optimizer.reset_rows("opacity_logits", at::ones({cloud.size()}, at::kBool));
}

std::map<std::string, at::Tensor> Densifier::state() const {
  if (!grad_sum_.defined()) return {};
  return {{"densify.grad_sum", grad_sum_.clone()}, {"densify.seen", seen_.clone()}};
}

void Densifier::load_state(const std::map<std::string, at::Tensor>& state, int64_t count, at::Device device) {
  if (!state.count("densify.grad_sum")) return;
  const auto& sum = state.at("densify.grad_sum");
  check(sum.numel() == count && state.count("densify.seen") && state.at("densify.seen").numel() == count,
        "checkpoint: densification statistics do not match the ", count, " Gaussians");
  grad_sum_ = sum.to(device, at::kDouble).clone();
  seen_ = state.at("densify.seen").to(device, at::kDouble).clone();
}

}  // namespace dreamdpo::scene
