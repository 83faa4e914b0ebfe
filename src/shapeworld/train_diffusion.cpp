#include "shapeworld/train_diffusion.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen/ATen.h on LibTorch 2.x)
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <numeric>

#include "camera/orbit.h"
#include "core/error.h"
#include "core/log.h"
#include "core/png_io.h"
#include "core/progress.h"
#include "guidance/noise_schedule.h"
#include "models/module_io.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/renderer.h"
#include "shapeworld/sampler.h"

namespace dreamdpo::shapeworld {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Captions of the built-in models fit in this many tokens (start token included).
constexpr int64_t kMaxCaptionTokens = 24;

// Prompts of the sample grid written at the end of training.
const std::vector<std::string>& sample_prompts() {
  static const std::vector<std::string> prompts = {
      "a red sphere", "a blue cube", "a green cylinder on top of a yellow cube", "two purple cones",
      "a small orange torus next to a large blue sphere", ""};
  return prompts;
}

// Mean colour of the object pixels (alpha from `mask`) of each object's views: [S,3].
at::Tensor object_colour(const at::Tensor& images, const at::Tensor& mask, int64_t n_view) {
  const int64_t s = images.size(0) / n_view;
  const auto weights = mask.view({s, n_view, 1, -1});
  const auto pixels = images.view({s, n_view, 3, -1});
  return (pixels * weights).sum({1, 3}) / weights.sum({1, 3}).clamp_min(1.0);
}

// Colour accuracy of DDIM samples of one-object scenes: the sample's mean non-background
// colour must be nearest to the ground-truth render of its own colour among the renders of the
// same scene in every (non-white) colour. A cheap, judge-free check of text conditioning.
double colour_accuracy(models::MvUnetImpl& unet, const at::Tensor& ab, const models::WordTokenizer& tokenizer,
                       int64_t objects, core::Rng& rng, at::Device device) {
  SamplerOptions one;
  one.max_objects = 1;
  const int64_t v = unet.config.n_view, size = unet.config.image_size;
  std::vector<Colour> palette;
  for (Colour c : kColours) if (c != Colour::white) palette.push_back(c);
  int64_t correct = 0, total = 0;
  const int64_t chunk = 16;
  for (int64_t begin = 0; begin < objects; begin += chunk) {
    const int64_t n = std::min(chunk, objects - begin);
    std::vector<std::string> captions;
    std::vector<at::Tensor> cams, references;  // references: [n_palette, 3] per object
    std::vector<int64_t> truth;
    for (int64_t i = 0; i < n; ++i) {
      auto spec = sample_spec(rng, one);
      while (spec.groups[0].colour == Colour::white) spec = sample_spec(rng, one);
      const auto cameras = camera::sample_orbit({}, rng);
      const auto cams_dev = camera::CameraBatch{cameras.c2w.to(device), cameras.fovy.to(device)};
      std::vector<at::Tensor> means;
      for (size_t k = 0; k < palette.size(); ++k) {
        auto variant = spec;
        variant.groups[0].colour = palette[k];
        const auto scene = layout(variant, rng);
        const auto r = render_scene(scene, cams_dev, size, size);
        means.push_back(object_colour(r.rgb, r.alpha, v).squeeze(0));
        if (palette[k] == spec.groups[0].colour) truth.push_back(static_cast<int64_t>(k));
      }
      references.push_back(at::stack(means));
      captions.push_back(canonical_caption(spec));
      cams.push_back(cameras.c2w);
    }
    const auto ids = tokenizer.encode(captions).to(device);
    const auto samples = ddim_sample(unet, ab, ids, at::cat(cams).to(device), 50, 7.5, rng);
    // Object pixels: visibly different from the white background.
    const auto mask = ((1 - samples).abs().amax(1, true) > 0.15).to(at::kFloat);
    const auto colours = object_colour(samples, mask, v);  // [n,3]
    for (int64_t i = 0; i < n; ++i) {
      const auto distance = (references[i] - colours[i].unsqueeze(0)).pow(2).sum(1);
      correct += distance.argmin().item<int64_t>() == truth[i];
      ++total;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(total, 1));
}

void write_sample_grid(models::MvUnetImpl& unet, const at::Tensor& ab, const models::WordTokenizer& tokenizer,
                       const std::string& path, core::Rng& rng, at::Device device) {
  const auto& prompts = sample_prompts();
  const int64_t v = unet.config.n_view;
  const auto cameras = camera::fixed_orbit(v, 15.0, 2.75, 45.0, 30.0);
  const auto c2w = cameras.c2w.repeat({static_cast<int64_t>(prompts.size()), 1, 1}).to(device);
  const auto images = ddim_sample(unet, ab, tokenizer.encode(prompts).to(device), c2w, 50, 7.5, rng).cpu();
  std::vector<at::Tensor> tiles;
  for (int64_t i = 0; i < images.size(0); ++i) tiles.push_back(images[i]);
  std::filesystem::create_directories(std::filesystem::absolute(path).parent_path());
  core::write_png(path, core::image_grid(tiles, v));
}

}  // namespace

MultiViewBatch make_multiview_batch(core::Rng& rng, int64_t objects, int64_t n_view, int64_t image_size,
                                    at::Device device) {
  MultiViewBatch batch;
  camera::OrbitSamplerConfig orbit;
  orbit.n_view = n_view;
  // Draw everything random first (one stream, so the batch is reproducible), then render the
  // scenes in parallel on the CPU: one small scene per call keeps a GPU mostly idle, while
  // the CPU cores of a GPU machine render thousands per second.
  std::vector<Scene> scenes;
  std::vector<camera::CameraBatch> cameras;
  for (int64_t i = 0; i < objects; ++i) {
    batch.specs.push_back(sample_spec(rng));
    scenes.push_back(layout(batch.specs.back(), rng));
    cameras.push_back(camera::sample_orbit(orbit, rng));
    batch.captions.push_back(write_caption(batch.specs.back(), rng));
  }
  std::vector<at::Tensor> images(objects), c2w(objects);
  at::parallel_for(0, objects, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      images[i] = render_scene(scenes[i], cameras[i], image_size, image_size).rgb;
      c2w[i] = cameras[i].c2w;
    }
  });
  batch.images = at::cat(images).to(device);
  batch.c2w = at::cat(c2w).to(device);
  return batch;
}

