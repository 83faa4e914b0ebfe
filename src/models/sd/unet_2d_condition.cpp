#include "models/sd/unet_2d_condition.h"

#include <torch/nn/modules/container/modulelist.h>

#include <cmath>

#include "core/error.h"

namespace dreamdpo::models::sd {

UNetConfig UNetConfig::sd21_base() { return UNetConfig{}; }

UNetConfig UNetConfig::mvdream_sd21() {
  UNetConfig config;
  config.camera_dim = 16;
  return config;
}

std::vector<int64_t> UNetConfig::heads_for_head_channels(const std::vector<int64_t>& block_out_channels,
                                                         int64_t head_channels) {
  std::vector<int64_t> heads;
  for (int64_t channels : block_out_channels) {
    check(head_channels > 0 && channels % head_channels == 0, "UNet: ", channels,
          " channels cannot be split into heads of ", head_channels);
    heads.push_back(channels / head_channels);
  }
  return heads;
}

void UNetConfig::validate() const {
  check(in_channels > 0 && out_channels > 0, "UNet config: in_channels and out_channels must be positive");
  check(!block_out_channels.empty(), "UNet config: block_out_channels is empty");
  check(cross_attention.size() == levels(), "UNet config: cross_attention has ", cross_attention.size(),
        " entries for ", levels(), " levels (block_out_channels)");
  check(attention_heads.size() == levels(), "UNet config: attention_heads has ", attention_heads.size(),
        " entries for ", levels(), " levels (block_out_channels)");
  check(layers_per_block > 0 && transformer_depth > 0, "UNet config: layers_per_block and transformer_depth must "
        "be positive");
  check(cross_attention_dim > 0 && norm_num_groups > 0 && camera_dim >= 0,
        "UNet config: cross_attention_dim and norm_num_groups must be positive, camera_dim not negative");
  for (size_t i = 0; i < levels(); ++i) {
    const int64_t channels = block_out_channels[i];
    check(channels > 0 && channels % norm_num_groups == 0, "UNet config: block_out_channels[", i, "] = ", channels,
          " is not a multiple of norm_num_groups ", norm_num_groups);
    check(attention_heads[i] > 0 && channels % attention_heads[i] == 0, "UNet config: block_out_channels[", i,
          "] = ", channels, " cannot be split into ", attention_heads[i], " heads");
  }
}

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift) {
  check(timesteps.dim() == 1, "timestep_embedding takes a 1-D tensor of timesteps, got ", timesteps.sizes());
  const int64_t half = dim / 2;
  // Same operation order as the references (float32 throughout) so the sines agree to the ulp.
  auto exponent = at::arange(half, timesteps.options().dtype(at::kFloat)) * (-std::log(10000.0));
  exponent = exponent / (static_cast<double>(half) - freq_shift);
  auto args = timesteps.to(at::kFloat).unsqueeze(1) * at::exp(exponent).unsqueeze(0);
  auto emb = flip_sin_to_cos ? at::cat({at::cos(args), at::sin(args)}, -1) : at::cat({at::sin(args), at::cos(args)}, -1);
  if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1});
  return emb;
}

TimestepEmbedding::TimestepEmbedding(int64_t in_dim, int64_t dim) {
  linear_1_ = register_module("linear_1", torch::nn::Linear(in_dim, dim));
  linear_2_ = register_module("linear_2", torch::nn::Linear(dim, dim));
}

at::Tensor TimestepEmbedding::forward(const at::Tensor& x) { return linear_2_->forward(at::silu(linear_1_->forward(x))); }

namespace {

LevelOptions level_options(const UNetConfig& c, size_t level) {
  LevelOptions o;
  o.temb_channels = c.time_embed_dim();
  o.groups = c.norm_num_groups;
  o.eps = c.norm_eps;
  o.cross_attention = c.cross_attention[level];
  o.heads = c.attention_heads[level];
  o.context_dim = c.cross_attention_dim;
  o.transformer_depth = c.transformer_depth;
  o.use_linear_projection = c.use_linear_projection;
  return o;
}

template <class M>
void register_list(torch::nn::Module& owner, const std::string& name, const std::vector<std::shared_ptr<M>>& modules) {
  torch::nn::ModuleList list;
  for (const auto& m : modules) list->push_back(m);
  owner.register_module(name, list);
}

}  // namespace

