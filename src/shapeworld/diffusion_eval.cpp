#include "shapeworld/diffusion_eval.h"

#include <ATen/core/grad_mode.h>

#include <cstdio>

#include "camera/orbit.h"
#include "core/error.h"
#include "core/progress.h"
#include "guidance/noise_schedule.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/renderer.h"
#include "shapeworld/sampler.h"
#include "shapeworld/train_diffusion.h"
#include "shapeworld/train_reward.h"
#include "shapeworld/training_data.h"

namespace dreamdpo::shapeworld {

namespace {

struct SceneVerdict {
  bool correct = false;  // the true caption (column 0) beats every negative on the mean logit
  bool views_agree = false;
};

SceneVerdict judge_views(models::Judge& judge, const at::Tensor& views, const std::vector<std::string>& candidates) {
  const auto logits = judge.score(views, candidates).to(at::kCPU, at::kDouble);  // [V, C]
  const auto mean = logits.mean(0);
  const double truth = mean[0].item<double>();
  const double best_negative = mean.slice(0, 1).max().item<double>();
  const auto picks = logits.argmax(1);
  return {truth > best_negative, (picks == picks[0]).all().item<bool>()};
}

}  // namespace

std::string DiffusionJudgeReport::summary() const {
  char text[256];
  std::snprintf(text, sizeof(text),
                "judged correct %.3f (ground-truth renders %.3f) over %lld held-out scenes; views agree %.3f "
                "(ground truth %.3f)",
                judged_correct, reference_correct, static_cast<long long>(scenes), view_agreement,
                reference_view_agreement);
  return text;
}

DiffusionJudgeReport judge_samples(const MultiViewSampler& sample, models::Judge& judge,
                                   const DiffusionJudgeOptions& options, core::Rng& rng, at::Device device) {
  check(options.scenes >= 1 && options.negatives >= 1 && options.chunk >= 1, "diffusion eval: scenes, negatives and chunk must be >= 1");
  at::NoGradGuard no_grad;
  judge.eval();
  const int64_t v = options.n_view;
  camera::OrbitSamplerConfig orbit;
  orbit.n_view = v;
  DiffusionJudgeReport report;
  int64_t correct = 0, reference = 0, agree = 0, reference_agree = 0;
  core::Progress progress("diffusion eval", options.scenes);
  for (int64_t begin = 0; begin < options.scenes; begin += options.chunk) {
    const int64_t n = std::min(options.chunk, options.scenes - begin);
    std::vector<std::string> captions;
    std::vector<std::vector<std::string>> candidates;
    std::vector<at::Tensor> cams, truth;
    for (int64_t i = 0; i < n; ++i) {
      const auto spec = sample_spec(rng, SamplerOptions{});
      std::vector<std::string> list = {canonical_caption(spec)};
      for (const auto& negative : hard_negatives(spec, rng, options.negatives)) list.push_back(canonical_caption(negative));
      const auto cameras = camera::sample_orbit(orbit, rng);
      const camera::CameraBatch on_device{cameras.c2w.to(device), cameras.fovy.to(device)};
      // Rendered as the judge's training data is (2x2 supersampled).
      truth.push_back(render_scene(layout(spec, rng), on_device, options.image_size, options.image_size,
                                   BatchOptions::default_render())
                          .rgb);
      captions.push_back(list[0]);
      candidates.push_back(std::move(list));
      cams.push_back(cameras.c2w);
    }
    const auto samples = sample(captions, at::cat(cams).to(device));
    check(samples.dim() == 4 && samples.size(0) == n * v, "diffusion eval: the sampler returned ", samples.sizes(),
          " for ", n, " scenes of ", v, " views");
    for (int64_t i = 0; i < n; ++i) {
      const auto verdict = judge_views(judge, samples.slice(0, i * v, (i + 1) * v), candidates[i]);
      const auto ceiling = judge_views(judge, truth[i], candidates[i]);
      correct += verdict.correct;
      agree += verdict.views_agree;
      reference += ceiling.correct;
      reference_agree += ceiling.views_agree;
    }
    progress.update(begin + n);
  }
  progress.finish();
  const auto share = [&](int64_t count) { return static_cast<double>(count) / static_cast<double>(options.scenes); };
  report.scenes = options.scenes;
  report.judged_correct = share(correct);
  report.reference_correct = share(reference);
  report.view_agreement = share(agree);
  report.reference_view_agreement = share(reference_agree);
  return report;
}

MultiViewSampler ddim_sampler(models::MvUnetImpl& unet, const at::Tensor& alphas_cumprod,
                              const models::WordTokenizer& tokenizer, int64_t steps, double guidance_scale,
                              core::Rng& rng, at::Device device) {
  return [&unet, alphas_cumprod, &tokenizer, steps, guidance_scale, &rng, device](
             const std::vector<std::string>& captions, const at::Tensor& c2w) {
    return ddim_sample(unet, alphas_cumprod, tokenizer.encode(captions).to(device), c2w, steps, guidance_scale, rng);
  };
}

DiffusionJudgeReport judge_diffusion_file(const std::filesystem::path& weights, models::Judge& judge, int64_t scenes,
                                          double guidance_scale, uint64_t scene_seed, at::Device device) {
  check(scenes >= 1, "the diffusion check needs at least one scene, got ", scenes);
  check(guidance_scale >= 0 && guidance_scale <= 100, "the guidance scale must lie in [0, 100], got ", guidance_scale);
  auto model = models::load_mv_diffusion(weights, device);
  const auto alphas = guidance::NoiseSchedule::make(model.schedule).alphas_cumprod().to(at::kFloat).to(device);
  core::Rng rng(scene_seed != 0 ? scene_seed : kHeldOutSeed);
  DiffusionJudgeOptions options;
  options.scenes = scenes;
  options.n_view = model.unet->config.n_view;
  options.image_size = model.unet->config.image_size;
  return judge_samples(ddim_sampler(*model.unet, alphas, model.tokenizer, 50, guidance_scale, rng, device), judge,
                       options, rng, device);
}

}  // namespace dreamdpo::shapeworld