at::Tensor diffusion_loss(models::MvUnetImpl& unet, const at::Tensor& ab, const at::Tensor& images,
                          const at::Tensor& c2w, const at::Tensor& ids, core::Rng& rng) {
  const int64_t v = unet.config.n_view, n = images.size(0), objects = n / v;
  const auto device = images.device();
  // One timestep per object: the views of an object are always denoised together.
  const auto t = at::randint(ab.size(0), {objects}, rng.generator(), at::kLong).repeat_interleave(v).to(device);
  const auto noise = rng.normal(images.sizes(), images.options());
  const auto a = ab.index_select(0, t).view({n, 1, 1, 1});
  const auto z_t = a.sqrt() * (images * 2 - 1) + (1 - a).sqrt() * noise;
  const auto prediction = unet.forward(z_t, t, c2w, unet.encode_text(ids.repeat_interleave(v, 0)));
  return (prediction - noise).pow(2).mean();
}

at::Tensor ddim_sample(models::MvUnetImpl& unet, const at::Tensor& ab_all, const at::Tensor& ids,
                       const at::Tensor& c2w, int64_t steps, double guidance_scale, core::Rng& rng) {
  at::NoGradGuard no_grad;
  const int64_t v = unet.config.n_view, objects = ids.size(0), n = objects * v, size = unet.config.image_size;
  const int64_t T = ab_all.size(0);
  check(steps >= 1 && steps <= T, "DDIM: steps must lie in [1, ", T, "]");
  check(c2w.size(0) == n, "DDIM: ", n, " cameras expected (", v, " per caption), got ", c2w.size(0));
  const auto device = c2w.device();
  const auto ab = ab_all.to(at::kDouble).cpu();
  // Text rows: conditional for every view, then the empty caption (start token only).
  auto uncond_ids = at::zeros_like(ids);
  uncond_ids.select(1, 0).fill_(models::WordTokenizer::kStart);
  const auto text = unet.encode_text(at::cat({ids, uncond_ids}).to(device).repeat_interleave(v, 0));
  const auto cams = at::cat({c2w, c2w});
  auto x = rng.normal({n, 3, size, size}, c2w.options().dtype(at::kFloat));
  const int64_t stride = T / steps;
  for (int64_t i = steps - 1; i >= 0; --i) {
    const int64_t t = i * stride;
    const double a = ab[t].item<double>();
    const double a_prev = i > 0 ? ab[(i - 1) * stride].item<double>() : 1.0;
    const auto ts = at::full({2 * n}, t, at::TensorOptions().dtype(at::kLong).device(device));
    const auto eps2 = unet.forward(at::cat({x, x}), ts, cams, text);
    const auto eps_c = eps2.slice(0, 0, n), eps_u = eps2.slice(0, n);
    auto eps = eps_u + guidance_scale * (eps_c - eps_u);
    // Clamp the x0 estimate to the data range and make eps consistent with it.
    const auto x0 = ((x - std::sqrt(1 - a) * eps) / std::sqrt(a)).clamp(-1, 1);
    eps = (x - std::sqrt(a) * x0) / std::sqrt(1 - a);
    x = std::sqrt(a_prev) * x0 + std::sqrt(1 - a_prev) * eps;
  }
  return ((x + 1) / 2).clamp(0, 1);
}