UNet2DCondition::UNet2DCondition(const UNetConfig& config) : config_(config) {
  config_.validate();
  const auto& channels = config_.block_out_channels;
  const size_t levels = config_.levels();
  conv_in_ = register_module(
      "conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(config_.in_channels, channels[0], 3).padding(1)));
  time_embedding_ =
      register_module("time_embedding", std::make_shared<TimestepEmbedding>(channels[0], config_.time_embed_dim()));
  if (config_.camera_dim > 0) {
    camera_embedding_ = register_module(
        "camera_embedding", std::make_shared<TimestepEmbedding>(config_.camera_dim, config_.time_embed_dim()));
  }
  for (size_t i = 0; i < levels; ++i) {
    down_blocks_.push_back(std::make_shared<DownBlock2D>(channels[i == 0 ? 0 : i - 1], channels[i],
                                                         config_.layers_per_block, i + 1 < levels,
                                                         level_options(config_, i)));
  }
  register_list(*this, "down_blocks", down_blocks_);
  auto mid = level_options(config_, levels - 1);
  mid.cross_attention = true;
  mid_block_ = register_module("mid_block", std::make_shared<MidBlock2DCrossAttn>(channels.back(), mid));
  for (size_t i = 0; i < levels; ++i) {
    const size_t level = levels - 1 - i;  // the down level this up block mirrors
    const int64_t prev_output = channels[std::min(level + 1, levels - 1)];
    const int64_t skip_in = channels[level == 0 ? 0 : level - 1];
    up_blocks_.push_back(std::make_shared<UpBlock2D>(skip_in, channels[level], prev_output,
                                                     config_.layers_per_block + 1, i + 1 < levels,
                                                     level_options(config_, level)));
  }
  register_list(*this, "up_blocks", up_blocks_);
  conv_norm_out_ = register_module(
      "conv_norm_out",
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(config_.norm_num_groups, channels[0]).eps(config_.norm_eps)));
  conv_out_ = register_module(
      "conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels[0], config_.out_channels, 3).padding(1)));
}

at::Tensor UNet2DCondition::embedding(const at::Tensor& t, const at::Tensor& camera, int64_t batch,
                                      at::ScalarType dtype) {
  check(t.defined() && (t.numel() == 1 || (t.dim() == 1 && t.size(0) == batch)), "UNet: timesteps must be one value "
        "or one per sample (", batch, "), got shape ", t.defined() ? t.sizes() : at::IntArrayRef{});
  auto emb = time_embedding_->forward(
      timestep_embedding(t.reshape({-1}).expand({batch}), config_.block_out_channels[0], config_.flip_sin_to_cos,
                         config_.freq_shift)
          .to(dtype));
  if (camera.defined()) {
    check(camera_embedding_ != nullptr, "UNet: a camera was given but this model has no camera embedding "
          "(camera_dim 0; only MVDream's UNet takes cameras)");
    check(camera.dim() == 2 && camera.size(0) == batch && camera.size(1) == config_.camera_dim, "UNet: cameras must "
          "be [", batch, ", ", config_.camera_dim, "], got ", camera.sizes());
    emb = emb + camera_embedding_->forward(camera.to(dtype));
  }
  return emb;
}

at::Tensor UNet2DCondition::forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& context,
                                    const at::Tensor& camera, int64_t num_frames) {
  check(x.dim() == 4 && x.size(1) == config_.in_channels, "UNet: input must be [N, ", config_.in_channels,
        ", h, w], got ", x.sizes());
  const int64_t n = x.size(0);
  check(num_frames >= 1 && n % num_frames == 0, "UNet: a batch of ", n, " is not a whole number of objects of ",
        num_frames, " frames");
  check(context.defined() && context.dim() == 3 && context.size(0) == n &&
            context.size(2) == config_.cross_attention_dim,
        "UNet: text context must be [", n, ", tokens, ", config_.cross_attention_dim, "], got ",
        context.defined() ? context.sizes() : at::IntArrayRef{});
  const auto dtype = x.scalar_type();
  const auto ctx = context.to(dtype);
  const auto emb = embedding(t, camera, n, dtype);

  auto h = conv_in_->forward(x);
  std::vector<at::Tensor> skips{h};
  for (auto& block : down_blocks_) {
    auto [out, states] = block->forward(h, emb, ctx, num_frames);
    h = out;
    skips.insert(skips.end(), states.begin(), states.end());
  }
  h = mid_block_->forward(h, emb, ctx, num_frames);
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    const size_t count = up_blocks_[i]->num_resnets();
    std::vector<at::Tensor> taken(skips.end() - static_cast<std::ptrdiff_t>(count), skips.end());
    skips.resize(skips.size() - count);
    // Upsample to the next skip's size: twice the size, or one less where a size was odd.
    std::vector<int64_t> upsample_size;
    if (i + 1 < up_blocks_.size()) upsample_size = {skips.back().size(2), skips.back().size(3)};
    h = up_blocks_[i]->forward(h, std::move(taken), emb, ctx, num_frames, upsample_size);
  }
  return conv_out_->forward(at::silu(group_norm_float32(conv_norm_out_, h)));
}

