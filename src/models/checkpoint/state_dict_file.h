// One entry point for the weight files users point at: .safetensors, PyTorch zip checkpoints
// (.pt/.pth/.bin/.ckpt) and diffusers folders; and a detector that says which known layout a
// state dict has (for `dreamdpo models check` and for choosing a key mapping).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace dreamdpo::models::checkpoint {

using StateDict = std::map<std::string, at::Tensor>;

// Reads a weight file, whatever its format (decided by its first bytes, not its extension), and
// returns the model's tensors:
// - a top-level "state_dict" (Lightning, open_clip) is unwrapped, dropping optimizer states and
//   the like; then "model" / "module" when every tensor is under it (a "model" that holds
//   "diffusion_model" is ldm's own naming and stays); a DataParallel "module." prefix on every
//   name is removed;
// - a diffusers model folder (config.json + diffusion_pytorch_model.* / model.* /
//   pytorch_model.*, sharded ".index.json" files included) gives that model's tensors;
// - a diffusers pipeline folder (model_index.json or unet/ vae/ text_encoder/ subfolders) gives
//   every component's tensors prefixed with "<component>.".
StateDict read_state_dict(const std::filesystem::path& path);

// A file or folder as read, before any unwrapping of wrappers; `format` is "safetensors",
// "PyTorch zip" or "diffusers folder"; `metadata` is a safetensors file's metadata (else empty).
struct CheckpointFile {
  StateDict tensors;
  std::map<std::string, std::string> metadata;
  std::string format;
};
// What read_state_dict reads (wrappers removed), with the format and metadata.
CheckpointFile read_checkpoint_file(const std::filesystem::path& path);

// The layouts we know. kUnknown: none matched.
enum class CheckpointKind {
  kUnknown,
  kLdmStableDiffusion,  // model.diffusion_model + first_stage_model + cond_stage_model
  kLdmMvdream,          // the same plus model.diffusion_model.camera_embed
  kDiffusersPipeline,   // unet. / vae. / text_encoder. components (a pipeline folder)
  kDiffusersUnet,
  kDiffusersVae,
  kDiffusersTextEncoder,  // transformers CLIPTextModel (text_model.*)
  kOpenClip,              // open_clip CLIP / HPSv2 (visual.*, token_embedding)
  kImageReward,           // blip.visual_encoder, blip.text_encoder, mlp.layers
  kBuiltinDiffusion,
  kBuiltinReward,
  kBuiltinJudge,
};

struct CheckpointDescription {
  std::string format;  // "safetensors", "PyTorch zip", "diffusers folder"
  CheckpointKind kind = CheckpointKind::kUnknown;
  std::string kind_name;  // for people: "Stable Diffusion single file (ldm layout)"
  std::size_t tensor_count = 0;
  std::int64_t parameter_count = 0;                 // elements over all tensors
  std::map<std::string, std::size_t> dtype_counts;  // "float16" -> number of tensors
  std::map<std::string, std::size_t> groups;        // top-level name parts -> number of tensors
};

// Detects the layout of a state dict (as read_state_dict returns it). `metadata` is a
// safetensors file's metadata (our built-in models are recognised by it).
CheckpointDescription describe_checkpoint(const StateDict& tensors, const std::map<std::string, std::string>& metadata = {});

// Reads `path` (file or folder) and describes it, format included.
CheckpointDescription describe_checkpoint_file(const std::filesystem::path& path);

const char* checkpoint_kind_name(CheckpointKind kind);

// "float32", "float16", "bfloat16", "int64", ...
std::string dtype_name(at::ScalarType type);

}  // namespace dreamdpo::models::checkpoint
