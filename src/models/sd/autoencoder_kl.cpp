#include "models/sd/autoencoder_kl.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/functional/upsampling.h>

#include <fstream>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "models/attention.h"

namespace dreamdpo::models::sd {
namespace {

constexpr double kEps = 1e-6;

torch::nn::GroupNorm group_norm(std::int64_t groups, std::int64_t channels) {
  check(channels % groups == 0, "VAE: ", channels, " channels cannot be split into ", groups, " norm groups");
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(kEps));
}

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel == 3 && stride == 1 ? 1 : 0));
}

}  // namespace

VaeResnetBlockImpl::VaeResnetBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups) {
  norm1_ = register_module("norm1", group_norm(groups, in_channels));
  conv1_ = register_module("conv1", conv(in_channels, out_channels, 3));
  norm2_ = register_module("norm2", group_norm(groups, out_channels));
  conv2_ = register_module("conv2", conv(out_channels, out_channels, 3));
  if (in_channels != out_channels) conv_shortcut_ = register_module("conv_shortcut", conv(in_channels, out_channels, 1));
}

at::Tensor VaeResnetBlockImpl::forward(const at::Tensor& x) {
  auto h = conv1_(at::silu(norm1_(x)));
  h = conv2_(at::silu(norm2_(h)));  // dropout 0
  return (conv_shortcut_ ? conv_shortcut_(x) : x) + h;
}

VaeAttentionImpl::VaeAttentionImpl(std::int64_t channels, std::int64_t groups) {
  group_norm_ = register_module("group_norm", group_norm(groups, channels));
  to_q_ = register_module("to_q", torch::nn::Linear(channels, channels));
  to_k_ = register_module("to_k", torch::nn::Linear(channels, channels));
  to_v_ = register_module("to_v", torch::nn::Linear(channels, channels));
  to_out_0_ = torch::nn::Linear(channels, channels);
  torch::nn::ModuleList to_out;
  to_out->push_back(to_out_0_);  // diffusers' to_out.1 is a Dropout: no weights
  register_module("to_out", to_out);
}

at::Tensor VaeAttentionImpl::forward(const at::Tensor& x) {
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto tokens = group_norm_(x).reshape({b, c, h * w}).transpose(1, 2);  // [B, HW, C]
  // One head of width C (diffusers: attention_head_dim = channels).
  const auto q = to_q_(tokens).unsqueeze(1), k = to_k_(tokens).unsqueeze(1), v = to_v_(tokens).unsqueeze(1);
  const auto attended = to_out_0_(models::attention(q, k, v).squeeze(1));
  return attended.transpose(1, 2).reshape({b, c, h, w}) + x;
}

VaeMidBlockImpl::VaeMidBlockImpl(std::int64_t channels, std::int64_t groups, bool add_attention) {
  torch::nn::ModuleList resnets, attentions;
  for (int i = 0; i < 2; ++i) {
    resnets_.emplace_back(channels, channels, groups);
    resnets->push_back(resnets_.back());
  }
  register_module("resnets", resnets);
  if (add_attention) {
    attention_ = VaeAttention(channels, groups);
    attentions->push_back(attention_);
    register_module("attentions", attentions);
  }
}

at::Tensor VaeMidBlockImpl::forward(at::Tensor x) {
  x = resnets_[0](x);
  if (attention_) x = attention_(x);
  return resnets_[1](x);
}

VaeLevelImpl::VaeLevelImpl(Kind kind, std::int64_t in_channels, std::int64_t out_channels, std::int64_t layers,
                           std::int64_t groups, bool resample)
    : kind_(kind) {
  torch::nn::ModuleList resnets;
  for (std::int64_t i = 0; i < layers; ++i) {
    resnets_.emplace_back(i == 0 ? in_channels : out_channels, out_channels, groups);
    resnets->push_back(resnets_.back());
  }
  register_module("resnets", resnets);
  if (resample) {
    resample_conv_ = kind == Kind::kDown ? conv(out_channels, out_channels, 3, 2) : conv(out_channels, out_channels, 3);
    auto holder = std::make_shared<torch::nn::Module>();  // diffusers' Downsample2D / Upsample2D: only `conv`
    holder->register_module("conv", resample_conv_);
    torch::nn::ModuleList list;
    list->push_back(holder);
    register_module(kind == Kind::kDown ? "downsamplers" : "upsamplers", list);
  }
}

