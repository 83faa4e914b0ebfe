#include "models/sd/ldm_unet_keys.h"

#include <set>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace dreamdpo::models::sd {
namespace {

// ResBlock's Sequential indices (in_layers: GroupNorm, SiLU, Conv; emb_layers: SiLU, Linear;
// out_layers: GroupNorm, SiLU, Dropout, Conv) against ResnetBlock2D's names.
const std::map<std::string, std::string>& resnet_names() {
  static const std::map<std::string, std::string> names{
      {"norm1", "in_layers.0"}, {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
      {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
  return names;
}

std::vector<std::string> split(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream stream(name);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  return parts;
}

std::string rest(const std::vector<std::string>& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

std::string resnet_to_ldm(const std::vector<std::string>& parts, size_t at) {  // parts[at] = "norm1", ...
  const auto& names = resnet_names();
  const auto it = names.find(parts.at(at));
  check(it != names.end(), "ldm UNet map: no ldm name for resnet part ", parts.at(at));
  return it->second + "." + rest(parts, at + 1);
}

// One of our parameter names -> its ldm name (no prefix).
std::string to_ldm(const std::string& name, const UNetConfig& config) {
  const auto p = split(name);
  const int64_t per_level = config.layers_per_block + 1;  // resnets (+ sampler) per ldm level
  const auto index = [&](size_t i) { return std::stoll(p.at(i)); };
  const std::string& head = p.at(0);
  if (head == "conv_in") return "input_blocks.0.0." + rest(p, 1);
  if (head == "time_embedding" || head == "camera_embedding") {
    const std::string ldm = head == "time_embedding" ? "time_embed." : "camera_embed.";
    return ldm + (p.at(1) == "linear_1" ? "0." : "2.") + rest(p, 2);
  }
  if (head == "conv_norm_out") return "out.0." + rest(p, 1);
  if (head == "conv_out") return "out.2." + rest(p, 1);
  if (head == "mid_block") {
    if (p.at(1) == "attentions") return "middle_block.1." + rest(p, 3);
    return "middle_block." + std::to_string(index(2) == 0 ? 0 : 2) + "." + resnet_to_ldm(p, 3);
  }
  if (head == "down_blocks") {
    const int64_t level = index(1), first = 1 + level * per_level;
    if (p.at(2) == "downsamplers") return "input_blocks." + std::to_string(first + config.layers_per_block) + ".0.op." + rest(p, 5);
    const std::string block = "input_blocks." + std::to_string(first + index(3));
    if (p.at(2) == "attentions") return block + ".1." + rest(p, 4);
    return block + ".0." + resnet_to_ldm(p, 4);
  }
  if (head == "up_blocks") {
    const int64_t i = index(1), first = i * per_level;
    const size_t level = config.levels() - 1 - static_cast<size_t>(i);
    if (p.at(2) == "upsamplers") {
      // output_blocks.N holds resnet, [transformer,] upsample.
      const int slot = config.cross_attention[level] ? 2 : 1;
      return "output_blocks." + std::to_string(first + config.layers_per_block) + "." + std::to_string(slot) +
             ".conv." + rest(p, 5);
    }
    const std::string block = "output_blocks." + std::to_string(first + index(3));
    if (p.at(2) == "attentions") return block + ".1." + rest(p, 4);
    return block + ".0." + resnet_to_ldm(p, 4);
  }
  fail("ldm UNet map: no ldm name for ", name);
}

bool is_projection(const std::string& name) {
  return name.find(".proj_in.weight") != std::string::npos || name.find(".proj_out.weight") != std::string::npos;
}

// Linear [o, i] <-> 1x1 conv [o, i, 1, 1] for proj_in/proj_out; anything else stays as it is.
at::Tensor fit_projection(const std::string& name, const at::Tensor& tensor, const std::vector<int64_t>& shape) {
  if (!is_projection(name) || tensor.sizes() == at::IntArrayRef(shape)) return tensor;
  const bool linear_to_conv = tensor.dim() == 2 && shape.size() == 4 && shape[2] == 1 && shape[3] == 1;
  const bool conv_to_linear = tensor.dim() == 4 && shape.size() == 2 && tensor.size(2) == 1 && tensor.size(3) == 1;
  if ((linear_to_conv || conv_to_linear) && tensor.numel() == shape[0] * shape[1]) return tensor.reshape(shape);
  return tensor;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ldm_unet_name_map(const UNetConfig& config) {
  std::vector<std::pair<std::string, std::string>> map;
  for (const auto& [name, shape] : unet_parameter_shapes(config)) map.emplace_back(name, to_ldm(name, config));
  return map;
}

std::map<std::string, at::Tensor> ldm_unet_to_ours(const std::map<std::string, at::Tensor>& ldm,
                                                   const UNetConfig& config, const std::string& origin,
                                                   const std::string& prefix) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (auto& [name, shape] : unet_parameter_shapes(config)) shapes[name] = shape;
  std::map<std::string, at::Tensor> ours;
  std::set<std::string> used;
  std::vector<std::string> missing, misshaped;
  for (const auto& [name, ldm_name] : ldm_unet_name_map(config)) {
    const auto it = ldm.find(prefix + ldm_name);
    if (it == ldm.end()) {
      missing.push_back(prefix + ldm_name);
      continue;
    }
    used.insert(it->first);
    const auto& shape = shapes.at(name);
    auto tensor = fit_projection(name, it->second, shape);
    if (tensor.sizes() != at::IntArrayRef(shape)) {
      std::ostringstream text;
      text << it->first << " (file " << it->second.sizes() << ", model " << at::IntArrayRef(shape) << ")";
      misshaped.push_back(text.str());
      continue;
    }
    ours[name] = tensor;
  }
  std::vector<std::string> unmapped;
  for (const auto& [name, tensor] : ldm) {
    if (name.compare(0, prefix.size(), prefix) == 0 && !used.count(name)) unmapped.push_back(name);
  }
  check(missing.empty() && unmapped.empty() && misshaped.empty(), origin,
        " does not fit this UNet configuration (ldm layout, prefix \"", prefix, "\"):",
        missing.empty() ? "" : " missing " + core::join_first(missing) + ";",
        unmapped.empty() ? "" : " unexpected " + core::join_first(unmapped) + ";",
        misshaped.empty() ? "" : " wrong shape " + core::join_first(misshaped) + ";");
  return ours;
}

std::map<std::string, at::Tensor> ours_to_ldm_unet(const std::map<std::string, at::Tensor>& ours,
                                                   const UNetConfig& config, const std::string& prefix) {
  std::map<std::string, at::Tensor> ldm;
  for (const auto& [name, ldm_name] : ldm_unet_name_map(config)) {
    const auto it = ours.find(name);
    check(it != ours.end(), "UNet state has no tensor ", name);
    ldm[prefix + ldm_name] = it->second;
  }
  check(ldm.size() == ours.size(), "UNet state holds ", ours.size() - ldm.size(),
        " tensors this configuration does not have");
  return ldm;
}

}  // namespace dreamdpo::models::sd
