#include "guidance/priors/stable_diffusion_prior.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen/ATen.h on LibTorch 2.x)
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "camera/mvdream_camera.h"
#include "core/error.h"
#include "core/network_dtype.h"
#include "core/log.h"
#include "core/resize.h"
#include "models/checkpoint/state_dict_file.h"
#include "models/module_io.h"
#include "models/sd/ldm_unet_keys.h"
#include "models/sd/ldm_vae_keys.h"
#include "models/sd/text_encoder_keys.h"

namespace dreamdpo::guidance {
namespace fs = std::filesystem;
namespace ckpt = models::checkpoint;

namespace {

// Reads the keys of one JSON object into fields; an unknown key is an error naming it.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string where) : object_(object), where_(std::move(where)) {
    check(object_.is_object(), where_, " must be a JSON object");
  }
  template <class T>
  JsonFields& field(const char* key, T& value) {
    known_.insert(key);
    if (!object_.contains(key)) return *this;
    try {
      value = object_.at(key).get<T>();
    } catch (const nlohmann::json::exception& e) {
      fail(where_, ".", key, ": wrong type (", e.what(), ")");
    }
    return *this;
  }
  void finish() const {
    for (const auto& item : object_.items()) {
      check(known_.count(item.key()) > 0, where_, ": unknown key '", item.key(), "'");
    }
  }

 private:
  const nlohmann::json& object_;
  std::string where_;
  std::set<std::string> known_;
};

ckpt::StateDict under(const ckpt::StateDict& tensors, const std::string& prefix) {
  ckpt::StateDict out;
  for (const auto& [name, tensor] : tensors) {
    if (name.rfind(prefix, 0) == 0) out.emplace(name.substr(prefix.size()), tensor);
  }
  return out;
}

bool any_under(const ckpt::StateDict& tensors, const std::string& prefix) {
  const auto it = tensors.lower_bound(prefix);
  return it != tensors.end() && it->first.rfind(prefix, 0) == 0;
}

}  // namespace

StableDiffusionArchitecture StableDiffusionArchitecture::preset(const std::string& name) {
  StableDiffusionArchitecture a;
  a.text = models::sd::sd2_text_config();
  if (name == "mvdream") {
    a.unet = models::sd::UNetConfig::mvdream_sd21();
    a.num_frames = 4;
  } else {
    check(name == "sd21", "unknown Stable Diffusion prior '", name, "' (known: mvdream, sd21)");
    a.unet = models::sd::UNetConfig::sd21_base();
    a.num_frames = 1;
  }
  return a;
}

void StableDiffusionArchitecture::override_from_json(const fs::path& file) {
  std::ifstream in(file);
  check(in.good(), "prior.architecture: cannot open ", file.string());
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("prior.architecture: ", file.string(), " is not valid JSON (", e.what(), ")");
  }
  const std::string where = file.string();
  JsonFields top(json, where);
  nlohmann::json unet_json = nlohmann::json::object(), vae_json = nlohmann::json::object(),
                 text_json = nlohmann::json::object();
  top.field("num_frames", num_frames).field("unet", unet_json).field("vae", vae_json).field("text", text_json).finish();
  JsonFields(unet_json, where + ": unet")
      .field("in_channels", unet.in_channels)
      .field("out_channels", unet.out_channels)
      .field("block_out_channels", unet.block_out_channels)
      .field("cross_attention", unet.cross_attention)
      .field("layers_per_block", unet.layers_per_block)
      .field("attention_heads", unet.attention_heads)
      .field("transformer_depth", unet.transformer_depth)
      .field("cross_attention_dim", unet.cross_attention_dim)
      .field("use_linear_projection", unet.use_linear_projection)
      .field("norm_num_groups", unet.norm_num_groups)
      .field("camera_dim", unet.camera_dim)
      .finish();
  JsonFields(vae_json, where + ": vae")
      .field("block_out_channels", vae.block_out_channels)
      .field("layers_per_block", vae.layers_per_block)
      .field("latent_channels", vae.latent_channels)
      .field("norm_num_groups", vae.norm_num_groups)
      .field("scaling_factor", vae.scaling_factor)
      .finish();
  JsonFields(text_json, where + ": text")
      .field("vocab_size", text.vocab_size)
      .field("context_length", text.context_length)
      .field("width", text.width)
      .field("heads", text.heads)
      .field("layers", text.layers)
      .finish();
  check(num_frames >= 1, where, ": num_frames must be >= 1");
  check(text.layers >= 2 && text.heads >= 1 && text.width % text.heads == 0, where,
        ": text needs layers >= 2 (SD2 reads the penultimate layer) and width divisible by heads");
  unet.validate();
}

