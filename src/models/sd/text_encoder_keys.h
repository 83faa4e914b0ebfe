// The text encoder of Stable Diffusion 2 / MVDream (OpenCLIP ViT-H/14's text tower, SD2 reads
// its penultimate layer) in its two stored layouts, mapped onto our ClipTextTransformer
// (open_clip names at the module root, models/clip/clip_text_transformer.h). The one table per
// layout; the network knows only our names.
//
// Our SD text tower holds only the blocks SD2 runs: `used_layers` = 23 of open_clip's 24
// (layer="penultimate", then ln_final), built with embed_dim 0 (no text_projection), and run
// with ClipTextLayer::kLast. That is exactly a diffusers SD2 `text_encoder/` (transformers
// CLIPTextModel, num_hidden_layers 23, final_layer_norm = ln_final), which diffusers' own
// single-file conversion makes from the ldm file by dropping resblocks.23 and text_projection
// (loaders/single_file_utils.py, SD_2_TEXT_ENCODER_KEYS_TO_IGNORE).
//
//   ldm (cond_stage_model.model.)            transformers CLIPTextModel ([text_model.])       ours
//   token_embedding.weight                   embeddings.token_embedding.weight                 token_embedding.weight
//   positional_embedding                     embeddings.position_embedding.weight              positional_embedding
//   transformer.resblocks.N.ln_1 / ln_2      encoder.layers.N.layer_norm1 / layer_norm2        transformer.resblocks.N.ln_1 / ln_2
//   transformer.resblocks.N.attn.in_proj_*   encoder.layers.N.self_attn.{q,k,v}_proj.* (concat) transformer.resblocks.N.attn.in_proj_*
//   transformer.resblocks.N.attn.out_proj    encoder.layers.N.self_attn.out_proj               transformer.resblocks.N.attn.out_proj
//   transformer.resblocks.N.mlp.c_fc/c_proj  encoder.layers.N.mlp.fc1 / fc2                    transformer.resblocks.N.mlp.c_fc / c_proj
//   ln_final                                 final_layer_norm                                  ln_final
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/clip/open_clip_config.h"

namespace dreamdpo::models::sd {

using TensorMap = std::map<std::string, at::Tensor>;

inline const std::string kLdmTextPrefix = "cond_stage_model.model.";

// The text config of SD2 / MVDream as stored (ViT-H-14 text: width 1024, 16 heads, 24 layers)
// and the number of its blocks SD2 runs (23).
clip::ClipTextConfig sd2_text_config();
inline constexpr int64_t kSd2TextUsedLayers = 23;

// Every parameter name and shape of ClipTextTransformer(config with `used_layers` layers,
// embed_dim 0), computed without building it (the full tower is 1.4 GB in float32).
std::vector<std::pair<std::string, std::vector<int64_t>>> sd_text_parameter_shapes(const clip::ClipTextConfig& config,
                                                                                 int64_t used_layers);

// open_clip names under `prefix` (an ldm single file) -> ours. Dropped, as SD2 never uses them:
// transformer.resblocks.N for N >= used_layers, text_projection, logit_scale, and attn_mask
// (the causal mask, which older open_clip saved as a buffer; we rebuild it). Every other name
// under the prefix is kept unchanged, so that a strict load names it as unexpected; names
// outside the prefix are ignored. Throws dreamdpo::Error when nothing lies under the prefix.
TensorMap open_clip_text_to_ours(const TensorMap& tensors, int64_t used_layers, const std::string& origin,
                                 const std::string& prefix = kLdmTextPrefix);

// transformers CLIPTextModel names under `prefix` ("" for a text_encoder/ folder,
// "text_encoder." for a whole pipeline as read_state_dict gives it) -> ours; the names may
// start with "text_model." (every released SD2 file) or not (transformers >= 5.6 flattened
// CLIPTextModel). q/k/v projections are concatenated into in_proj_{weight,bias} (a layer with
// only some of them, or with mismatched shapes, is an error naming them). Dropped:
// embeddings.position_ids (a buffer older transformers saved). Unknown names are kept unchanged
// for the strict load to report.
TensorMap hf_clip_text_to_ours(const TensorMap& tensors, const std::string& origin, const std::string& prefix = "");

// The reverse maps, to write files in either layout (tests, conversion). ours_to_open_clip_text
// writes exactly the given blocks (no text_projection); ours_to_hf_clip_text uses "text_model.".
TensorMap ours_to_open_clip_text(const TensorMap& ours, const std::string& prefix = kLdmTextPrefix);
TensorMap ours_to_hf_clip_text(const TensorMap& ours, const std::string& prefix = "");

}  // namespace dreamdpo::models::sd
