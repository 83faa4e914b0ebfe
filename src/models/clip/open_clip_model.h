// An OpenCLIP CLIP model (open_clip model.CLIP): the text tower at the root (as open_clip names
// it), the vision tower under `visual.`, and `logit_scale`. named_parameters() equal the keys of
// open_clip's state dict, so HPSv2's checkpoint or CLIP-ViT-H-14's weights load strictly.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "models/clip/clip_text_transformer.h"
#include "models/clip/clip_vision_transformer.h"
#include "models/clip/open_clip_config.h"

namespace dreamdpo::models::clip {

class OpenClipModelImpl : public ClipTextTransformerImpl {
 public:
  explicit OpenClipModelImpl(const OpenClipConfig& config = OpenClipConfig::vit_h_14());
  // Normalised images [B,3,S,S] -> [B, embed_dim]; text ids [B, context] -> [B, embed_dim];
  // L2-normalised when `normalize` (open_clip's encode_*(normalize=True)).
  at::Tensor encode_image(const at::Tensor& images, bool normalize = false);
  at::Tensor encode_text(const at::Tensor& ids, bool normalize = false);
  // Strict load of an open_clip state dict (name -> tensor); errors name missing, unexpected and
  // mis-shaped tensors and start with `origin`.
  void load_state(const std::map<std::string, at::Tensor>& state, const std::string& origin);
  const OpenClipConfig& config() const { return config_; }

  ClipVisionTransformer visual{nullptr};
  at::Tensor logit_scale;

 private:
  OpenClipConfig config_;
};
TORCH_MODULE(OpenClipModel);

// The tensors of a weights file, float32, names as stored. Until the PyTorch-zip reader
// (models::read_state_dict) is on this branch, only .safetensors is read; a .pt/.bin/.ckpt gives
// an error that says to convert it. A single top-level "state_dict." prefix (HPSv2's
// {'state_dict': ...} checkpoints flattened) is removed.
std::map<std::string, at::Tensor> read_open_clip_state(const std::filesystem::path& path);

}  // namespace dreamdpo::models::clip