StableDiffusionPrior::StableDiffusionPrior(const StableDiffusionPriorOptions& options, at::Device device)
    : options_(options),
      device_(device),
      dtype_(core::resolve_network_dtype(options.dtype, device, "prior.dtype")),
      schedule_(NoiseSchedule::make("scaled_linear", 1000, 0.00085, 0.012)) {
  const auto& arch = options_.architecture;
  const std::string what = options_.name == "mvdream" ? "MVDream's sd-v2.1-base-4view.pt" : "Stable Diffusion 2.1-base (v2-1_512-ema-pruned.ckpt/.safetensors or a diffusers folder)";
  // Every check that needs no weights comes first: a wrong path fails before gigabytes are read.
  check(!options_.checkpoint.empty(), "prior.checkpoint is not set: point it at ", what);
  check(fs::exists(options_.checkpoint), "prior.checkpoint ", options_.checkpoint.string(), " does not exist");
  const bool folder = fs::is_directory(options_.checkpoint);
  fs::path tokenizer_path = options_.tokenizer;
  if (tokenizer_path.empty() && folder && fs::is_directory(options_.checkpoint / "tokenizer")) {
    tokenizer_path = options_.checkpoint / "tokenizer";
  }
  check(!tokenizer_path.empty(), "prior.tokenizer is not set: the ", options_.name,
        " prior needs the CLIP BPE tokenizer: open_clip's bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + "
        "merges.txt (e.g. stable-diffusion-2-1-base/tokenizer)");
  check(fs::exists(tokenizer_path), "prior.tokenizer ", tokenizer_path.string(), " does not exist");
  tokenizer_ = models::clip::ClipBpeTokenizer::from_path(tokenizer_path);
  check(tokenizer_->vocab_size() <= arch.text.vocab_size, "the tokenizer ", tokenizer_path.string(), " has ",
        tokenizer_->vocab_size(), " tokens, more than the text encoder's ", arch.text.vocab_size);
  const int64_t vae_factor = int64_t{1} << (arch.vae.block_out_channels.size() - 1);
  const int64_t unet_factor = int64_t{1} << (arch.unet.levels() - 1);
  check(options_.image_size % (vae_factor * unet_factor) == 0, "prior.image_size=", options_.image_size,
        " must be a multiple of ", vae_factor * unet_factor, " for this VAE and UNet (",
        options_.name == "mvdream" ? "MVDream works at 256" : "SD 2.1-base works at 512", ")");

  const std::string origin = options_.checkpoint.string();
  auto tensors = ckpt::read_state_dict(options_.checkpoint);
  const auto description = ckpt::describe_checkpoint(tensors);
  using K = ckpt::CheckpointKind;
  const bool ldm = description.kind == K::kLdmMvdream || description.kind == K::kLdmStableDiffusion;
  check(ldm || description.kind == K::kDiffusersPipeline, origin, " is ",
        description.kind == K::kUnknown ? std::string("in no layout we know") : "a " + description.kind_name, ", not ",
        what, " (expected an ldm single file or a diffusers pipeline folder with unet/ vae/ text_encoder/)");
  layout_ = ldm ? "ldm single file" : "diffusers folder";
  const bool has_camera = ldm ? description.kind == K::kLdmMvdream : any_under(tensors, "unet.camera_embedding.");
  if (options_.name == "mvdream") {
    check(has_camera, origin, " has no camera embedding (model.diffusion_model.camera_embed): it is a ",
          description.kind_name, ", not MVDream's multi-view model; use --preset sd21 for it");
  } else {
    check(!has_camera, origin, " is an MVDream multi-view checkpoint (it has a camera embedding); use --preset mvdream");
  }
  for (const auto& [part, name] : ldm ? std::vector<std::pair<std::string, std::string>>{{"first_stage_model.", "VAE"},
                                                                                         {"cond_stage_model.model.", "text encoder"}}
                                      : std::vector<std::pair<std::string, std::string>>{{"unet.", "UNet"},
                                                                                         {"vae.", "VAE"},
                                                                                         {"text_encoder.", "text encoder"}}) {
    check(any_under(tensors, part), origin, " holds no ", name, " (", part, "*)",
          ldm ? "; this prior needs the full single file (UNet, VAE and text encoder)" : "");
  }

  // Strict loads in float32 (ours), then one cast to the run's device and dtype.
  unet_ = std::make_shared<models::sd::UNet2DCondition>(arch.unet);
  models::load_state(*unet_, ldm ? models::sd::ldm_unet_to_ours(tensors, arch.unet, origin) : under(tensors, "unet."),
                     origin + (ldm ? " (model.diffusion_model)" : "/unet"));
  vae_ = models::sd::AutoencoderKL(arch.vae);
  models::load_state(*vae_, ldm ? models::sd::ldm_vae_to_diffusers(tensors) : under(tensors, "vae."),
                     origin + (ldm ? " (first_stage_model)" : "/vae"));
  auto text_config = arch.text;
  text_config.layers = arch.text_used_layers();
  text_ = models::clip::ClipTextTransformer(text_config, 0);
  models::load_state(*text_,
                     ldm ? models::sd::open_clip_text_to_ours(tensors, text_config.layers, origin)
                         : models::sd::hf_clip_text_to_ours(tensors, origin + "/text_encoder", "text_encoder."),
                     origin + (ldm ? " (cond_stage_model.model)" : "/text_encoder"));
  tensors.clear();
  for (torch::nn::Module* module : std::initializer_list<torch::nn::Module*>{unet_.get(), vae_.get(), text_.get()}) {
    module->to(device_, dtype_);
    module->eval();
    for (auto& p : module->parameters()) p.set_requires_grad(false);
  }
  core::log_info("prior ", options_.name, ": loaded ", origin, " (", layout_, "), ", c10::toString(dtype_), " on ",
                 device_.str());
}

