// The original (CompVis ldm / Stability / MVDream) single-file layout of the UNet, mapped onto
// our diffusers-named modules: model.diffusion_model.{input_blocks.N.M, middle_block.N,
// output_blocks.N.M, time_embed.{0,2}, camera_embed.{0,2}, out.{0,2}}. The one table for this
// layout; the networks know only our names.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/sd/unet_2d_condition.h"

namespace dreamdpo::models::sd {

inline const std::string kLdmUnetPrefix = "model.diffusion_model.";

// For every parameter of UNet2DCondition(config): {our name, ldm name without the prefix}.
std::vector<std::pair<std::string, std::string>> ldm_unet_name_map(const UNetConfig& config);

// Takes the tensors under `prefix` of an ldm-layout state (other entries, e.g. the VAE's
// first_stage_model.* or the text encoder's cond_stage_model.*, are ignored) and returns them
// under our names, ready for load_state. proj_in/proj_out are reshaped between Linear [o, i]
// and 1x1 Conv2d [o, i, 1, 1] when the file and the config differ. Throws dreamdpo::Error
// naming every missing, unmapped (left over) or mis-shaped tensor; `origin` starts the message.
std::map<std::string, at::Tensor> ldm_unet_to_ours(const std::map<std::string, at::Tensor>& ldm,
                                                   const UNetConfig& config, const std::string& origin,
                                                   const std::string& prefix = kLdmUnetPrefix);

// The reverse (our names -> prefixed ldm names), e.g. to write an ldm-layout file.
std::map<std::string, at::Tensor> ours_to_ldm_unet(const std::map<std::string, at::Tensor>& ours,
                                                   const UNetConfig& config, const std::string& prefix = kLdmUnetPrefix);

}  // namespace dreamdpo::models::sd
