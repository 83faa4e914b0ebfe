#include "models/sd/ldm_vae_keys.h"

#include <sstream>
#include <vector>

#include "core/error.h"

namespace dreamdpo::models::sd {
namespace {

std::vector<std::string> split(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream stream(name);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

bool is_index(const std::string& s) { return !s.empty() && s.size() < 4 && s.find_first_not_of("0123456789") == std::string::npos; }

// "<x>.weight" / "<x>.bias" within a resnet: only nin_shortcut changes name.
std::string resnet_tail(const std::vector<std::string>& parts, std::size_t from) {
  auto tail = join(parts, from);
  if (tail.rfind("nin_shortcut.", 0) == 0) tail = "conv_shortcut." + tail.substr(13);
  return tail;
}

}  // namespace

std::string ldm_vae_name_to_diffusers(const std::string& name, int levels) {
  const auto p = split(name);
  if (p.size() < 3 || (p[0] != "encoder" && p[0] != "decoder")) return name;
  const std::string& side = p[0];
  if (p[1] == "norm_out") return side + ".conv_norm_out." + join(p, 2);
  if (p[1] == "conv_in" || p[1] == "conv_out") return name;
  if (p[1] == "mid" && p.size() >= 4) {
    if (p[2] == "block_1" || p[2] == "block_2") {
      return side + ".mid_block.resnets." + (p[2] == "block_1" ? "0." : "1.") + resnet_tail(p, 3);
    }
    if (p[2] == "attn_1") {
      static const std::map<std::string, std::string> kAttention = {
          {"norm", "group_norm"}, {"q", "to_q"}, {"k", "to_k"}, {"v", "to_v"}, {"proj_out", "to_out.0"}};
      const auto it = kAttention.find(p[3]);
      if (it != kAttention.end()) return side + ".mid_block.attentions.0." + it->second + "." + join(p, 4);
    }
    return name;
  }
  const bool down = side == "encoder" && p[1] == "down", up = side == "decoder" && p[1] == "up";
  if ((down || up) && p.size() >= 5 && is_index(p[2])) {
    const int level = std::stoi(p[2]);
    if (level >= levels) return name;
    const std::string block = down ? side + ".down_blocks." + p[2] : side + ".up_blocks." + std::to_string(levels - 1 - level);
    if (p[3] == "block" && is_index(p[4]) && p.size() >= 6) return block + ".resnets." + p[4] + "." + resnet_tail(p, 5);
    if (p[3] == (down ? "downsample" : "upsample") && p[4] == "conv") {
      return block + (down ? ".downsamplers.0.conv." : ".upsamplers.0.conv.") + join(p, 5);
    }
  }
  return name;
}

std::map<std::string, at::Tensor> ldm_vae_to_diffusers(const std::map<std::string, at::Tensor>& tensors,
                                                       const std::string& prefix) {
  // Levels: the encoder's down.I (the decoder's up.I mirror them).
  int levels = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.rfind(prefix, 0) != 0) continue;
    const auto p = split(name.substr(prefix.size()));
    if (p.size() > 2 && (p[1] == "down" || p[1] == "up") && is_index(p[2])) levels = std::max(levels, std::stoi(p[2]) + 1);
  }
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, tensor] : tensors) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string ours = ldm_vae_name_to_diffusers(name.substr(prefix.size()), levels);
    at::Tensor value = tensor;
    const bool attention_weight = ours.find(".attentions.0.to_") != std::string::npos &&
                                  ours.size() > 7 && ours.compare(ours.size() - 7, 7, ".weight") == 0;
    if (attention_weight && tensor.dim() != 2) {
      check(tensor.dim() == 4 && tensor.size(2) == 1 && tensor.size(3) == 1, name, ": expected a 1x1 conv weight [C, C, 1, 1], got ",
            tensor.sizes());
      value = tensor.reshape({tensor.size(0), tensor.size(1)});
    }
    check(out.emplace(ours, value).second, "two tensors map to ", ours, " (", name, ")");
  }
  return out;
}

}  // namespace dreamdpo::models::sd