at::Tensor VaeLevelImpl::forward(at::Tensor x) {
  for (auto& resnet : resnets_) x = resnet(x);
  if (!resample_conv_) return x;
  if (kind_ == Kind::kDown) {
    // diffusers' Downsample2D with padding 0 pads right and bottom by one, then a stride-2 conv.
    return resample_conv_(at::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  }
  namespace F = torch::nn::functional;
  return resample_conv_(F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest)));
}

VaeEncoderImpl::VaeEncoderImpl(const AutoencoderKLConfig& config) {
  const auto& channels = config.block_out_channels;
  const auto groups = config.norm_num_groups;
  conv_in_ = register_module("conv_in", conv(config.in_channels, channels.front(), 3));
  torch::nn::ModuleList down_blocks;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    down_blocks_.emplace_back(VaeLevelImpl::Kind::kDown, i == 0 ? channels[0] : channels[i - 1], channels[i],
                              config.layers_per_block, groups, i + 1 < channels.size());
    down_blocks->push_back(down_blocks_.back());
  }
  register_module("down_blocks", down_blocks);
  mid_block_ = register_module("mid_block", VaeMidBlock(channels.back(), groups, config.mid_block_add_attention));
  conv_norm_out_ = register_module("conv_norm_out", group_norm(groups, channels.back()));
  conv_out_ = register_module("conv_out", conv(channels.back(), 2 * config.latent_channels, 3));
}

at::Tensor VaeEncoderImpl::forward(const at::Tensor& images) {
  auto x = conv_in_(images);
  for (auto& block : down_blocks_) x = block(x);
  x = mid_block_(x);
  return conv_out_(at::silu(conv_norm_out_(x)));
}

VaeDecoderImpl::VaeDecoderImpl(const AutoencoderKLConfig& config) {
  const std::vector<std::int64_t> reversed(config.block_out_channels.rbegin(), config.block_out_channels.rend());
  const auto groups = config.norm_num_groups;
  conv_in_ = register_module("conv_in", conv(config.latent_channels, reversed.front(), 3));
  mid_block_ = register_module("mid_block", VaeMidBlock(reversed.front(), groups, config.mid_block_add_attention));
  torch::nn::ModuleList up_blocks;
  for (std::size_t i = 0; i < reversed.size(); ++i) {
    up_blocks_.emplace_back(VaeLevelImpl::Kind::kUp, i == 0 ? reversed[0] : reversed[i - 1], reversed[i],
                            config.layers_per_block + 1, groups, i + 1 < reversed.size());
    up_blocks->push_back(up_blocks_.back());
  }
  register_module("up_blocks", up_blocks);
  conv_norm_out_ = register_module("conv_norm_out", group_norm(groups, reversed.back()));
  conv_out_ = register_module("conv_out", conv(reversed.back(), config.out_channels, 3));
}

at::Tensor VaeDecoderImpl::forward(const at::Tensor& latents) {
  auto x = mid_block_(conv_in_(latents));
  for (auto& block : up_blocks_) x = block(x);
  return conv_out_(at::silu(conv_norm_out_(x)));
}

AutoencoderKLImpl::AutoencoderKLImpl(AutoencoderKLConfig config) : config_(std::move(config)) {
  check(!config_.block_out_channels.empty(), "VAE config: block_out_channels is empty");
  check(config_.layers_per_block >= 1 && config_.latent_channels >= 1 && config_.norm_num_groups >= 1,
        "VAE config: layers_per_block, latent_channels and norm_num_groups must be positive");
  encoder_ = register_module("encoder", VaeEncoder(config_));
  decoder_ = register_module("decoder", VaeDecoder(config_));
  const auto latent = config_.latent_channels;
  if (config_.use_quant_conv) quant_conv_ = register_module("quant_conv", conv(2 * latent, 2 * latent, 1));
  if (config_.use_post_quant_conv) post_quant_conv_ = register_module("post_quant_conv", conv(latent, latent, 1));
}

Posterior AutoencoderKLImpl::encode(const at::Tensor& images) {
  check(images.dim() == 4 && images.size(1) == config_.in_channels, "VAE encode: expected images [B, ",
        config_.in_channels, ", H, W], got ", images.sizes());
  const std::int64_t factor = std::int64_t{1} << (config_.block_out_channels.size() - 1);
  check(images.size(2) % factor == 0 && images.size(3) % factor == 0, "VAE encode: image size ", images.size(2), "x",
        images.size(3), " is not a multiple of ", factor);
  auto moments = encoder_(images);
  if (quant_conv_) moments = quant_conv_(moments);
  auto halves = moments.chunk(2, 1);
  return {halves[0], halves[1].clamp(-30.0, 20.0)};
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& latents) {
  check(latents.dim() == 4 && latents.size(1) == config_.latent_channels, "VAE decode: expected latents [B, ",
        config_.latent_channels, ", h, w], got ", latents.sizes());
  return decoder_(post_quant_conv_ ? post_quant_conv_(latents) : latents);
}

