#include "guidance/sds.h"

#include <ATen/core/grad_mode.h>

namespace dreamdpo::guidance {

GuidanceResult ScoreDistillation::compute(const at::Tensor& z, const PromptConditioning& text,
                                          const std::optional<camera::CameraBatch>& cameras,
                                          const StepContext& context) {
  at::NoGradGuard no_grad;
  const auto& schedule = prior_.schedule();
  const int64_t b = z.size(0);
  const auto [lo, hi] = timestep_range(config_, context.step, context.total_steps, schedule.num_steps());
  const int64_t t = context.rng->integer(lo, hi);
  const auto t_batch = at::full({b}, t, at::TensorOptions().dtype(at::kLong).device(z.device()));
  const auto z0 = z.detach();
  const auto eps = context.rng->normal(z0.sizes(), z0.options());
  const auto z_t = schedule.q_sample(z0, t_batch, eps);
  const auto noise = predict_noise_cfg(prior_, z_t, t_batch, text, config_.guidance_scale, cameras);
  auto grad = schedule.weight(t_batch, z0) * (noise.guided - eps);
  grad = sanitize_gradient(grad, config_.grad_clip);

  GuidanceResult result;
  result.stats.t = t;
  result.stats.grad_norm = grad.norm().item<double>();
  result.grad = grad;
  return result;
}

}  // namespace dreamdpo::guidance
