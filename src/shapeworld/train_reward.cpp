#include "shapeworld/train_reward.h"

#include <ATen/core/grad_mode.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <future>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"

namespace dreamdpo::shapeworld {

namespace {

at::Device device_of(const std::string& name) {
  if (name == "cuda") {
    check(at::hasCUDA(), "--device cuda was asked for, but this build or machine has no CUDA");
    return at::Device(at::kCUDA);
  }
  check(name == "cpu", "unknown device '", name, "' (use cpu or cuda)");
  return at::Device(at::kCPU);
}

std::string fixed(double value, int digits = 3) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

void check_options(const TrainOptions& options) {
  check(!options.output.empty(), "no output file: pass -o PATH.safetensors");
  check(options.eval_scenes >= 1, "--eval-scenes must be >= 1");
  check(options.render_threads >= 0 && options.render_threads <= 256, "--render-threads must lie in [0, 256]");
  if (options.eval_only) return;
  check(options.steps >= 1, "--steps must be >= 1");
  check(options.batch >= 2, "--batch must be >= 2 (the contrastive loss needs other scenes)");
  check(options.seed != kHeldOutSeed, "seed ", kHeldOutSeed, " is reserved for the held-out evaluation scenes");
}

// Adam with a linear warm-up and a cosine decay to a tenth; data for the next step is rendered
// on another thread while this one trains.
template <class LossFn>
std::pair<double, double> train_loop(torch::nn::Module& model, const BatchOptions& batch_options, uint64_t seed,
                                     at::Device device, int64_t steps, double lr, const std::string& label,
                                     double time_limit_s, LossFn loss_fn, int64_t* steps_done) {
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(lr));
  core::Rng data_rng(seed);
  auto next = [&] { return std::async(std::launch::async, [&] { return make_batch(batch_options, data_rng, device); }); };
  auto pending = next();
  core::Progress progress(label, steps);
  std::deque<double> recent;
  const auto start = std::chrono::steady_clock::now();
  const int64_t warmup = std::min<int64_t>(100, steps / 10 + 1);
  model.train();
  int64_t step = 0;
  for (; step < steps; ++step) {
    // With a time limit, the schedule runs on whichever ends first: steps or time.
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double by_time = time_limit_s > 0 ? elapsed / time_limit_s : 0.0;
    if (by_time >= 1.0) break;
    TrainingBatch batch = pending.get();
    if (step + 1 < steps) pending = next();
    const double t = std::min(1.0, std::max(static_cast<double>(step) / std::max<int64_t>(1, steps - 1), by_time));
    const double rate = step < warmup ? lr * (step + 1) / warmup : lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * t)));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(rate);
    optimizer.zero_grad();
    at::Tensor loss = loss_fn(batch);
    loss.backward();
    optimizer.step();
    recent.push_back(loss.item<double>());
    if (recent.size() > 50) recent.pop_front();
    const double mean = std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
    progress.update(step + 1, "loss " + fixed(mean));
  }
  if (step < steps) pending.wait();  // a batch was being made for a step that will not run
  *steps_done = step;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mean = std::accumulate(recent.begin(), recent.end(), 0.0) / std::max<size_t>(1, recent.size());
  progress.finish("loss " + fixed(mean));
  model.eval();
  return {seconds, mean};
}

std::map<std::string, std::string> training_facts(const TrainOptions& options, uint64_t seed, const TrainReport& r) {
  return {{"train_steps", std::to_string(r.steps)},
          {"train_batch", std::to_string(options.batch)},
          {"train_seed", std::to_string(seed)},
          {"train_device", options.device},
          {"train_seconds", fixed(r.seconds, 1)},
          {"train_relation_negatives_first", options.relation_negatives_first ? "true" : "false"},
          {"heldout_metrics", r.metrics.summary()}};
}

}  // namespace

double CaptionMetrics::aspect_accuracy(const std::string& name) const {
  const auto it = aspect.find(name);
  return it == aspect.end() || it->second.second == 0 ? 0.0
                                                      : static_cast<double>(it->second.first) / it->second.second;
}

std::string CaptionMetrics::summary() const {
  std::string text = "accuracy " + fixed(accuracy) + " on " + std::to_string(scenes) + " held-out scenes (";
  bool first = true;
  for (const auto& name : aspects()) {
    if (!aspect.count(name)) continue;
    text += (first ? "" : ", ") + name + " " + fixed(aspect_accuracy(name));
    first = false;
  }
  text += ")";
  if (clean_preference >= 0) text += "; clean>degraded " + fixed(clean_preference);
  return text;
}

