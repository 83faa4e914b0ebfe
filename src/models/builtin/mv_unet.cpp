#include "models/builtin/mv_unet.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen/ATen.h on LibTorch 2.x)

#include <cmath>

#include "core/error.h"
#include "core/strings.h"
#include "models/module_io.h"

namespace dreamdpo::models {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

// Nearest-neighbour 2x upsampling by broadcasting (the same on every LibTorch version).
at::Tensor upsample2x(const at::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.view({n, c, h, 1, w, 1}).expand({n, c, h, 2, w, 2}).reshape({n, c, 2 * h, 2 * w});
}

int64_t parse_int(const std::map<std::string, std::string>& metadata, const std::string& key) {
  const auto it = metadata.find(key);
  check(it != metadata.end(), "diffusion model file: metadata key '", key, "' is missing");
  try {
    size_t used = 0;
    const long long value = std::stoll(it->second, &used);
    check(used == it->second.size(), "trailing characters");
    return value;
  } catch (const std::exception&) {
    fail("diffusion model file: metadata key '", key, "' is not an integer: '", it->second, "'");
  }
}

}  // namespace

std::map<std::string, std::string> MvUnetConfig::to_metadata() const {
  std::vector<std::string> mult;
  for (int64_t m : multipliers) mult.push_back(std::to_string(m));
  return {{"unet.base_channels", std::to_string(base_channels)},
          {"unet.multipliers", core::join(mult, ",")},
          {"unet.attention_from_level", std::to_string(attention_from_level)},
          {"unet.res_blocks", std::to_string(res_blocks)},
          {"unet.heads", std::to_string(heads)},
          {"unet.embed_dim", std::to_string(embed_dim)},
          {"unet.vocabulary_size", std::to_string(vocabulary_size)},
          {"unet.max_length", std::to_string(max_length)},
          {"unet.text_width", std::to_string(text_width)},
          {"unet.text_layers", std::to_string(text_layers)},
          {"unet.n_view", std::to_string(n_view)},
          {"unet.image_size", std::to_string(image_size)}};
}

MvUnetConfig MvUnetConfig::from_metadata(const std::map<std::string, std::string>& metadata) {
  MvUnetConfig c;
  c.base_channels = parse_int(metadata, "unet.base_channels");
  c.attention_from_level = parse_int(metadata, "unet.attention_from_level");
  c.res_blocks = parse_int(metadata, "unet.res_blocks");
  c.heads = parse_int(metadata, "unet.heads");
  c.embed_dim = parse_int(metadata, "unet.embed_dim");
  c.vocabulary_size = parse_int(metadata, "unet.vocabulary_size");
  c.max_length = parse_int(metadata, "unet.max_length");
  c.text_width = parse_int(metadata, "unet.text_width");
  c.text_layers = parse_int(metadata, "unet.text_layers");
  c.n_view = parse_int(metadata, "unet.n_view");
  c.image_size = parse_int(metadata, "unet.image_size");
  const auto it = metadata.find("unet.multipliers");
  check(it != metadata.end(), "diffusion model file: metadata key 'unet.multipliers' is missing");
  c.multipliers.clear();
  std::stringstream list(it->second);
  for (std::string item; std::getline(list, item, ',');) {
    check(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos,
          "diffusion model file: 'unet.multipliers' must be comma-separated integers, got '", it->second, "'");
    c.multipliers.push_back(std::stoll(item));
  }
  check(!c.multipliers.empty(), "diffusion model file: 'unet.multipliers' is empty");
  return c;
}

ResBlockImpl::ResBlockImpl(int64_t in_channels, int64_t out_channels, int64_t embed_dim) {
  norm1 = register_module("norm1", nn::GroupNorm(8, in_channels));
  conv1 = register_module("conv1", conv3x3(in_channels, out_channels));
  embed = register_module("embed", nn::Linear(embed_dim, out_channels));
  norm2 = register_module("norm2", nn::GroupNorm(8, out_channels));
  conv2 = register_module("conv2", conv3x3(out_channels, out_channels));
  if (in_channels != out_channels) {
    skip = register_module("skip", nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 1)));
  }
}

at::Tensor ResBlockImpl::forward(const at::Tensor& x, const at::Tensor& embedding) {
  auto h = conv1->forward(at::silu(norm1->forward(x)));
  h = h + embed->forward(embedding).unsqueeze(-1).unsqueeze(-1);
  h = conv2->forward(at::silu(norm2->forward(h)));
  return (skip ? skip->forward(x) : x) + h;
}

MultiViewTransformerImpl::MultiViewTransformerImpl(int64_t channels, int64_t text_width, int64_t heads) {
  norm_in = register_module("norm_in", nn::GroupNorm(8, channels));
  norm_self = register_module("norm_self", nn::LayerNorm(nn::LayerNormOptions({channels})));
  self_attention = register_module("self_attention", Attention(channels, channels, heads));
  norm_cross = register_module("norm_cross", nn::LayerNorm(nn::LayerNormOptions({channels})));
  cross_attention = register_module("cross_attention", Attention(channels, text_width, heads));
  norm_mlp = register_module("norm_mlp", nn::LayerNorm(nn::LayerNormOptions({channels})));
  fc1 = register_module("fc1", nn::Linear(channels, 4 * channels));
  fc2 = register_module("fc2", nn::Linear(4 * channels, channels));
}

