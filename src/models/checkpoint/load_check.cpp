#include "models/checkpoint/load_check.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "models/builtin/clip_reward.h"
#include "models/builtin/judge.h"
#include "models/builtin/mv_unet.h"
#include "models/blip/image_reward_model.h"
#include "models/clip/open_clip_model.h"
#include "models/module_io.h"
#include "models/sd/autoencoder_kl.h"
#include "models/sd/ldm_unet_keys.h"
#include "models/sd/ldm_vae_keys.h"
#include "models/sd/text_encoder_keys.h"
#include "models/sd/unet_2d_condition.h"

namespace dreamdpo::models::checkpoint {
namespace fs = std::filesystem;

namespace {

StateDict under(const StateDict& tensors, const std::string& prefix) {
  StateDict out;
  for (const auto& [name, tensor] : tensors) {
    if (name.rfind(prefix, 0) == 0) out.emplace(name.substr(prefix.size()), tensor);
  }
  return out;
}

// Runs `body`; a dreamdpo::Error becomes the failed verdict.
LoadCheck attempt(const std::string& component, const std::function<std::string()>& body) {
  LoadCheck check{component, true, false, ""};
  try {
    check.message = body();
    check.ok = true;
  } catch (const Error& e) {
    check.message = e.what();
  }
  return check;
}

std::string describe(const sd::AutoencoderKLConfig& config) {
  return "AutoencoderKL, block_out_channels " +
         core::join(config.block_out_channels, [](std::int64_t c) { return std::to_string(c); }, ",") +
         ", layers_per_block " + std::to_string(config.layers_per_block) + ", latent " +
         std::to_string(config.latent_channels) + ", norm groups " + std::to_string(config.norm_num_groups);
}

// A diffusers-named VAE state dict: config from config.json where there is one, else SD's
// defaults adjusted to the shapes.
LoadCheck check_vae(const std::string& component, const StateDict& tensors, const fs::path& config_json,
                    const std::string& origin) {
  return attempt(component, [&] {
    auto config = fs::is_regular_file(config_json) ? sd::read_autoencoder_kl_config(config_json)
                                                   : sd::infer_autoencoder_kl_config(tensors);
    sd::AutoencoderKL vae(config);
    load_state(*vae, tensors, origin);
    return describe(config) + (fs::is_regular_file(config_json) ? " (from " + config_json.string() + ")" : "");
  });
}

// Names and shapes against a network's full parameter list, as a strict load compares them, without
// building the network (a full-size SD UNet is 3.5 GB in float32).
void compare_shapes(const StateDict& tensors, const std::vector<std::pair<std::string, std::vector<int64_t>>>& expected,
                    const std::string& origin) {
  std::vector<std::string> problems;
  std::map<std::string, std::vector<int64_t>> wanted(expected.begin(), expected.end());
  for (const auto& [name, shape] : wanted) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      problems.push_back("missing " + name);
    } else if (it->second.sizes() != at::IntArrayRef(shape)) {
      std::ostringstream s;
      s << "mis-shaped " << name << " (file " << it->second.sizes() << ", network " << at::IntArrayRef(shape) << ")";
      problems.push_back(s.str());
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!wanted.count(name)) problems.push_back("unexpected " + name);
  }
  if (problems.empty()) return;
  const size_t shown = std::min<size_t>(problems.size(), 8);
  std::string message = core::join(std::vector<std::string>(problems.begin(), problems.begin() + shown), "; ");
  if (problems.size() > shown) message += "; ... (" + std::to_string(problems.size() - shown) + " more)";
  fail(origin, ": ", message);
}

// The UNet of the SD2.1-base / MVDream presets (the camera embedding decides which).
LoadCheck check_unet(const std::string& component, const StateDict& tensors, bool ldm, const std::string& origin) {
  return attempt(component, [&] {
    const bool mvdream = ldm ? tensors.count(sd::kLdmUnetPrefix + "camera_embed.0.weight") > 0
                             : tensors.count("camera_embedding.linear_1.weight") > 0;
    const auto config = mvdream ? sd::UNetConfig::mvdream_sd21() : sd::UNetConfig::sd21_base();
    const auto ours = ldm ? sd::ldm_unet_to_ours(tensors, config, origin) : tensors;
    compare_shapes(ours, sd::unet_parameter_shapes(config), origin);
    return std::string(mvdream ? "MVDream sd-v2.1-base-4view UNet" : "SD 2.1-base UNet") + " (names and shapes)";
  });
}

