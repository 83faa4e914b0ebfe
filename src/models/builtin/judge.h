// The built-in judge, used only to evaluate (never as a ranker, so DreamDPO cannot optimise
// against it). Deliberately unlike the reward model in architecture and objective: one
// single-stream transformer (ViT-lite) reads 4x4 image patches and the caption's words
// together, and a CLS token gives one matching logit per (image, caption) pair, trained as a
// binary classifier (sigmoid BCE) of true vs hard-negative captions plus a listwise ranking of
// the true caption above its negatives.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/builtin/transformer_block.h"
#include "models/builtin/word_tokenizer.h"

namespace dreamdpo::models {

struct JudgeConfig {
  int64_t resolution = 32;
  int64_t patch = 4;
  int64_t width = 96;
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t max_length = 16;

  std::map<std::string, std::string> to_metadata() const;
  static JudgeConfig from_metadata(const std::map<std::string, std::string>& metadata, const std::string& origin);
};

class Judge : public torch::nn::Module {
 public:
  static constexpr const char* kKind = "dreamdpo-builtin-judge";

  Judge(const JudgeConfig& config, WordTokenizer tokenizer);

  // images [N,3,H,W] in [0,1] (any size), tokens [N,L] -> matching logits [N], one per pair.
  at::Tensor pair_logits(const at::Tensor& images, const at::Tensor& tokens);
  // Every image against every caption: [N, M] logits.
  at::Tensor score(const at::Tensor& images, const std::vector<std::string>& captions);

  const JudgeConfig& config() const { return config_; }
  const WordTokenizer& tokenizer() const { return tokenizer_; }

  void save(const std::filesystem::path& path, const std::map<std::string, std::string>& extra = {}) const;
  static std::shared_ptr<Judge> load(const std::filesystem::path& path, at::Device device = at::kCPU);

 private:
  JudgeConfig config_;
  WordTokenizer tokenizer_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::nn::Embedding word_embed_{nullptr};
  at::Tensor cls_, image_positions_, text_positions_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace dreamdpo::models
