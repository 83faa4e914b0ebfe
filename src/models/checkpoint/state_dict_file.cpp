#include "models/checkpoint/state_dict_file.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/checkpoint/torch_zip_reader.h"

namespace dreamdpo::models::checkpoint {
namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool any_under(const StateDict& tensors, const std::string& prefix) {
  const auto it = tensors.lower_bound(prefix);
  return it != tensors.end() && starts_with(it->first, prefix);
}

bool has(const StateDict& tensors, const std::string& name) { return tensors.count(name) > 0; }

bool all_under(const StateDict& tensors, const std::string& prefix) {
  if (tensors.empty()) return false;
  for (const auto& item : tensors) {
    if (!starts_with(item.first, prefix)) return false;
  }
  return true;
}

StateDict strip(const StateDict& tensors, const std::string& prefix) {
  StateDict out;
  for (const auto& [name, tensor] : tensors) {
    if (starts_with(name, prefix)) out.emplace(name.substr(prefix.size()), tensor);
  }
  return out;
}

// Wrappers that training code puts around a model's state dict.
StateDict unwrap(StateDict tensors) {
  if (any_under(tensors, "state_dict.")) tensors = strip(tensors, "state_dict.");
  for (const char* wrapper : {"model.", "module."}) {
    if (all_under(tensors, wrapper) && !any_under(tensors, "model.diffusion_model.")) {
      tensors = strip(tensors, wrapper);
    }
  }
  if (all_under(tensors, "module.")) tensors = strip(tensors, "module.");
  return tensors;
}

enum class FileFormat { kSafetensors, kTorchZip };

FileFormat sniff(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "cannot open ", path.string());
  unsigned char head[9] = {};
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  const auto got = in.gcount();
  if (got >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return FileFormat::kTorchZip;
  if (got == 9 && head[8] == '{') return FileFormat::kSafetensors;
  // Legacy torch.save: PROTO then the LONG1 magic number; the zip reader explains.
  if (got >= 3 && head[0] == 0x80 && head[1] <= 5 && head[2] == 0x8a) return FileFormat::kTorchZip;
  fail(path.string(), " is neither a safetensors file nor a PyTorch checkpoint (unrecognised first bytes)");
}

StateDict read_file(const fs::path& path, std::map<std::string, std::string>* metadata, std::string* format) {
  check(fs::is_regular_file(path), path.string(), " does not exist or is not a file");
  if (sniff(path) == FileFormat::kSafetensors) {
    auto file = core::read_safetensors(path);
    if (metadata) *metadata = file.metadata;
    if (format) *format = "safetensors";
    return std::move(file.tensors);
  }
  if (format) *format = "PyTorch zip";
  return read_torch_checkpoint(path);
}

// The weight files of one diffusers / transformers model folder, in order of preference.
std::vector<fs::path> model_weight_files(const fs::path& folder) {
  for (const char* name : {"diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin",
                           "pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors",
                           "diffusion_pytorch_model.fp16.bin", "pytorch_model.fp16.bin"}) {
    if (fs::is_regular_file(folder / name)) return {folder / name};
  }
  for (const char* name : {"diffusion_pytorch_model.safetensors.index.json", "model.safetensors.index.json",
                           "diffusion_pytorch_model.bin.index.json", "pytorch_model.bin.index.json"}) {
    const auto index = folder / name;
    if (!fs::is_regular_file(index)) continue;
    std::set<std::string> shards;
    try {
      std::ifstream in(index);
      const auto json = nlohmann::json::parse(in);
      for (const auto& item : json.at("weight_map").items()) shards.insert(item.value().get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      fail(index.string(), ": not a valid shard index (", e.what(), ")");
    }
    std::vector<fs::path> files;
    for (const auto& shard : shards) {
      check(shard.find('/') == std::string::npos && shard.find("..") == std::string::npos, index.string(),
            ": shard name ", shard, " points outside the folder");
      files.push_back(folder / shard);
    }
    return files;
  }
  return {};
}

StateDict read_model_folder(const fs::path& folder, std::map<std::string, std::string>* metadata) {
  const auto files = model_weight_files(folder);
  check(!files.empty(), folder.string(),
        " holds no model weights (expected diffusion_pytorch_model.safetensors, model.safetensors or pytorch_model.bin)");
  StateDict out;
  for (const auto& file : files) {
    for (auto& [name, tensor] : read_file(file, metadata, nullptr)) {
      check(out.emplace(name, tensor).second, folder.string(), ": tensor ", name, " appears in two shards");
    }
  }
  return out;
}

const char* const kPipelineComponents[] = {"unet", "vae", "text_encoder", "text_encoder_2", "safety_checker"};

StateDict read_folder(const fs::path& folder, std::map<std::string, std::string>* metadata) {
  if (!model_weight_files(folder).empty()) return read_model_folder(folder, metadata);
  StateDict out;
  for (const char* component : kPipelineComponents) {
    if (!fs::is_directory(folder / component) || model_weight_files(folder / component).empty()) continue;
    for (auto& [name, tensor] : read_model_folder(folder / component, nullptr)) {
      out.emplace(std::string(component) + "." + name, tensor);
    }
  }
  check(!out.empty(), folder.string(),
        " is neither a diffusers model folder (config.json + weights) nor a pipeline folder (unet/, vae/, text_encoder/)");
  return out;
}

StateDict read_any(const fs::path& path, std::map<std::string, std::string>* metadata, std::string* format) {
  if (fs::is_directory(path)) {
    if (format) *format = "diffusers folder";
    return read_folder(path, metadata);
  }
  return unwrap(read_file(path, metadata, format));
}

}  // namespace

StateDict read_state_dict(const fs::path& path) { return read_any(path, nullptr, nullptr); }

CheckpointFile read_checkpoint_file(const fs::path& path) {
  check(fs::exists(path), path.string(), " does not exist");
  CheckpointFile file;
  file.tensors = read_any(path, &file.metadata, &file.format);
  return file;
}

std::string dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(type);
  }
}

