#include "guidance/prior.h"

#include "core/error.h"

namespace dreamdpo::guidance {

GuidedNoise predict_noise_cfg(Prior& prior, const at::Tensor& z_t, const at::Tensor& t,
                              const PromptConditioning& text, double guidance_scale,
                              const std::optional<camera::CameraBatch>& cameras) {
  const int64_t n = z_t.size(0);
  check(t.numel() == n, "predict_noise_cfg: one timestep per sample expected");
  auto expand_rows = [n](const at::Tensor& row) {
    std::vector<int64_t> sizes(row.sizes().begin(), row.sizes().end());
    sizes[0] = n;
    return row.expand(sizes);
  };
  // One batched call: the first half is text-conditional, the second unconditional.
  const auto embedding = at::cat({expand_rows(text.cond), expand_rows(text.uncond)});
  std::optional<camera::CameraBatch> doubled;
  if (cameras) doubled = cameras->repeat(2);
  const auto eps = prior.predict_noise(at::cat({z_t, z_t}), at::cat({t, t}), embedding, doubled);
  const auto eps_cond = eps.slice(0, 0, n);
  const auto eps_uncond = eps.slice(0, n);
  return {eps_uncond + guidance_scale * (eps_cond - eps_uncond), eps_cond};
}

}  // namespace dreamdpo::guidance