namespace {

using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

void add_linear(Shapes& s, const std::string& p, int64_t in, int64_t out, bool bias = true) {
  s.push_back({p + ".weight", {out, in}});
  if (bias) s.push_back({p + ".bias", {out}});
}
void add_conv(Shapes& s, const std::string& p, int64_t in, int64_t out, int64_t k) {
  s.push_back({p + ".weight", {out, in, k, k}});
  s.push_back({p + ".bias", {out}});
}
void add_norm(Shapes& s, const std::string& p, int64_t c) {
  s.push_back({p + ".weight", {c}});
  s.push_back({p + ".bias", {c}});
}
void add_resnet(Shapes& s, const std::string& p, int64_t in, int64_t out, int64_t temb) {
  add_norm(s, p + ".norm1", in);
  add_conv(s, p + ".conv1", in, out, 3);
  add_linear(s, p + ".time_emb_proj", temb, out);
  add_norm(s, p + ".norm2", out);
  add_conv(s, p + ".conv2", out, out, 3);
  if (in != out) add_conv(s, p + ".conv_shortcut", in, out, 1);
}
void add_transformer(Shapes& s, const std::string& p, int64_t c, const UNetConfig& config) {
  add_norm(s, p + ".norm", c);
  auto projection = [&](const std::string& name) {
    if (config.use_linear_projection) {
      add_linear(s, p + name, c, c);
    } else {
      add_conv(s, p + name, c, c, 1);
    }
  };
  projection(".proj_in");
  for (int64_t d = 0; d < config.transformer_depth; ++d) {
    const std::string b = p + ".transformer_blocks." + std::to_string(d);
    for (const char* attn : {".attn1", ".attn2"}) {
      const int64_t kv = std::string(attn) == ".attn1" ? c : config.cross_attention_dim;
      add_linear(s, b + attn + ".to_q", c, c, false);
      add_linear(s, b + attn + ".to_k", kv, c, false);
      add_linear(s, b + attn + ".to_v", kv, c, false);
      add_linear(s, b + attn + ".to_out.0", c, c);
    }
    for (const char* norm : {".norm1", ".norm2", ".norm3"}) add_norm(s, b + norm, c);
    add_linear(s, b + ".ff.net.0.proj", c, 8 * c);
    add_linear(s, b + ".ff.net.2", 4 * c, c);
  }
  projection(".proj_out");
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> unet_parameter_shapes(const UNetConfig& config) {
  config.validate();
  Shapes s;
  const auto& ch = config.block_out_channels;
  const size_t levels = config.levels();
  const int64_t temb = config.time_embed_dim(), layers = config.layers_per_block;
  add_conv(s, "conv_in", config.in_channels, ch[0], 3);
  add_linear(s, "time_embedding.linear_1", ch[0], temb);
  add_linear(s, "time_embedding.linear_2", temb, temb);
  if (config.camera_dim > 0) {
    add_linear(s, "camera_embedding.linear_1", config.camera_dim, temb);
    add_linear(s, "camera_embedding.linear_2", temb, temb);
  }
  for (size_t i = 0; i < levels; ++i) {
    const std::string p = "down_blocks." + std::to_string(i);
    for (int64_t j = 0; j < layers; ++j) {
      add_resnet(s, p + ".resnets." + std::to_string(j), j == 0 ? ch[i == 0 ? 0 : i - 1] : ch[i], ch[i], temb);
      if (config.cross_attention[i]) add_transformer(s, p + ".attentions." + std::to_string(j), ch[i], config);
    }
    if (i + 1 < levels) add_conv(s, p + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }
  add_resnet(s, "mid_block.resnets.0", ch.back(), ch.back(), temb);
  add_transformer(s, "mid_block.attentions.0", ch.back(), config);
  add_resnet(s, "mid_block.resnets.1", ch.back(), ch.back(), temb);
  for (size_t i = 0; i < levels; ++i) {
    const size_t level = levels - 1 - i;
    const std::string p = "up_blocks." + std::to_string(i);
    const int64_t prev_output = ch[std::min(level + 1, levels - 1)], skip_in = ch[level == 0 ? 0 : level - 1];
    for (int64_t j = 0; j <= layers; ++j) {
      const int64_t in = (j == 0 ? prev_output : ch[level]) + (j == layers ? skip_in : ch[level]);
      add_resnet(s, p + ".resnets." + std::to_string(j), in, ch[level], temb);
      if (config.cross_attention[level]) add_transformer(s, p + ".attentions." + std::to_string(j), ch[level], config);
    }
    if (i + 1 < levels) add_conv(s, p + ".upsamplers.0.conv", ch[level], ch[level], 3);
  }
  add_norm(s, "conv_norm_out", ch[0]);
  add_conv(s, "conv_out", ch[0], config.out_channels, 3);
  return s;
}

}  // namespace dreamdpo::models::sd