at::Tensor MultiViewTransformerImpl::forward(const at::Tensor& x, int64_t n_view, const TextEncoding& text,
                                             bool views_attend_jointly) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // [S*V,C,H,W] -> [S, V*H*W, C]: one token sequence per object holds all of its views.
  const int64_t groups = views_attend_jointly ? n / n_view : n;
  const int64_t per_group = n / groups;
  auto tokens = norm_in->forward(x).view({groups, per_group, c, h * w}).permute({0, 1, 3, 2}).reshape(
      {groups, per_group * h * w, c});
  auto hs = norm_self->forward(tokens);
  tokens = tokens + self_attention->forward(hs, hs);
  // Cross-attention per image: every view of an object carries the same caption rows.
  tokens = tokens.view({n, h * w, c});
  tokens = tokens + cross_attention->forward(norm_cross->forward(tokens), text.tokens, text.mask);
  tokens = tokens + fc2->forward(at::gelu(fc1->forward(norm_mlp->forward(tokens))));
  return x + tokens.permute({0, 2, 1}).reshape({n, c, h, w});
}

MvUnetImpl::MvUnetImpl(const MvUnetConfig& cfg) : config(cfg) {
  const int64_t levels = static_cast<int64_t>(config.multipliers.size());
  check(levels >= 1 && config.base_channels % 8 == 0 && config.res_blocks >= 1 && config.n_view >= 1,
        "invalid diffusion UNet configuration");
  check(config.image_size % (int64_t{1} << (levels - 1)) == 0, "image size ", config.image_size,
        " does not halve ", levels - 1, " times");
  text_encoder = register_module(
      "text_encoder", TextEncoder(config.vocabulary_size, config.max_length, config.text_width, config.text_layers,
                                  config.heads));
  const int64_t e = config.embed_dim, base = config.base_channels;
  time_fc1 = register_module("time_fc1", nn::Linear(base, e));
  time_fc2 = register_module("time_fc2", nn::Linear(e, e));
  camera_fc1 = register_module("camera_fc1", nn::Linear(16, e));
  camera_fc2 = register_module("camera_fc2", nn::Linear(e, e));
  conv_in = register_module("conv_in", conv3x3(3, base));

  down_blocks = register_module("down_blocks", nn::ModuleList());
  down_transformers = register_module("down_transformers", nn::ModuleList());
  downsamples = register_module("downsamples", nn::ModuleList());
  int64_t channels = base;
  std::vector<int64_t> skip_channels;
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t out = base * config.multipliers[level];
    nn::ModuleList blocks, transformers;
    for (int64_t r = 0; r < config.res_blocks; ++r) {
      blocks->push_back(ResBlock(channels, out, e));
      if (has_attention(level)) transformers->push_back(MultiViewTransformer(out, config.text_width, config.heads));
      channels = out;
    }
    down_blocks->push_back(blocks);
    down_transformers->push_back(transformers);
    skip_channels.push_back(channels);
    if (level + 1 < levels) downsamples->push_back(conv3x3(channels, channels, 2));
  }
  mid_block = register_module("mid_block", ResBlock(channels, channels, e));
  mid_transformer = register_module("mid_transformer", MultiViewTransformer(channels, config.text_width, config.heads));

  // Up path, stored in the order it runs (deepest level first).
  up_blocks = register_module("up_blocks", nn::ModuleList());
  up_transformers = register_module("up_transformers", nn::ModuleList());
  upsamples = register_module("upsamples", nn::ModuleList());
  for (int64_t level = levels - 1; level >= 0; --level) {
    const int64_t out = base * config.multipliers[level];
    nn::ModuleList blocks, transformers;
    for (int64_t r = 0; r < config.res_blocks; ++r) {
      blocks->push_back(ResBlock(r == 0 ? channels + skip_channels[level] : channels, out, e));
      if (has_attention(level)) transformers->push_back(MultiViewTransformer(out, config.text_width, config.heads));
      channels = out;
    }
    up_blocks->push_back(blocks);
    up_transformers->push_back(transformers);
    if (level > 0) {
      // The upsampling conv already narrows to the next level's width (cheaper at full size).
      const int64_t next = base * config.multipliers[level - 1];
      upsamples->push_back(conv3x3(channels, next));
      channels = next;
    }
  }
  norm_out = register_module("norm_out", nn::GroupNorm(8, channels));
  conv_out = register_module("conv_out", conv3x3(channels, 3));
  // A zero output layer starts training from "predict no noise", a stable start.
  at::NoGradGuard no_grad;
  conv_out->weight.zero_();
  conv_out->bias.zero_();
}

TextEncoding MvUnetImpl::encode_text(const at::Tensor& ids) { return text_encoder->forward(ids); }

