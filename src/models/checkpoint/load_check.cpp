#include "models/checkpoint/load_check.h"

#include <functional>

#include "core/error.h"
#include "core/strings.h"
#include "models/builtin/clip_reward.h"
#include "models/builtin/judge.h"
#include "models/builtin/mv_unet.h"
#include "models/module_io.h"
#include "models/sd/autoencoder_kl.h"
#include "models/sd/ldm_vae_keys.h"

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
      checks.push_back(not_checked("UNet (model.diffusion_model)"));
      if (!under(tensors, sd::kLdmVaePrefix).empty()) {
        checks.push_back(attempt("VAE (first_stage_model)", [&] {
          const auto renamed = sd::ldm_vae_to_diffusers(tensors);
          sd::AutoencoderKL vae(sd::infer_autoencoder_kl_config(renamed));  // SD 1.x/2.x: 128,256,512,512
          load_state(*vae, renamed, origin + " (first_stage_model)");
          return describe(vae->config());
        }));
      }
      checks.push_back(not_checked("text encoder (cond_stage_model)"));
      break;
    case CheckpointKind::kDiffusersPipeline:
      for (const auto& item : description.groups) {
        if (item.first == "vae") {
          checks.push_back(check_vae("VAE (vae/)", under(tensors, "vae."), path / "vae" / "config.json", origin + "/vae"));
        } else {
          checks.push_back(not_checked(item.first + "/"));
        }
      }
      break;
    case CheckpointKind::kDiffusersVae:
      checks.push_back(check_vae("VAE", tensors, folder / "config.json", origin));
      break;
    case CheckpointKind::kDiffusersUnet: checks.push_back(not_checked("UNet")); break;
    case CheckpointKind::kDiffusersTextEncoder: checks.push_back(not_checked("text encoder")); break;
    case CheckpointKind::kOpenClip: checks.push_back(not_checked("open_clip CLIP")); break;
    case CheckpointKind::kImageReward: checks.push_back(not_checked("ImageReward")); break;
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
