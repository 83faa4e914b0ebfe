// Training and evaluation of the built-in reward model and judge on ShapeWorld (see
// models/builtin/reward.md and judge.md for the recorded runs).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/builtin/clip_reward.h"
#include "models/builtin/judge.h"
#include "shapeworld/train_options.h"
#include "shapeworld/training_data.h"

namespace dreamdpo::shapeworld {

// Held-out scenes come from this seed, which no training run may use.
inline constexpr uint64_t kHeldOutSeed = 1000003;
inline constexpr uint64_t kRewardSeed = 1;
inline constexpr uint64_t kJudgeSeed = 7;
inline constexpr int kEvalNegatives = 8;

struct CaptionMetrics {
  int64_t scenes = 0;
  double accuracy = 0;  // the true caption scores above all its hard negatives
  // Per aspect of the negative: {true caption won, comparisons}.
  std::map<std::string, std::pair<int64_t, int64_t>> aspect;
  double clean_preference = -1;  // reward model: clean render beats its degraded copy (-1 = not measured)

  double aspect_accuracy(const std::string& name) const;
  std::string summary() const;  // one line: "accuracy 0.95 (colour 0.99, ...) clean>degraded 0.97"
};

// images [S,3,R,R], captions [S][1 + negatives] (the true one first) -> scores [S, 1 + negatives].
using CaptionScorer =
    std::function<at::Tensor(const at::Tensor& images, const std::vector<std::vector<std::string>>& captions)>;

// Accuracy of picking the true caption among kEvalNegatives hard negatives on `scenes` held-out
// scenes (one random view each, random phrasings). With `preference_score` (images [S,3,R,R],
// true captions -> [S] scores) it also measures clean-over-degraded preference.
CaptionMetrics evaluate_captions(const CaptionScorer& scorer, int64_t scenes, int64_t resolution, at::Device device,
                                 const std::function<at::Tensor(const at::Tensor&, const std::vector<std::string>&)>&
                                     preference_score = nullptr);
CaptionMetrics evaluate_reward(models::ClipReward& model, int64_t scenes, at::Device device);
CaptionMetrics evaluate_judge(models::Judge& model, int64_t scenes, at::Device device);

struct RewardLoss {
  at::Tensor total, contrastive, hard_negative, preference;
};
// InfoNCE both ways over the batch + the true caption against its hard negatives + a logistic
// preference of each clean render over its degraded copy under the true caption. Uses view 0.
RewardLoss reward_loss(models::ClipReward& model, const TrainingBatch& batch);
struct JudgeLoss {
  at::Tensor total, matching, ranking;
};
// matching: sigmoid BCE of (image, caption) pairs, every true pair and `negatives` hard-negative
// pairs per scene, positives weighted so both classes count equally (a constant guess scores
// ln 2). ranking: cross-entropy of the true caption against the scene's `negatives` hard
// negatives — the evaluation's own question, asked of every scene (a constant guess scores
// ln(1 + negatives)). total = matching + ranking.
JudgeLoss judge_loss(models::Judge& model, const TrainingBatch& batch, int negatives);
// Hard negatives per scene when training the judge: as many as the evaluation asks it to beat.
inline constexpr int kJudgeTrainNegatives = kEvalNegatives;

struct TrainReport {
  CaptionMetrics metrics;
  double seconds = 0;  // wall time of the training loop
  int64_t steps = 0;
  double final_loss = 0;  // mean over the last 50 steps
  int64_t parameters = 0;
};

// Train from options.seed (0 = the model's default seed), write options.output, evaluate on
// options.eval_scenes held-out scenes. With options.eval_only, evaluate options.output.
TrainReport train_reward(const TrainOptions& options);
TrainReport train_judge(const TrainOptions& options);

}  // namespace dreamdpo::shapeworld
