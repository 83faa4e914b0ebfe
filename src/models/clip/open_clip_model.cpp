#include "models/clip/open_clip_model.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "models/checkpoint/state_dict_file.h"
#include "models/module_io.h"

namespace dreamdpo::models::clip {

namespace {

template <class T>
void read_field(const nlohmann::json& object, const char* key, T& out, const std::string& where) {
  if (!object.contains(key)) return;
  try {
    out = object.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(where, ".", key, " has the wrong type (", object.at(key).dump(), ")");
  }
}

// Keys open_clip accepts that leave this architecture as it is when they hold these values.
bool harmless(const std::string& key, const nlohmann::json& value) {
  static const std::set<std::string> kFalseIsDefault = {
      "quick_gelu", "custom_text", "attentional_pool", "no_ln_pre", "final_ln_after_pool", "output_tokens",
      "embed_cls", "no_causal_mask", "proj_bias", "qk_norm", "scaled_cosine_attn", "scale_heads",
      "scale_attn_inner", "scale_attn", "scale_fc", "timm_model_pretrained", "input_patchnorm",
      "global_average_pool"};
  if (kFalseIsDefault.count(key)) return value.is_boolean() && !value.get<bool>();
  if (key == "ls_init_value" || key == "timm_model_name" || key == "hf_model_name") return value.is_null();
  if (key == "patch_dropout") return value.is_number() && value.get<double>() == 0.0;
  if (key == "pool_type") return value == "tok" || value == "argmax";
  if (key == "proj_type") return value == "linear";
  if (key == "pos_embed_type") return value == "learnable";
  if (key == "pad_id") return value == 0;
  if (key == "text_arch") return value == "clip";
  return false;
}

}  // namespace

OpenClipConfig OpenClipConfig::from_json_text(const std::string& text, const std::string& origin) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(origin, " is not valid JSON: ", e.what());
  }
  check(json.is_object(), origin, " must be a JSON object with embed_dim, vision_cfg and text_cfg");
  OpenClipConfig config;
  for (const auto& [key, value] : json.items()) {
    if (key == "embed_dim") {
      read_field(json, "embed_dim", config.embed_dim, origin);
    } else if (key == "vision_cfg" || key == "text_cfg") {
      check(value.is_object(), origin, ".", key, " must be an object");
      const std::string where = origin + "." + key;
      for (const auto& [sub, sub_value] : value.items()) {
        static const std::set<std::string> kVision = {"image_size", "patch_size", "width", "head_width", "layers",
                                                      "mlp_ratio"};
        static const std::set<std::string> kText = {"context_length", "vocab_size", "width", "heads", "layers",
                                                    "mlp_ratio"};
        const bool known = key == "vision_cfg" ? kVision.count(sub) > 0 : kText.count(sub) > 0;
        check(known || harmless(sub, sub_value), where, ".", sub, " = ", sub_value.dump(),
              " selects an architecture this OpenCLIP implementation does not have");
      }
      if (key == "vision_cfg") {
        auto& v = config.vision;
        check(!value.contains("layers") || value.at("layers").is_number_integer(), where,
              ".layers must be an integer (ResNet towers are not supported)");
        read_field(value, "image_size", v.image_size, where);
        read_field(value, "patch_size", v.patch_size, where);
        read_field(value, "width", v.width, where);
        read_field(value, "head_width", v.head_width, where);
        read_field(value, "layers", v.layers, where);
        read_field(value, "mlp_ratio", v.mlp_ratio, where);
      } else {
        auto& t = config.text;
        read_field(value, "context_length", t.context_length, where);
        read_field(value, "vocab_size", t.vocab_size, where);
        read_field(value, "width", t.width, where);
        read_field(value, "heads", t.heads, where);
        read_field(value, "layers", t.layers, where);
        read_field(value, "mlp_ratio", t.mlp_ratio, where);
      }
    } else {
      check(harmless(key, value), origin, ".", key, " = ", value.dump(),
            " selects an architecture this OpenCLIP implementation does not have");
    }
  }
  config.validate(origin);
  return config;
}

OpenClipConfig OpenClipConfig::from_json_file(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), "OpenCLIP model config ", path.string(), " does not exist");
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return from_json_text(text.str(), path.string());
}

OpenClipConfig OpenClipConfig::resolve(const std::string& name_or_path) {
  if (name_or_path.empty() || name_or_path == "ViT-H-14") return vit_h_14();
  check(name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".json",
        "unknown OpenCLIP model '", name_or_path, "' (use ViT-H-14 or a path to an open_clip model config .json)");
  return from_json_file(name_or_path);
}

void OpenClipConfig::validate(const std::string& origin) const {
  check(embed_dim > 0, origin, ": embed_dim must be > 0");
  check(vision.patch_size > 0 && vision.image_size >= vision.patch_size && vision.image_size % vision.patch_size == 0,
        origin, ": vision image_size ", vision.image_size, " must be a multiple of patch_size ", vision.patch_size);
  check(vision.width > 0 && vision.head_width > 0 && vision.width % vision.head_width == 0, origin,
        ": vision width ", vision.width, " must be a multiple of head_width ", vision.head_width);
  check(vision.layers > 0 && text.layers > 0, origin, ": both towers need at least one layer");
  check(text.heads > 0 && text.width % text.heads == 0, origin, ": text width ", text.width,
        " must be a multiple of heads ", text.heads);
  check(text.context_length >= 2 && text.vocab_size > 2, origin, ": text context_length and vocab_size are too small");
  check(vision.mlp_ratio > 0 && text.mlp_ratio > 0, origin, ": mlp_ratio must be > 0");
}

OpenClipModelImpl::OpenClipModelImpl(const OpenClipConfig& config)
    : ClipTextTransformerImpl(config.text, config.embed_dim), config_(config) {
  config.validate("OpenCLIP config");
  visual = register_module("visual", ClipVisionTransformer(config.vision, config.embed_dim));
  logit_scale = register_parameter("logit_scale", at::full({}, std::log(1 / 0.07)));
}

at::Tensor OpenClipModelImpl::encode_image(const at::Tensor& images, bool normalize) {
  auto features = visual->forward(images);
  return normalize ? features / features.norm(2, -1, true).clamp_min(1e-12) : features;
}

at::Tensor OpenClipModelImpl::encode_text(const at::Tensor& ids, bool normalize) {
  auto features = ClipTextTransformerImpl::encode_text(ids);
  return normalize ? features / features.norm(2, -1, true).clamp_min(1e-12) : features;
}

void OpenClipModelImpl::load_state(const std::map<std::string, at::Tensor>& state, const std::string& origin) {
  models::load_state(*this, state, origin);
}

std::map<std::string, at::Tensor> read_open_clip_state(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), "weights file ", path.string(), " does not exist");
  // .safetensors or a PyTorch checkpoint (HPS_v2*_compressed.pt, open_clip_pytorch_model.bin);
  // a top-level "state_dict" wrapper is removed by the reader.
  auto tensors = checkpoint::read_state_dict(path);
  std::map<std::string, at::Tensor> out;
  for (auto& [name, tensor] : tensors) {
    check(tensor.is_floating_point(), path.string(), ": tensor ", name, " is not floating point (", tensor.scalar_type(), ")");
    out[name] = tensor.to(at::kFloat);
  }
  return out;
}

}  // namespace dreamdpo::models::clip
