#include "guidance/dreamdpo.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"

namespace dreamdpo::guidance {

namespace {
// Per-view choice between member 1 and member 2 of a pair.
at::Tensor pick(const at::Tensor& member1_wins, const at::Tensor& a, const at::Tensor& b) {
  std::vector<int64_t> shape(a.dim(), 1);
  shape[0] = a.size(0);
  return at::where(member1_wins.to(a.device()).reshape(shape), a, b);
}
}  // namespace

PairGradient dreamdpo_gradient(const PairTerms& terms, const DreamDpoConfig& config) {
  const auto& m = terms.member1_wins;
  const auto w1 = terms.weight1.expand_as(terms.eps1);
  const auto w2 = terms.weight2.expand_as(terms.eps2);
  const auto eps_hat_win = pick(m, terms.eps_hat1, terms.eps_hat2);
  const auto eps_win = pick(m, terms.eps1, terms.eps2);
  const auto w_win = pick(m, w1, w2);
  const auto eps_lose = pick(m, terms.eps2, terms.eps1);
  const auto w_lose = pick(m, w2, w1);
  const bool lose_uses_cfg = config.lose_prediction == "cfg";
  const auto lose_pred = lose_uses_cfg ? pick(m, terms.eps_hat2, terms.eps_hat1)
                                       : pick(m, terms.eps_text2, terms.eps_text1);

  const auto pull = w_win * (eps_hat_win - eps_win);
  const auto push = w_lose * (lose_pred - eps_lose);
  const auto high_gap = pull - push;
  const auto low_gap = config.low_gap_subtracts_noise ? pull : w_win * eps_hat_win;

  PairGradient out;
  out.lose_fired = terms.gap.to(at::kDouble) >= config.tau;
  out.grad = pick(out.lose_fired, high_gap, low_gap);
  return out;
}

GuidanceResult DreamDpo::compute(const at::Tensor& z, const PromptConditioning& text,
                                 const std::optional<camera::CameraBatch>& cameras,
                                 const StepContext& context) {
  at::NoGradGuard no_grad;
  const auto& schedule = prior_.schedule();
  auto& rng = *context.rng;
  const int64_t b = z.size(0);
  const auto z0 = z.detach();
  const auto [lo, hi] = timestep_range(config_, context.step, context.total_steps, schedule.num_steps());
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(z.device());

  // Pair construction: two noises at one t (default), or one noise at two t.
  const int64_t t1 = rng.integer(lo, hi);
  int64_t t2 = t1;
  at::Tensor eps1 = rng.normal(z0.sizes(), z0.options());
  at::Tensor eps2;
  if (config_.dreamdpo.pairs == "timestep") {
    t2 = rng.integer(lo, hi);
    eps2 = eps1;
  } else {
    eps2 = rng.normal(z0.sizes(), z0.options());
  }
  const auto t1_batch = at::full({b}, t1, long_opts);
  const auto t2_batch = at::full({b}, t2, long_opts);
  const auto z_t1 = schedule.q_sample(z0, t1_batch, eps1);
  const auto z_t2 = schedule.q_sample(z0, t2_batch, eps2);

  // One prior call for both members, conditional and unconditional.
  std::optional<camera::CameraBatch> pair_cameras;
  if (cameras) pair_cameras = cameras->repeat(2);
  const auto t_pair = at::cat({t1_batch, t2_batch});
  const auto noise = predict_noise_cfg(prior_, at::cat({z_t1, z_t2}), t_pair, text,
                                       config_.guidance_scale, pair_cameras);
  const auto x0_hat = schedule.predict_x0(at::cat({z_t1, z_t2}), t_pair, noise.guided);
  const auto images = prior_.decode(x0_hat);

  const auto preference = preference_.compare(images.slice(0, 0, b), images.slice(0, b), text.prompt,
                                              context.step, rng);
  const auto& m = preference.member1_wins;
  const auto score_win = at::where(m, preference.score1, preference.score2);
  const auto score_lose = at::where(m, preference.score2, preference.score1);

  PairTerms terms;
  terms.eps_hat1 = noise.guided.slice(0, 0, b);
  terms.eps_hat2 = noise.guided.slice(0, b);
  terms.eps_text1 = noise.cond.slice(0, 0, b);
  terms.eps_text2 = noise.cond.slice(0, b);
  terms.eps1 = eps1;
  terms.eps2 = eps2;
  terms.weight1 = schedule.weight(t1_batch, z0);
  terms.weight2 = schedule.weight(t2_batch, z0);
  terms.member1_wins = m;
  terms.gap = score_win - score_lose;
  auto pair = dreamdpo_gradient(terms, config_.dreamdpo);

  GuidanceResult result;
  result.grad = sanitize_gradient(pair.grad, config_.grad_clip);
  auto& stats = result.stats;
  stats.t = t1;
  stats.t2 = config_.dreamdpo.pairs == "timestep" ? t2 : -1;
  stats.score_win = score_win.mean().item<double>();
  stats.score_lose = score_lose.mean().item<double>();
  stats.gap = terms.gap.mean().item<double>();
  stats.lose_fired = pair.lose_fired.to(at::kDouble).mean().item<double>();
  stats.grad_norm = result.grad.norm().item<double>();
  stats.secondary_used = preference.secondary_used;
  stats.ranker_fallbacks = preference.fallbacks;
  return result;
}

}  // namespace dreamdpo::guidance