AutoencoderKLConfig read_autoencoder_kl_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json);
  check(in.good(), "cannot read VAE config ", config_json.string());
  nlohmann::json json;
  try {
    in >> json;
  } catch (const nlohmann::json::exception& e) {
    fail(config_json.string(), ": not valid JSON (", e.what(), ")");
  }
  AutoencoderKLConfig config;
  try {
    auto get = [&](const char* key, auto& value) {
      if (json.contains(key) && !json[key].is_null()) value = json[key].get<std::decay_t<decltype(value)>>();
    };
    get("in_channels", config.in_channels);
    get("out_channels", config.out_channels);
    get("block_out_channels", config.block_out_channels);
    get("layers_per_block", config.layers_per_block);
    get("latent_channels", config.latent_channels);
    get("norm_num_groups", config.norm_num_groups);
    get("mid_block_add_attention", config.mid_block_add_attention);
    get("use_quant_conv", config.use_quant_conv);
    get("use_post_quant_conv", config.use_post_quant_conv);
    get("scaling_factor", config.scaling_factor);
    check(!json.contains("act_fn") || json["act_fn"] == "silu", config_json.string(), ": act_fn ", json.value("act_fn", ""),
          " is not supported (silu is)");
    for (const char* key : {"down_block_types", "up_block_types"}) {
      if (!json.contains(key)) continue;
      const std::string expected = std::string(key) == "down_block_types" ? "DownEncoderBlock2D" : "UpDecoderBlock2D";
      for (const auto& type : json[key]) {
        check(type == expected, config_json.string(), ": ", key, " holds ", type.dump(), "; only ", expected,
              " is supported");
      }
      check(json[key].size() == config.block_out_channels.size(), config_json.string(), ": ", key,
            " and block_out_channels differ in length");
    }
  } catch (const nlohmann::json::exception& e) {
    fail(config_json.string(), ": unexpected value (", e.what(), ")");
  }
  return config;
}

AutoencoderKLConfig infer_autoencoder_kl_config(const std::map<std::string, at::Tensor>& tensors,
                                                const AutoencoderKLConfig& defaults) {
  auto shape = [&](const std::string& name) -> std::optional<at::IntArrayRef> {
    const auto it = tensors.find(name);
    if (it == tensors.end()) return std::nullopt;
    return it->second.sizes();
  };
  AutoencoderKLConfig config = defaults;
  const auto conv_in = shape("encoder.conv_in.weight");
  check(conv_in.has_value() && conv_in->size() == 4, "not a diffusers VAE state dict (no encoder.conv_in.weight)");
  config.in_channels = (*conv_in)[1];
  config.block_out_channels.clear();
  for (int i = 0;; ++i) {
    const auto w = shape("encoder.down_blocks." + std::to_string(i) + ".resnets.0.conv1.weight");
    if (!w) break;
    config.block_out_channels.push_back((*w)[0]);
  }
  check(!config.block_out_channels.empty(), "not a diffusers VAE state dict (no encoder.down_blocks)");
  int layers = 0;
  while (shape("encoder.down_blocks.0.resnets." + std::to_string(layers) + ".conv1.weight")) ++layers;
  config.layers_per_block = layers;
  if (const auto out = shape("encoder.conv_out.weight")) config.latent_channels = (*out)[0] / 2;
  if (const auto out = shape("decoder.conv_out.weight")) config.out_channels = (*out)[0];
  config.use_quant_conv = shape("quant_conv.weight").has_value();
  config.use_post_quant_conv = shape("post_quant_conv.weight").has_value();
  config.mid_block_add_attention = shape("encoder.mid_block.attentions.0.to_q.weight").has_value();
  // Group counts leave no trace in shapes: keep the default where it divides every level's
  // channels (SD: 32), else the largest count that does.
  std::int64_t groups = config.norm_num_groups;
  for (const auto c : config.block_out_channels) groups = std::gcd(groups, c);
  config.norm_num_groups = std::max<std::int64_t>(groups, 1);
  return config;
}

}  // namespace dreamdpo::models::sd
