// The HPSv2 / HPSv2.1 ranker as DreamDPO computes it (threestudio/reward/hpsv2.py): images are
// resized (bicubic, shorter side to the model's 224) and normalised with CLIP's mean/std, both
// OpenCLIP towers encode, and the score is the cosine of the L2-normalised image and text features
// (the diagonal of image_features @ text_features.T; no logit scale).
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "models/clip/clip_bpe_tokenizer.h"
#include "models/clip/open_clip_model.h"
#include "rank/hpsv2_config.h"
#include "rank/ranker.h"

namespace dreamdpo::rank {

class Hpsv2Ranker : public Ranker {
 public:
  // Checks that every file exists before reading any; errors name the missing one.
  explicit Hpsv2Ranker(const Hpsv2Config& config);
  Hpsv2Ranker(models::clip::OpenClipModel model, models::clip::ClipBpeTokenizer tokenizer,
              const std::string& dtype = "auto");
  std::string name() const override { return "hpsv2"; }
  // [N] float32 cosine scores, on the images' device (the model follows the images there and
  // runs in the configured dtype for that device).
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override;
  // Same, from token ids [1 or N, context] (for tests with small vocabularies).
  at::Tensor score_ids(const at::Tensor& images, const at::Tensor& ids);

 private:
  // Moves the model to the images' device in the dtype configured for it.
  void follow(const at::Tensor& images);
  at::Tensor image_features(const at::Tensor& images);

  models::clip::OpenClipModel model_;
  models::clip::ClipBpeTokenizer tokenizer_;
  std::string dtype_name_;
  at::ScalarType dtype_ = at::kFloat;
  std::string cached_prompt_;
  at::Tensor cached_text_;  // [1, embed] normalised float32 text feature of cached_prompt_
};

}  // namespace dreamdpo::rank