PromptConditioning StableDiffusionPrior::encode_prompt(const std::string& prompt) {
  at::NoGradGuard no_grad;
  const auto ids = tokenizer_->tokenize({prompt, options_.negative_prompt}, options_.architecture.text.context_length);
  const auto hidden = text_->hidden_states(ids.to(device_), models::clip::ClipTextLayer::kLast);
  return {prompt, hidden.slice(0, 0, 1), hidden.slice(0, 1, 2)};
}

at::Tensor StableDiffusionPrior::encode(const at::Tensor& images) {
  check(images.dim() == 4 && images.size(1) == 3, options_.name, " prior: encode expects images [B,3,H,W], got ",
        images.sizes());
  const int64_t size = options_.image_size;
  auto x = images.size(2) == size && images.size(3) == size ? images : core::resize_bilinear(images, size, size);
  x = (x * 2 - 1).to(device_, dtype_);
  const auto posterior = vae_->encode(x);
  return (posterior.mean * options_.architecture.vae.scaling_factor).to(images.scalar_type());
}

at::Tensor StableDiffusionPrior::decode(const at::Tensor& z) {
  at::NoGradGuard no_grad;
  const auto latents = (z.detach() / options_.architecture.vae.scaling_factor).to(device_, dtype_);
  const auto x = vae_->decode(latents);
  return ((x.to(at::kFloat) + 1) / 2).clamp(0, 1).to(z.device(), z.scalar_type());
}

at::Tensor StableDiffusionPrior::predict_noise(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding,
                                               const std::optional<camera::CameraBatch>& cameras) {
  at::NoGradGuard no_grad;
  const auto& arch = options_.architecture;
  const int64_t n = z_t.size(0), frames = arch.num_frames;
  check(z_t.dim() == 4 && z_t.size(1) == arch.unet.in_channels, options_.name, " prior: expected latents [N,",
        arch.unet.in_channels, ",h,w], got ", z_t.sizes());
  check(n % frames == 0, "the ", options_.name, " prior denoises ", frames, " views of an object together; the batch of ",
        n, " is not a multiple of ", frames, " (set camera.n_view=", frames, ")");
  check(embedding.dim() == 3 && embedding.size(0) == n, options_.name, " prior: expected embedding [", n,
        ",77,width] from encode_prompt, got ", embedding.sizes());
  at::Tensor camera_input;
  if (arch.unet.camera_dim > 0) {
    check(cameras.has_value() && cameras->size() == n, "the ", options_.name, " prior needs one camera per view (", n,
          ")");
    camera_input = camera::mvdream_camera(cameras->c2w.to(device_, at::kFloat)).to(dtype_);
  }
  const auto eps = unet_->forward(z_t.detach().to(device_, dtype_), t.to(device_).reshape({n}),
                                  embedding.to(device_, dtype_), camera_input, frames);
  return eps.to(z_t.device(), z_t.scalar_type());
}

}  // namespace dreamdpo::guidance