CaptionMetrics evaluate_captions(const CaptionScorer& scorer, int64_t scenes, int64_t resolution, at::Device device,
                                 const std::function<at::Tensor(const at::Tensor&, const std::vector<std::string>&)>&
                                     preference_score) {
  at::NoGradGuard no_grad;
  core::Rng rng(kHeldOutSeed);
  CaptionMetrics metrics;
  int64_t correct = 0, preferred = 0;
  for (int64_t done = 0; done < scenes;) {
    BatchOptions options;
    options.scenes = std::min<int64_t>(100, scenes - done);
    options.resolution = resolution;
    options.negatives = kEvalNegatives;
    options.degraded = static_cast<bool>(preference_score);
    const auto batch = make_batch(options, rng, device);
    std::vector<std::vector<std::string>> captions;
    for (int64_t s = 0; s < options.scenes; ++s) {
      captions.push_back({batch.captions[s]});
      for (const auto& c : batch.negative_captions[s]) captions.back().push_back(c);
    }
    const auto images = batch.images.select(1, 0);
    const auto scores = scorer(images, captions).to(at::kCPU, at::kFloat);
    for (int64_t s = 0; s < options.scenes; ++s) {
      const float truth = scores[s][0].item<float>();
      bool best = true;
      for (int k = 0; k < kEvalNegatives; ++k) {
        const bool won = truth > scores[s][k + 1].item<float>();
        best = best && won;
        auto& tally = metrics.aspect[batch.negative_aspects[s][k]];
        tally.first += won;
        tally.second += 1;
      }
      correct += best;
    }
    if (preference_score) {
      const auto clean = preference_score(images, batch.captions).to(at::kCPU);
      const auto degraded = preference_score(batch.degraded.select(1, 0), batch.captions).to(at::kCPU);
      preferred += clean.gt(degraded).sum().item<int64_t>();
    }
    done += options.scenes;
  }
  metrics.scenes = scenes;
  metrics.accuracy = static_cast<double>(correct) / scenes;
  if (preference_score) metrics.clean_preference = static_cast<double>(preferred) / scenes;
  return metrics;
}

CaptionMetrics evaluate_reward(models::ClipReward& model, int64_t scenes, at::Device device) {
  model.eval();
  auto scorer = [&](const at::Tensor& images, const std::vector<std::vector<std::string>>& captions) {
    std::vector<std::string> flat;
    for (const auto& row : captions) flat.insert(flat.end(), row.begin(), row.end());
    const auto text = model.encode_captions(flat).view({images.size(0), -1, model.config().embed_dim});
    return at::matmul(text, model.encode_images(images).unsqueeze(-1)).squeeze(-1) * model.logit_scale();
  };
  auto preference = [&](const at::Tensor& images, const std::vector<std::string>& captions) {
    return (model.encode_images(images) * model.encode_captions(captions)).sum(-1) * model.logit_scale();
  };
  return evaluate_captions(scorer, scenes, model.config().resolution, device, preference);
}

CaptionMetrics evaluate_judge(models::Judge& model, int64_t scenes, at::Device device) {
  model.eval();
  auto scorer = [&](const at::Tensor& images, const std::vector<std::vector<std::string>>& captions) {
    std::vector<std::string> flat;
    for (const auto& row : captions) flat.insert(flat.end(), row.begin(), row.end());
    const int64_t per = static_cast<int64_t>(captions[0].size());
    const auto pair_images = images.repeat_interleave(per, 0);
    return model.pair_logits(pair_images, model.tokenizer().encode(flat)).view({images.size(0), per});
  };
  return evaluate_captions(scorer, scenes, model.config().resolution, device);
}

RewardLoss reward_loss(models::ClipReward& model, const TrainingBatch& batch) {
  check(!batch.negative_captions.empty() && batch.degraded.defined(),
        "the reward loss needs hard negatives and degraded renders in the batch");
  const int64_t s = batch.images.size(0);
  const int64_t k = static_cast<int64_t>(batch.negative_captions[0].size());
  const auto images = at::cat({batch.images.select(1, 0), batch.degraded.select(1, 0)});
  const auto image_emb = model.encode_images(images);
  const auto clean = image_emb.narrow(0, 0, s), degraded = image_emb.narrow(0, s, s);
  std::vector<std::string> captions = batch.captions;
  for (const auto& row : batch.negative_captions) captions.insert(captions.end(), row.begin(), row.end());
  const auto text = model.encode_captions(captions);
  const auto truth = text.narrow(0, 0, s);
  const auto negatives = text.narrow(0, s, s * k).view({s, k, -1});
  const auto scale = model.logit_scale();

  RewardLoss loss;
  const auto labels = at::arange(s, at::TensorOptions().dtype(at::kLong).device(clean.device()));
  const auto logits = scale * at::matmul(clean, truth.t());
  loss.contrastive = 0.5 * (at::cross_entropy_loss(logits, labels) + at::cross_entropy_loss(logits.t(), labels));
  const auto positive = (clean * truth).sum(-1, true);                              // [S,1]
  const auto against = at::matmul(negatives, clean.unsqueeze(-1)).squeeze(-1);       // [S,K]
  loss.hard_negative = at::cross_entropy_loss(scale * at::cat({positive, against}, 1), at::zeros_like(labels));
  const auto margin = scale * (positive.squeeze(-1) - (degraded * truth).sum(-1));
  loss.preference = at::softplus(-margin).mean();
  loss.total = loss.contrastive + loss.hard_negative + 0.5 * loss.preference;
  return loss;
}