at::Tensor timestep_features(const at::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  const auto options = at::TensorOptions().dtype(at::kFloat).device(t.device());
  const auto frequencies = at::exp(at::arange(half, options) * (-std::log(10000.0) / static_cast<double>(half)));
  const auto angles = t.to(at::kFloat).unsqueeze(1) * frequencies.unsqueeze(0);
  return at::cat({at::sin(angles), at::cos(angles)}, 1);
}

at::Tensor MvUnetImpl::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& c2w,
                               const TextEncoding& text, bool views_attend_jointly) {
  const int64_t n = x.size(0);
  check(x.dim() == 4 && x.size(1) == 3, "diffusion UNet: expected images [N,3,H,W], got ", x.sizes());
  check(n % config.n_view == 0, "diffusion UNet: batch ", n, " is not a multiple of ", config.n_view, " views");
  check(x.size(2) % (int64_t{1} << (config.multipliers.size() - 1)) == 0 && x.size(3) == x.size(2),
        "diffusion UNet: image size ", x.size(2), "x", x.size(3), " unsupported");
  check(t.numel() == n && c2w.size(0) == n && text.tokens.size(0) == n && text.mask.size(0) == n,
        "diffusion UNet: timesteps, cameras and text need one row per image (", n, ")");

  const auto embedding =
      time_fc2->forward(at::silu(time_fc1->forward(timestep_features(t.reshape({n}), config.base_channels)))) +
      camera_fc2->forward(at::silu(camera_fc1->forward(c2w.reshape({n, 16}).to(x.dtype()))));
  const auto act = at::silu(embedding);  // blocks read the embedding through their own linear

  const int64_t levels = static_cast<int64_t>(config.multipliers.size());
  auto h = conv_in->forward(x);
  std::vector<at::Tensor> skips;
  for (int64_t level = 0; level < levels; ++level) {
    auto& blocks = *down_blocks[level]->as<nn::ModuleList>();
    auto& transformers = *down_transformers[level]->as<nn::ModuleList>();
    for (int64_t r = 0; r < config.res_blocks; ++r) {
      h = blocks[r]->as<ResBlock>()->forward(h, act);
      if (has_attention(level)) {
        h = transformers[r]->as<MultiViewTransformer>()->forward(h, config.n_view, text, views_attend_jointly);
      }
    }
    skips.push_back(h);
    if (level + 1 < levels) h = downsamples[level]->as<nn::Conv2d>()->forward(h);
  }
  h = mid_block->forward(h, act);
  h = mid_transformer->forward(h, config.n_view, text, views_attend_jointly);
  for (int64_t i = 0; i < levels; ++i) {
    const int64_t level = levels - 1 - i;
    auto& blocks = *up_blocks[i]->as<nn::ModuleList>();
    auto& transformers = *up_transformers[i]->as<nn::ModuleList>();
    for (int64_t r = 0; r < config.res_blocks; ++r) {
      if (r == 0) h = at::cat({h, skips[level]}, 1);
      h = blocks[r]->as<ResBlock>()->forward(h, act);
      if (has_attention(level)) {
        h = transformers[r]->as<MultiViewTransformer>()->forward(h, config.n_view, text, views_attend_jointly);
      }
    }
    if (level > 0) h = upsamples[i]->as<nn::Conv2d>()->forward(upsample2x(h));
  }
  return conv_out->forward(at::silu(norm_out->forward(h)));
}

int64_t MvUnetImpl::parameter_count() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

void save_mv_diffusion(const MvUnetImpl& unet, const WordTokenizer& tokenizer, const std::string& schedule,
                       const std::filesystem::path& path, std::map<std::string, std::string> extra) {
  auto metadata = unet.config.to_metadata();
  metadata["model"] = "dreamdpo builtin multi-view diffusion";
  metadata["vocabulary"] = tokenizer.serialise();
  metadata["schedule"] = schedule;
  metadata["prediction"] = "epsilon";
  for (auto& [key, value] : extra) metadata[key] = value;
  save_module(unet, path, metadata);
}

MvDiffusionModel load_mv_diffusion(const std::filesystem::path& path, at::Device device) {
  check(std::filesystem::exists(path), "diffusion model file ", path.string(), " does not exist");
  const auto metadata = read_module_metadata(path);
  const auto schedule = metadata.find("schedule");
  const auto vocabulary = metadata.find("vocabulary");
  check(schedule != metadata.end() && vocabulary != metadata.end(), path.string(),
        " is not a built-in diffusion model file (no schedule or vocabulary in its metadata)");
  MvDiffusionModel model;
  const auto config = MvUnetConfig::from_metadata(metadata);
  model.tokenizer = WordTokenizer::deserialise(vocabulary->second, config.max_length);
  check(model.tokenizer.vocabulary_size() == config.vocabulary_size, path.string(),
        ": vocabulary size does not match the network");
  model.schedule = schedule->second;
  model.unet = MvUnet(config);
  load_module(*model.unet, path);
  model.unet->to(device);
  model.unet->eval();
  model.metadata = metadata;
  return model;
}

}  // namespace dreamdpo::models
