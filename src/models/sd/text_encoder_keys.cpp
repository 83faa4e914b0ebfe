#include "models/sd/text_encoder_keys.h"

#include <array>

#include "core/error.h"

namespace dreamdpo::models::sd {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// "transformer.resblocks.N.rest" -> N (or -1 when `name` is not a block parameter).
int64_t block_index(const std::string& name, const std::string& head, std::string* rest) {
  if (!starts_with(name, head)) return -1;
  const auto dot = name.find('.', head.size());
  if (dot == std::string::npos) return -1;
  try {
    const int64_t index = std::stoll(name.substr(head.size(), dot - head.size()));
    if (rest) *rest = name.substr(dot + 1);
    return index;
  } catch (const std::exception&) {
    return -1;
  }
}

const std::string kOurBlocks = "transformer.resblocks.";
const std::string kHfBlocks = "encoder.layers.";

// Per-block names other than q/k/v: transformers -> ours.
const std::map<std::string, std::string>& hf_block_names() {
  static const std::map<std::string, std::string> names{
      {"layer_norm1.weight", "ln_1.weight"},
      {"layer_norm1.bias", "ln_1.bias"},
      {"layer_norm2.weight", "ln_2.weight"},
      {"layer_norm2.bias", "ln_2.bias"},
      {"self_attn.out_proj.weight", "attn.out_proj.weight"},
      {"self_attn.out_proj.bias", "attn.out_proj.bias"},
      {"mlp.fc1.weight", "mlp.c_fc.weight"},
      {"mlp.fc1.bias", "mlp.c_fc.bias"},
      {"mlp.fc2.weight", "mlp.c_proj.weight"},
      {"mlp.fc2.bias", "mlp.c_proj.bias"},
  };
  return names;
}

const std::map<std::string, std::string>& hf_top_names() {
  static const std::map<std::string, std::string> names{
      {"embeddings.token_embedding.weight", "token_embedding.weight"},
      {"embeddings.position_embedding.weight", "positional_embedding"},
      {"final_layer_norm.weight", "ln_final.weight"},
      {"final_layer_norm.bias", "ln_final.bias"},
  };
  return names;
}

}  // namespace

clip::ClipTextConfig sd2_text_config() { return clip::ClipTextConfig{}; }

std::vector<std::pair<std::string, std::vector<int64_t>>> sd_text_parameter_shapes(const clip::ClipTextConfig& config,
                                                                                 int64_t used_layers) {
  const int64_t w = config.width, hidden = static_cast<int64_t>(config.width * config.mlp_ratio);
  std::vector<std::pair<std::string, std::vector<int64_t>>> out{
      {"token_embedding.weight", {config.vocab_size, w}},
      {"positional_embedding", {config.context_length, w}},
  };
  for (int64_t i = 0; i < used_layers; ++i) {
    const std::string b = kOurBlocks + std::to_string(i) + ".";
    for (const auto& item : std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"ln_1.weight", {w}}, {"ln_1.bias", {w}}, {"attn.in_proj_weight", {3 * w, w}},
             {"attn.in_proj_bias", {3 * w}}, {"attn.out_proj.weight", {w, w}}, {"attn.out_proj.bias", {w}},
             {"ln_2.weight", {w}}, {"ln_2.bias", {w}}, {"mlp.c_fc.weight", {hidden, w}},
             {"mlp.c_fc.bias", {hidden}}, {"mlp.c_proj.weight", {w, hidden}}, {"mlp.c_proj.bias", {w}}}) {
      out.emplace_back(b + item.first, item.second);
    }
  }
  out.push_back({"ln_final.weight", {w}});
  out.push_back({"ln_final.bias", {w}});
  return out;
}

TensorMap open_clip_text_to_ours(const TensorMap& tensors, int64_t used_layers, const std::string& origin,
                                 const std::string& prefix) {
  TensorMap out;
  for (const auto& [full, tensor] : tensors) {
    if (!starts_with(full, prefix)) continue;
    const std::string name = full.substr(prefix.size());
    if (name == "text_projection" || name == "logit_scale" || name == "attn_mask") continue;
    if (block_index(name, kOurBlocks, nullptr) >= used_layers) continue;
    out.emplace(name, tensor);
  }
  check(!out.empty(), origin, ": no text encoder tensors under '", prefix,
        "' (an SD2 / MVDream single file holds them as cond_stage_model.model.*)");
  return out;
}

