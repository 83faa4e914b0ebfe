// The built-in reward model: a CLIP-style dual encoder trained on ShapeWorld (DESIGN §3).
// Image tower: a small CNN (GroupNorm + SiLU) whose 4x4 feature map is flattened, not pooled,
// so where things are ("on top of", which group is up) survives. Text tower: word embeddings +
// learned positions + pre-norm transformer blocks, read at the start token. Both end in
// L2-normalised embeddings; score = logit_scale * cosine, as in CLIP and HPSv2.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
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

// Images of any size [N,3,H,W] -> [N,3,size,size]: average pooling by 2 while the image is at
// least twice the target (antialiasing), then bilinear interpolation to the exact size.
at::Tensor fit_images(const at::Tensor& images, int64_t size);

// The ShapeWorld tokenizer shared by the built-in models.
WordTokenizer shapeworld_tokenizer(int64_t max_length = 16);

struct ClipRewardConfig {
  int64_t resolution = 32;
  std::vector<int64_t> channels = {32, 64, 128, 128};  // stem, then one stride-2 stage each
  int64_t embed_dim = 128;
  int64_t text_width = 128;
  int64_t text_layers = 2;
  int64_t text_heads = 4;
  int64_t max_length = 16;

  std::map<std::string, std::string> to_metadata() const;
  static ClipRewardConfig from_metadata(const std::map<std::string, std::string>& metadata,
                                        const std::string& origin);
};

class ClipReward : public torch::nn::Module {
 public:
  static constexpr const char* kKind = "dreamdpo-builtin-reward";

  ClipReward(const ClipRewardConfig& config, WordTokenizer tokenizer);

  // images [N,3,H,W] in [0,1], any size -> [N,embed_dim], unit length.
  at::Tensor encode_images(const at::Tensor& images);
  // tokens [M,L] -> [M,embed_dim], unit length.
  at::Tensor encode_tokens(const at::Tensor& tokens);
  // Captions outside the vocabulary are an error listing the unknown words and the vocabulary.
  at::Tensor encode_captions(const std::vector<std::string>& captions);
  // exp of the learned log-scale, clamped to 100 as in CLIP.
  at::Tensor logit_scale();

  const ClipRewardConfig& config() const { return config_; }
  const WordTokenizer& tokenizer() const { return tokenizer_; }

  // Writes weights + architecture + vocabulary (+ `extra` facts) atomically.
  void save(const std::filesystem::path& path, const std::map<std::string, std::string>& extra = {}) const;
  // Rebuilds the architecture from the file's metadata and loads it strictly.
  static std::shared_ptr<ClipReward> load(const std::filesystem::path& path, at::Device device = at::kCPU);

 private:
  ClipRewardConfig config_;
  WordTokenizer tokenizer_;
  torch::nn::Sequential image_layers_{nullptr};
  torch::nn::Conv2d image_reduce_{nullptr};
  torch::nn::Linear image_head_{nullptr};
  torch::nn::Embedding token_embedding_{nullptr};
  at::Tensor positions_, log_scale_;
  std::vector<std::shared_ptr<TransformerBlock>> text_blocks_;
  torch::nn::LayerNorm text_norm_{nullptr};
  torch::nn::Linear text_head_{nullptr};
};

}  // namespace dreamdpo::models