const char* checkpoint_kind_name(CheckpointKind kind) {
  switch (kind) {
    case CheckpointKind::kLdmStableDiffusion: return "Stable Diffusion single file (ldm layout)";
    case CheckpointKind::kLdmMvdream: return "MVDream single file (ldm layout with camera_embed)";
    case CheckpointKind::kDiffusersPipeline: return "diffusers pipeline";
    case CheckpointKind::kDiffusersUnet: return "diffusers UNet";
    case CheckpointKind::kDiffusersVae: return "diffusers VAE (AutoencoderKL)";
    case CheckpointKind::kDiffusersTextEncoder: return "transformers CLIP text encoder";
    case CheckpointKind::kOpenClip: return "open_clip CLIP (e.g. HPSv2)";
    case CheckpointKind::kImageReward: return "ImageReward (BLIP + MLP head)";
    case CheckpointKind::kBuiltinDiffusion: return "dreamdpo built-in multi-view diffusion model";
    case CheckpointKind::kBuiltinReward: return "dreamdpo built-in reward model";
    case CheckpointKind::kBuiltinJudge: return "dreamdpo built-in judge";
    case CheckpointKind::kUnknown: break;
  }
  return "unknown layout";
}

CheckpointDescription describe_checkpoint(const StateDict& tensors, const std::map<std::string, std::string>& metadata) {
  CheckpointDescription d;
  d.tensor_count = tensors.size();
  for (const auto& [name, tensor] : tensors) {
    d.parameter_count += tensor.numel();
    ++d.dtype_counts[dtype_name(tensor.scalar_type())];
    const auto dot = name.find('.');
    std::string group = name.substr(0, dot);
    if (starts_with(name, "model.diffusion_model.")) group = "model.diffusion_model";
    ++d.groups[group];
  }
  auto meta = [&](const char* key) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : it->second;
  };
  using K = CheckpointKind;
  if (meta("model") == "dreamdpo builtin multi-view diffusion") {
    d.kind = K::kBuiltinDiffusion;
  } else if (meta("kind") == "dreamdpo-builtin-reward") {
    d.kind = K::kBuiltinReward;
  } else if (meta("kind") == "dreamdpo-builtin-judge") {
    d.kind = K::kBuiltinJudge;
  } else if (any_under(tensors, "model.diffusion_model.")) {
    d.kind = any_under(tensors, "model.diffusion_model.camera_embed.") ? K::kLdmMvdream : K::kLdmStableDiffusion;
  } else if (has(tensors, "unet.conv_in.weight") || has(tensors, "vae.encoder.conv_in.weight") ||
             has(tensors, "text_encoder.text_model.embeddings.token_embedding.weight")) {
    d.kind = K::kDiffusersPipeline;
  } else if (has(tensors, "encoder.conv_in.weight") && has(tensors, "decoder.conv_in.weight")) {
    d.kind = K::kDiffusersVae;
  } else if (has(tensors, "conv_in.weight") && any_under(tensors, "time_embedding.") && any_under(tensors, "down_blocks.")) {
    d.kind = K::kDiffusersUnet;
  } else if (any_under(tensors, "text_model.embeddings.")) {
    d.kind = K::kDiffusersTextEncoder;
  } else if (any_under(tensors, "blip.visual_encoder.") && any_under(tensors, "mlp.layers.")) {
    d.kind = K::kImageReward;
  } else if (has(tensors, "token_embedding.weight") || any_under(tensors, "visual.conv1.")) {
    d.kind = K::kOpenClip;
  }
  d.kind_name = checkpoint_kind_name(d.kind);
  if (d.kind == K::kLdmStableDiffusion || d.kind == K::kLdmMvdream) {
    std::vector<std::string> absent;
    for (const char* part : {"first_stage_model.", "cond_stage_model."}) {
      if (!any_under(tensors, part)) absent.push_back(std::string(part, std::string(part).size() - 1));
    }
    if (!absent.empty()) d.kind_name += absent.size() == 2 ? " (UNet only)" : " (without " + absent.front() + ")";
  }
  return d;
}

CheckpointDescription describe_checkpoint_file(const fs::path& path) {
  const auto file = read_checkpoint_file(path);
  auto d = describe_checkpoint(file.tensors, file.metadata);
  d.format = file.format;
  return d;
}

}  // namespace dreamdpo::models::checkpoint