TensorMap hf_clip_text_to_ours(const TensorMap& tensors, const std::string& origin, const std::string& prefix) {
  TensorMap out;
  // (layer, "weight"/"bias") -> q, k, v
  std::map<std::pair<int64_t, std::string>, std::array<at::Tensor, 3>> qkv;
  bool any = false;
  for (const auto& [full, tensor] : tensors) {
    if (!starts_with(full, prefix)) continue;
    any = true;
    std::string name = full.substr(prefix.size());
    if (starts_with(name, "text_model.")) name = name.substr(std::string("text_model.").size());
    if (name == "embeddings.position_ids") continue;
    if (const auto top = hf_top_names().find(name); top != hf_top_names().end()) {
      out.emplace(top->second, tensor);
      continue;
    }
    std::string rest;
    const int64_t layer = block_index(name, kHfBlocks, &rest);
    if (layer >= 0) {
      if (const auto it = hf_block_names().find(rest); it != hf_block_names().end()) {
        out.emplace(kOurBlocks + std::to_string(layer) + "." + it->second, tensor);
        continue;
      }
      const std::string attn = "self_attn.";
      if (starts_with(rest, attn) && rest.size() > attn.size() + 1 && rest.substr(attn.size() + 1, 6) == "_proj.") {
        const char which = rest[attn.size()];
        const std::string kind = rest.substr(attn.size() + 7);
        const int slot = which == 'q' ? 0 : which == 'k' ? 1 : which == 'v' ? 2 : -1;
        if (slot >= 0 && (kind == "weight" || kind == "bias")) {
          qkv[{layer, kind}][slot] = tensor;
          continue;
        }
      }
    }
    out.emplace(full.substr(prefix.size()), tensor);  // unknown: the strict load names it
  }
  check(any, origin, ": no text encoder tensors", prefix.empty() ? std::string() : " under '" + prefix + "'");
  for (const auto& [key, parts] : qkv) {
    const std::string where = origin + ": text encoder layer " + std::to_string(key.first) + " self_attn ";
    for (int i = 0; i < 3; ++i) {
      check(parts[i].defined(), where, "has no ", "qkv"[i], "_proj.", key.second, " (the q, k and v projections come together)");
    }
    check(parts[0].sizes() == parts[1].sizes() && parts[0].sizes() == parts[2].sizes(), where, "q/k/v_proj.", key.second,
          " shapes differ: ", parts[0].sizes(), ", ", parts[1].sizes(), ", ", parts[2].sizes());
    out.emplace(kOurBlocks + std::to_string(key.first) + ".attn.in_proj_" + key.second, at::cat({parts[0], parts[1], parts[2]}, 0));
  }
  return out;
}

TensorMap ours_to_open_clip_text(const TensorMap& ours, const std::string& prefix) {
  TensorMap out;
  for (const auto& [name, tensor] : ours) out.emplace(prefix + name, tensor);
  return out;
}

TensorMap ours_to_hf_clip_text(const TensorMap& ours, const std::string& prefix) {
  std::map<std::string, std::string> top, block;
  for (const auto& [hf, our] : hf_top_names()) top[our] = hf;
  for (const auto& [hf, our] : hf_block_names()) block[our] = hf;
  const std::string base = prefix + "text_model.";
  TensorMap out;
  for (const auto& [name, tensor] : ours) {
    if (const auto it = top.find(name); it != top.end()) {
      out.emplace(base + it->second, tensor);
      continue;
    }
    std::string rest;
    const int64_t layer = block_index(name, kOurBlocks, &rest);
    check(layer >= 0, "ours_to_hf_clip_text: no transformers name for ", name);
    const std::string b = base + kHfBlocks + std::to_string(layer) + ".";
    if (const auto it = block.find(rest); it != block.end()) {
      out.emplace(b + it->second, tensor);
    } else if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
      const std::string kind = rest == "attn.in_proj_weight" ? "weight" : "bias";
      const auto parts = tensor.chunk(3, 0);
      out.emplace(b + "self_attn.q_proj." + kind, parts[0].contiguous());
      out.emplace(b + "self_attn.k_proj." + kind, parts[1].contiguous());
      out.emplace(b + "self_attn.v_proj." + kind, parts[2].contiguous());
    } else {
      fail("ours_to_hf_clip_text: no transformers name for ", name);
    }
  }
  return out;
}

}  // namespace dreamdpo::models::sd