// SD2's text encoder: OpenCLIP ViT-H/14's text tower, the 23 blocks SD2 runs.
LoadCheck check_text_encoder(const std::string& component, const StateDict& tensors, bool ldm, const std::string& origin) {
  return attempt(component, [&] {
    const auto ours = ldm ? sd::open_clip_text_to_ours(tensors, sd::kSd2TextUsedLayers, origin)
                          : sd::hf_clip_text_to_ours(tensors, origin);
    compare_shapes(ours, sd::sd_text_parameter_shapes(sd::sd2_text_config(), sd::kSd2TextUsedLayers), origin);
    return std::string("SD2 text encoder (OpenCLIP ViT-H/14 text, ") + std::to_string(sd::kSd2TextUsedLayers) +
           " layers; names and shapes)";
  });
}

LoadCheck not_checked(const std::string& component) {
  return {component, false, false, "no network for it in this build yet"};
}

}  // namespace

std::vector<LoadCheck> check_strict_load(const fs::path& path, const CheckpointFile& file,
                                         const CheckpointDescription& description) {
  const auto& tensors = file.tensors;
  const std::string origin = path.string();
  const fs::path folder = fs::is_directory(path) ? path : path.parent_path();
  std::vector<LoadCheck> checks;
  switch (description.kind) {
    case CheckpointKind::kLdmStableDiffusion:
    case CheckpointKind::kLdmMvdream:
      checks.push_back(check_unet("UNet (model.diffusion_model)", tensors, true, origin));
      if (!under(tensors, sd::kLdmVaePrefix).empty()) {
        checks.push_back(attempt("VAE (first_stage_model)", [&] {
          const auto renamed = sd::ldm_vae_to_diffusers(tensors);
          sd::AutoencoderKL vae(sd::infer_autoencoder_kl_config(renamed));  // SD 1.x/2.x: 128,256,512,512
          load_state(*vae, renamed, origin + " (first_stage_model)");
          return describe(vae->config());
        }));
      }
      if (!under(tensors, sd::kLdmTextPrefix).empty()) {
        checks.push_back(check_text_encoder("text encoder (cond_stage_model)", tensors, true, origin));
      }
      break;
    case CheckpointKind::kDiffusersPipeline:
      for (const auto& item : description.groups) {
        if (item.first == "vae") {
          checks.push_back(check_vae("VAE (vae/)", under(tensors, "vae."), path / "vae" / "config.json", origin + "/vae"));
        } else if (item.first == "unet") {
          checks.push_back(check_unet("UNet (unet/)", under(tensors, "unet."), false, origin + "/unet"));
        } else if (item.first == "text_encoder") {
          checks.push_back(check_text_encoder("text encoder (text_encoder/)", under(tensors, "text_encoder."), false,
                                              origin + "/text_encoder"));
        } else {
          checks.push_back(not_checked(item.first + "/"));
        }
      }
      break;
    case CheckpointKind::kDiffusersVae:
      checks.push_back(check_vae("VAE", tensors, folder / "config.json", origin));
      break;
    case CheckpointKind::kDiffusersUnet: checks.push_back(check_unet("UNet", tensors, false, origin)); break;
    case CheckpointKind::kDiffusersTextEncoder:
      checks.push_back(check_text_encoder("text encoder", tensors, false, origin));
      break;
    case CheckpointKind::kOpenClip:
      // ViT-H-14 (HPSv2); a file holding only the text or the vision tower is reported as such.
      checks.push_back(attempt("open_clip CLIP (ViT-H-14)", [&] {
        clip::OpenClipModel model(clip::OpenClipConfig::vit_h_14());
        model->load_state(tensors, origin);
        return std::string("OpenClipModel ViT-H-14");
      }));
      break;
    case CheckpointKind::kImageReward:
      // BLIP ViT-L/16 + BERT-base; med_config.json beside the file when there is one.
      checks.push_back(attempt("ImageReward", [&] {
        blip::ImageRewardModelConfig config;
        const auto med = folder / "med_config.json";
        if (fs::is_regular_file(med)) config.text = blip::BertTextConfig::from_file(med);
        blip::ImageRewardModel model(config);
        blip::load_image_reward_state(model, tensors, origin);
        return std::string("ImageRewardModel (BLIP ViT-L/16 + BERT)") +
               (fs::is_regular_file(med) ? " with " + med.string() : "");
      }));
      break;
    case CheckpointKind::kBuiltinDiffusion:
      checks.push_back(attempt("built-in diffusion model", [&] {
        load_mv_diffusion(path, at::kCPU);
        return std::string("MvUnet");
      }));
      break;
    case CheckpointKind::kBuiltinReward:
      checks.push_back(attempt("built-in reward model", [&] {
        ClipReward::load(path);
        return std::string("ClipReward");
      }));
      break;
    case CheckpointKind::kBuiltinJudge:
      checks.push_back(attempt("built-in judge", [&] {
        Judge::load(path);
        return std::string("Judge");
      }));
      break;
    case CheckpointKind::kUnknown: break;
  }
  return checks;
}

}  // namespace dreamdpo::models::checkpoint