DiffusionTrainResult train_diffusion(const DiffusionTrainOptions& options) {
  check(options.batch >= 1 && options.steps >= 1, "train-diffusion: steps and batch must be >= 1");
  check(options.pool_objects >= options.batch, "train-diffusion: the pool must hold at least one batch");
  check(options.device == "cpu" || options.device == "cuda", "unknown device '", options.device, "' (cpu or cuda)");
  check(options.device == "cpu" || at::hasCUDA(), "--device cuda was asked for, but this build or machine has no CUDA");
  const at::Device device(options.device == "cuda" ? at::kCUDA : at::kCPU);
  const auto start = Clock::now();

  core::Rng rng(options.seed);
  at::manual_seed(options.seed);  // network initialisation
  const models::WordTokenizer tokenizer(vocabulary(), kMaxCaptionTokens);
  auto config = options.network;
  config.vocabulary_size = tokenizer.vocabulary_size();
  config.max_length = tokenizer.max_length();
  const int64_t v = config.n_view, size = config.image_size;
  const auto ab = guidance::NoiseSchedule::make(options.schedule).alphas_cumprod().to(at::kFloat).to(device);

  models::MvUnet unet(config), ema(config);
  if (!options.init.empty()) {
    // Continue an earlier run (GPU time comes in short slices): strict load, same architecture.
    models::load_module(*unet, options.init);
    core::log_info("train-diffusion: starting from ", options.init);
  }
  unet->to(device);
  ema->to(device);
  auto params = unet->parameters();
  auto ema_params = ema->parameters();
  {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) ema_params[i].copy_(params[i]);
  }
  ema->eval();
  core::log_info("train-diffusion: ", unet->parameter_count(), " parameters, ", options.batch, " objects x ", v,
                 " views per step, device ", options.device);

  auto pool = make_multiview_batch(rng, options.pool_objects, v, size, device);
  core::log_info("train-diffusion: rendered ", options.pool_objects, " objects in ", seconds_since(start), " s");
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(options.lr).weight_decay(0.01));

  DiffusionTrainResult result;
  std::deque<double> recent;
  auto last_checkpoint = Clock::now();
  const auto train_start = Clock::now();
  auto save = [&](int64_t steps_done) {
    const double loss = recent.empty() ? 0.0 : std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
    save_mv_diffusion(*ema, tokenizer, options.schedule, options.output,
                      {{"train.steps", std::to_string(steps_done)},
                       {"train.batch_objects", std::to_string(options.batch)},
                       {"train.seed", std::to_string(options.seed)},
                       {"train.device", options.device},
                       {"train.seconds", std::to_string(seconds_since(train_start))},
                       {"train.loss", std::to_string(loss)},
                       {"train.ema_decay", std::to_string(options.ema_decay)}});
  };
  core::Progress progress("train-diffusion", options.steps);
  int64_t cursor = 0, step = 0;
  for (; step < options.steps; ++step) {
    // The limit covers the pool's rendering too, so a caller can budget a whole run.
    if (options.time_limit_s > 0 && seconds_since(start) > options.time_limit_s) break;
    // Keep the pool fresh: a few new objects replace the oldest ones each step.
    if (options.refresh_per_step > 0) {
      const auto fresh = make_multiview_batch(rng, options.refresh_per_step, v, size, device);
      for (int64_t i = 0; i < options.refresh_per_step; ++i, cursor = (cursor + 1) % options.pool_objects) {
        pool.images.slice(0, cursor * v, (cursor + 1) * v).copy_(fresh.images.slice(0, i * v, (i + 1) * v));
        pool.c2w.slice(0, cursor * v, (cursor + 1) * v).copy_(fresh.c2w.slice(0, i * v, (i + 1) * v));
        pool.specs[cursor] = fresh.specs[i];
      }
    }
    const auto pick = at::randint(options.pool_objects, {options.batch}, rng.generator(), at::kLong);
    std::vector<std::string> captions;
    for (int64_t i = 0; i < options.batch; ++i) {
      const bool drop = rng.uniform01() < options.caption_dropout;
      captions.push_back(drop ? std::string() : write_caption(pool.specs[pick[i].item<int64_t>()], rng));
    }
    const auto rows = pick.to(device);
    const auto images = pool.images.view({options.pool_objects, v, 3, size, size}).index_select(0, rows).view(
        {options.batch * v, 3, size, size});
    const auto c2w = pool.c2w.view({options.pool_objects, v, 4, 4}).index_select(0, rows).view({-1, 4, 4});
    const auto ids = tokenizer.encode(captions).to(device);

    auto& group = optimizer.param_groups()[0];
    static_cast<torch::optim::AdamWOptions&>(group.options())
        .lr(options.lr * std::min(1.0, static_cast<double>(step + 1) / std::max<int64_t>(options.warmup, 1)));
    optimizer.zero_grad();
    const auto loss = diffusion_loss(*unet, ab, images, c2w, ids, rng);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    optimizer.step();
    {
      // EMA with a short warm-up, so short runs are not dominated by the initial weights.
      at::NoGradGuard no_grad;
      const double decay = std::min(options.ema_decay, (1.0 + step) / (10.0 + step));
      for (size_t i = 0; i < params.size(); ++i) ema_params[i].mul_(decay).add_(params[i], 1 - decay);
    }
    recent.push_back(loss.item<double>());
    if (recent.size() > 100) recent.pop_front();
    if (step % 50 == 0 || step + 1 == options.steps) {
      std::ostringstream status;
      status << "loss " << recent.back();
      progress.update(step + 1, status.str());
    }
    if (seconds_since(last_checkpoint) > options.checkpoint_every_s) {
      save(step + 1);
      last_checkpoint = Clock::now();
    }
  }
  result.steps = step;
  result.seconds = seconds_since(train_start);
  result.final_loss = recent.empty() ? 0.0 : std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
  progress.finish("loss " + std::to_string(result.final_loss));
  save(step);
  core::log_info("train-diffusion: ", step, " steps in ", result.seconds, " s, loss ", result.final_loss, " -> ",
                 options.output);

  core::Rng eval_rng(options.seed + 1000);  // held-out scenes: a different stream
  if (!options.samples_png.empty()) write_sample_grid(*ema, ab, tokenizer, options.samples_png, eval_rng, device);
  if (options.eval_objects > 0) {
    result.colour_accuracy = colour_accuracy(*ema, ab, tokenizer, options.eval_objects, eval_rng, device);
    core::log_info("train-diffusion: colour accuracy of DDIM samples ", result.colour_accuracy, " over ",
                   options.eval_objects, " one-object scenes");
  }
  return result;
}

}  // namespace dreamdpo::shapeworld