JudgeLoss judge_loss(models::Judge& model, const TrainingBatch& batch, int negatives) {
  check(!batch.negative_captions.empty() && negatives >= 1 &&
            negatives <= static_cast<int>(batch.negative_captions[0].size()),
        "the judge loss needs at least ", negatives, " hard negatives per scene in the batch");
  const int64_t s = batch.images.size(0);
  std::vector<std::string> captions;
  for (int64_t i = 0; i < s; ++i) {
    captions.push_back(batch.captions[i]);
    for (int k = 0; k < negatives; ++k) captions.push_back(batch.negative_captions[i][k]);
  }
  const auto images = batch.images.select(1, 0).repeat_interleave(negatives + 1, 0);
  const auto logits = model.pair_logits(images, model.tokenizer().encode(captions)).view({s, negatives + 1});
  JudgeLoss loss;
  // Positives and negatives count equally: a constant guess scores ln 2 whatever the ratio.
  const auto positive = at::softplus(-logits.select(1, 0)).mean();
  const auto negative = at::softplus(logits.narrow(1, 1, negatives)).mean();
  loss.matching = 0.5 * (positive + negative);
  // BCE alone spends most of its gradient on negatives that are already far below the truth;
  // the listwise term puts it on the negative that still wins, which is what the metric counts.
  const auto truth_first = at::zeros({s}, at::TensorOptions().dtype(at::kLong).device(logits.device()));
  loss.ranking = at::cross_entropy_loss(logits, truth_first);
  loss.total = loss.matching + loss.ranking;
  return loss;
}

TrainReport train_reward(const TrainOptions& options) {
  check_options(options);
  const auto device = device_of(options.device);
  TrainReport report;
  if (options.eval_only) {
    auto model = models::ClipReward::load(options.output, device);
    report.parameters = parameter_count(*model);
    report.metrics = evaluate_reward(*model, options.eval_scenes, device);
    return report;
  }
  const uint64_t seed = options.seed == 0 ? kRewardSeed : options.seed;
  at::manual_seed(seed);
  // --init continues an earlier run (GPU time comes in short slices).
  auto model = options.init.empty()
                   ? std::make_shared<models::ClipReward>(models::ClipRewardConfig{}, models::shapeworld_tokenizer())
                   : models::ClipReward::load(options.init);
  model->to(device);
  report.parameters = parameter_count(*model);
  BatchOptions batch;
  batch.scenes = options.batch;
  batch.resolution = model->config().resolution;
  batch.negatives = kEvalNegatives;
  batch.degraded = true;
  batch.cpu_render_threads = options.render_threads;
  batch.relation_negatives_first = options.relation_negatives_first;
  std::tie(report.seconds, report.final_loss) =
      train_loop(*model, batch, seed, device, options.steps, 1e-3, "reward", options.time_limit_s,
                 [&](const TrainingBatch& b) { return reward_loss(*model, b).total; }, &report.steps);
  report.metrics = evaluate_reward(*model, options.eval_scenes, device);
  model->save(options.output, training_facts(options, seed, report));
  return report;
}

TrainReport train_judge(const TrainOptions& options) {
  check_options(options);
  const auto device = device_of(options.device);
  TrainReport report;
  if (options.eval_only) {
    auto model = models::Judge::load(options.output, device);
    report.parameters = parameter_count(*model);
    report.metrics = evaluate_judge(*model, options.eval_scenes, device);
    return report;
  }
  const uint64_t seed = options.seed == 0 ? kJudgeSeed : options.seed;
  at::manual_seed(seed);
  auto model = options.init.empty()
                   ? std::make_shared<models::Judge>(models::JudgeConfig{}, models::shapeworld_tokenizer())
                   : models::Judge::load(options.init);
  model->to(device);
  report.parameters = parameter_count(*model);
  BatchOptions batch;
  batch.scenes = options.batch;
  batch.resolution = model->config().resolution;
  batch.negatives = kJudgeTrainNegatives;
  batch.cpu_render_threads = options.render_threads;
  batch.relation_negatives_first = options.relation_negatives_first;
  std::tie(report.seconds, report.final_loss) =
      train_loop(*model, batch, seed, device, options.steps, 5e-4, "judge", options.time_limit_s,
                 [&](const TrainingBatch& b) { return judge_loss(*model, b, kJudgeTrainNegatives).total; }, &report.steps);
  report.metrics = evaluate_judge(*model, options.eval_scenes, device);
  model->save(options.output, training_facts(options, seed, report));
  return report;
}

}  // namespace dreamdpo::shapeworld
