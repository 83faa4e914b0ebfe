#include "models/sd/unet_blocks.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/container/modulelist.h>

#include "core/error.h"

namespace dreamdpo::models::sd {

at::Tensor group_norm_float32(torch::nn::GroupNorm norm, const at::Tensor& x) {
  const auto type = x.scalar_type();
  if (type != at::kHalf && type != at::kBFloat16) return norm->forward(x);
  return at::group_norm(x.to(at::kFloat), norm->options.num_groups(), norm->weight.to(at::kFloat),
                        norm->bias.to(at::kFloat), norm->options.eps())
      .to(type);
}

namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

// Registers `modules` as a ModuleList called `name` (nothing when empty, like the references'
// None) and returns them.
template <class M>
void register_list(torch::nn::Module& owner, const std::string& name, const std::vector<std::shared_ptr<M>>& modules) {
  if (modules.empty()) return;
  torch::nn::ModuleList list;
  for (const auto& m : modules) list->push_back(m);
  owner.register_module(name, list);
}

void register_single(torch::nn::Module& owner, const std::string& name, const torch::nn::Conv2d& conv) {
  torch::nn::ModuleList list;  // {down,up}samplers.0.conv
  auto sampler = std::make_shared<torch::nn::Module>();
  sampler->register_module("conv", conv);
  list->push_back(sampler);
  owner.register_module(name, list);
}

std::shared_ptr<Transformer2D> make_transformer(int64_t channels, const LevelOptions& o) {
  return std::make_shared<Transformer2D>(channels, o.heads, o.context_dim, o.transformer_depth,
                                         o.use_linear_projection, o.groups);
}

}  // namespace

ResnetBlock2D::ResnetBlock2D(int64_t in_channels, int64_t out_channels, int64_t temb_channels, int64_t groups,
                             double eps) {
  norm1_ = register_module("norm1", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, in_channels).eps(eps)));
  conv1_ = register_module("conv1", conv3x3(in_channels, out_channels));
  time_emb_proj_ = register_module("time_emb_proj", torch::nn::Linear(temb_channels, out_channels));
  norm2_ = register_module("norm2", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, out_channels).eps(eps)));
  conv2_ = register_module("conv2", conv3x3(out_channels, out_channels));
  if (in_channels != out_channels) {
    conv_shortcut_ = register_module("conv_shortcut",
                                     torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 1)));
  }
}

at::Tensor ResnetBlock2D::forward(const at::Tensor& x, const at::Tensor& temb) {
  auto h = conv1_->forward(at::silu(group_norm_float32(norm1_, x)));
  h = h + time_emb_proj_->forward(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  h = conv2_->forward(at::silu(group_norm_float32(norm2_, h)));
  return (conv_shortcut_ ? conv_shortcut_->forward(x) : x) + h;
}

DownBlock2D::DownBlock2D(int64_t in_channels, int64_t out_channels, int64_t layers, bool add_downsample,
                         const LevelOptions& o) {
  for (int64_t i = 0; i < layers; ++i) {
    resnets_.push_back(std::make_shared<ResnetBlock2D>(i == 0 ? in_channels : out_channels, out_channels,
                                                       o.temb_channels, o.groups, o.eps));
    if (o.cross_attention) attentions_.push_back(make_transformer(out_channels, o));
  }
  register_list(*this, "attentions", attentions_);
  register_list(*this, "resnets", resnets_);
  if (add_downsample) {
    downsample_ = conv3x3(out_channels, out_channels, 2);
    register_single(*this, "downsamplers", downsample_);
  }
}

std::pair<at::Tensor, std::vector<at::Tensor>> DownBlock2D::forward(const at::Tensor& x, const at::Tensor& temb,
                                                                    const at::Tensor& context, int64_t num_frames) {
  std::vector<at::Tensor> states;
  auto h = x;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = resnets_[i]->forward(h, temb);
    if (!attentions_.empty()) h = attentions_[i]->forward(h, context, num_frames);
    states.push_back(h);
  }
  if (downsample_) {
    h = downsample_->forward(h);
    states.push_back(h);
  }
  return {h, states};
}

MidBlock2DCrossAttn::MidBlock2DCrossAttn(int64_t channels, const LevelOptions& o) {
  for (int i = 0; i < 2; ++i) {
    resnets_.push_back(std::make_shared<ResnetBlock2D>(channels, channels, o.temb_channels, o.groups, o.eps));
  }
  attention_ = make_transformer(channels, o);
  register_list(*this, "attentions", std::vector<std::shared_ptr<Transformer2D>>{attention_});
  register_list(*this, "resnets", resnets_);
}

at::Tensor MidBlock2DCrossAttn::forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                                        int64_t num_frames) {
  auto h = resnets_[0]->forward(x, temb);
  h = attention_->forward(h, context, num_frames);
  return resnets_[1]->forward(h, temb);
}

UpBlock2D::UpBlock2D(int64_t in_channels, int64_t out_channels, int64_t prev_output_channels, int64_t layers,
                     bool add_upsample, const LevelOptions& o) {
  for (int64_t i = 0; i < layers; ++i) {
    const int64_t skip_channels = i == layers - 1 ? in_channels : out_channels;
    const int64_t resnet_in = i == 0 ? prev_output_channels : out_channels;
    resnets_.push_back(std::make_shared<ResnetBlock2D>(resnet_in + skip_channels, out_channels, o.temb_channels,
                                                       o.groups, o.eps));
    if (o.cross_attention) attentions_.push_back(make_transformer(out_channels, o));
  }
  register_list(*this, "attentions", attentions_);
  register_list(*this, "resnets", resnets_);
  if (add_upsample) {
    upsample_ = conv3x3(out_channels, out_channels);
    register_single(*this, "upsamplers", upsample_);
  }
}

at::Tensor UpBlock2D::forward(const at::Tensor& x, std::vector<at::Tensor> skips, const at::Tensor& temb,
                              const at::Tensor& context, int64_t num_frames, std::vector<int64_t> upsample_size) {
  check(skips.size() == resnets_.size(), "an up block with ", resnets_.size(), " resnets got ", skips.size(),
        " skip states");
  auto h = x;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = at::cat({h, skips.back()}, 1);
    skips.pop_back();
    h = resnets_[i]->forward(h, temb);
    if (!attentions_.empty()) h = attentions_[i]->forward(h, context, num_frames);
  }
  if (upsample_) {
    if (upsample_size.empty()) upsample_size = {2 * h.size(2), 2 * h.size(3)};
    namespace F = torch::nn::functional;
    h = F::interpolate(h, F::InterpolateFuncOptions().size(upsample_size).mode(torch::kNearest));
    h = upsample_->forward(h);
  }
  return h;
}

}  // namespace dreamdpo::models::sd
