// The BERT text encoder of BLIP as ImageReward runs it (ImageReward/models/BLIP/med.py
// BertModel, add_pooling_layer=False, mode 'multimodal'): word + absolute position embeddings
// (no token types in med.py), LayerNorm; per layer self-attention, cross-attention to the image
// tokens (keys/values from encoder_width), GELU feed-forward, each sub-block post-LN with a
// residual. Names follow the state dict (embeddings.*, encoder.layer.N.{attention,
// crossattention}.{self.{query,key,value},output.{dense,LayerNorm}}, intermediate.dense,
// output.{dense,LayerNorm}). The config comes from med_config.json.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>

namespace dreamdpo::models::blip {

struct BertTextConfig {
  int64_t vocab_size = 30524;  // bert-base-uncased + BLIP's [DEC] and [ENC]
  int64_t hidden_size = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t encoder_width = 1024;  // BLIP_Pretrain sets it to the ViT's width, whatever the json says
  double layer_norm_eps = 1e-12;
  bool add_cross_attention = true;
  void validate() const;
  // Reads med_config.json; unknown keys are ignored (it is transformers' BertConfig), missing or
  // unsupported values (hidden_act other than gelu, relative positions) are an error naming the file.
  static BertTextConfig from_json(const nlohmann::json& json, const std::string& origin);
  static BertTextConfig from_file(const std::filesystem::path& med_config_json);
};

class BertEmbeddings : public torch::nn::Module {
 public:
  explicit BertEmbeddings(const BertTextConfig& c);
  at::Tensor forward(const at::Tensor& input_ids);
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  at::Tensor position_ids;  // buffer [1, max_position_embeddings], as med.py registers it
};

class BertSelfAttention : public torch::nn::Module {
 public:
  BertSelfAttention(const BertTextConfig& c, bool cross);
  // keys/values from `context` (the hidden states for self-attention, image tokens for cross).
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& context, const at::Tensor& mask);
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  int64_t heads;
};

class BertSelfOutput : public torch::nn::Module {
 public:
  explicit BertSelfOutput(const BertTextConfig& c, int64_t in_features);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& residual);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};

class BertAttention : public torch::nn::Module {
 public:
  BertAttention(const BertTextConfig& c, bool cross);
  // Self-attention when `image` is undefined, else cross-attention to it.
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& image = {});
  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertSelfOutput> output;
};

class BertIntermediate : public torch::nn::Module {
 public:
  explicit BertIntermediate(const BertTextConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear dense{nullptr};
};

class BertLayer : public torch::nn::Module {
 public:
  explicit BertLayer(const BertTextConfig& c);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& image);
  std::shared_ptr<BertAttention> attention, crossattention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertSelfOutput> output;
};

class BertEncoder : public torch::nn::Module {
 public:
  explicit BertEncoder(const BertTextConfig& c);
  std::vector<std::shared_ptr<BertLayer>> layer;
};

class BertTextEncoder : public torch::nn::Module {
 public:
  explicit BertTextEncoder(const BertTextConfig& config = {});
  // ids [B,L] int64, attention_mask [B,L] (1 = token, 0 = padding), image tokens [B,N,encoder_width]
  // (all attended) -> last hidden state [B,L,hidden].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& image);
  // med.py's extended self-attention mask: (1 - mask) * -10000, shaped [B,1,1,L].
  static at::Tensor extended_mask(const at::Tensor& attention_mask, at::ScalarType dtype);
  const BertTextConfig& config() const { return config_; }

  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;

 private:
  BertTextConfig config_;
};

}  // namespace dreamdpo::models::blip
