// Hyper-parameters of an OpenCLIP ViT model, in open_clip's model_configs/*.json terms. The
// defaults are ViT-H-14 (open_clip model_configs/ViT-H-14.json): the towers of HPSv2 and the
// text encoder of Stable Diffusion 2 / MVDream.
#pragma once
#include <filesystem>
#include <string>

namespace dreamdpo::models::clip {

struct ClipTextConfig {
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t width = 1024;
  int64_t heads = 16;
  int64_t layers = 24;
  double mlp_ratio = 4.0;
};

struct ClipVisionConfig {
  int64_t image_size = 224;
  int64_t patch_size = 14;
  int64_t width = 1280;
  int64_t head_width = 80;  // heads = width / head_width (16 for ViT-H-14)
  int64_t layers = 32;
  double mlp_ratio = 4.0;
  int64_t heads() const { return width / head_width; }
  int64_t grid() const { return image_size / patch_size; }
};

struct OpenClipConfig {
  int64_t embed_dim = 1024;
  ClipVisionConfig vision;
  ClipTextConfig text;

  static OpenClipConfig vit_h_14() { return {}; }
  // Parses open_clip's JSON form ({"embed_dim", "vision_cfg": {...}, "text_cfg": {...}}). Keys
  // that select an architecture we do not implement (QuickGELU, attentional pooling, timm or HF
  // towers, layer scale, ...) are an error naming the key. `origin` starts error messages.
  static OpenClipConfig from_json_text(const std::string& text, const std::string& origin);
  static OpenClipConfig from_json_file(const std::filesystem::path& path);
  // "" or "ViT-H-14": the defaults; otherwise a path to such a JSON file.
  static OpenClipConfig resolve(const std::string& name_or_path);
  void validate(const std::string& origin) const;
};

}  // namespace dreamdpo::models::clip
