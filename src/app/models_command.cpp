// `dreamdpo models check PATH`: what a weight file or diffusers folder is and whether it loads;
// `dreamdpo convert IN OUT.safetensors`: any readable checkpoint to safetensors.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "app/commands.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/checkpoint/load_check.h"
#include "models/checkpoint/state_dict_file.h"

namespace dreamdpo::app {
namespace fs = std::filesystem;

namespace {

std::string with_thousands(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Returns the exit status: 0 when every checked component loads, 1 otherwise.
int run_models_check(const fs::path& path) {
  check(fs::exists(path), path.string(), " does not exist");
  const auto file = models::checkpoint::read_checkpoint_file(path);
  auto description = models::checkpoint::describe_checkpoint(file.tensors, file.metadata);
  description.format = file.format;
  std::printf("path: %s\n", path.string().c_str());
  std::printf("format: %s\n", description.format.c_str());
  std::printf("kind: %s\n", description.kind_name.c_str());
  std::printf("tensors: %zu\n", description.tensor_count);
  std::printf("parameters: %s\n", with_thousands(description.parameter_count).c_str());
  std::string dtypes;
  for (const auto& [dtype, count] : description.dtype_counts) {
    dtypes += (dtypes.empty() ? "" : ", ") + dtype + " " + std::to_string(count);
  }
  std::printf("dtypes: %s\n", dtypes.c_str());
  std::string groups;
  for (const auto& [group, count] : description.groups) {
    groups += (groups.empty() ? "" : ", ") + group + " " + std::to_string(count);
  }
  std::printf("groups: %s\n", groups.c_str());
  bool all_ok = true;
  for (const auto& c : models::checkpoint::check_strict_load(path, file, description)) {
    const char* verdict = !c.checked ? "not checked" : c.ok ? "loads" : "DOES NOT LOAD";
    std::printf("load %s: %s: %s\n", c.component.c_str(), verdict, c.message.c_str());
    all_ok = all_ok && (!c.checked || c.ok);
  }
  if (description.kind == models::checkpoint::CheckpointKind::kUnknown) {
    std::printf("load: not checked (layout not recognised)\n");
  }
  return all_ok ? 0 : 1;
}

void run_convert(const fs::path& in, const fs::path& out, const std::string& dtype) {
  check(out.extension() == ".safetensors", "the output ", out.string(), " must end in .safetensors");
  check(!fs::exists(in) || !fs::exists(out) || !fs::equivalent(in, out), "the output must differ from the input");
  const auto file = models::checkpoint::read_checkpoint_file(in);
  check(!file.tensors.empty(), in.string(), " holds no tensors");
  std::optional<at::ScalarType> target;
  if (dtype == "fp16") target = at::kHalf;
  if (dtype == "bf16") target = at::kBFloat16;
  if (dtype == "fp32") target = at::kFloat;
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, tensor] : file.tensors) {
    // Only floating-point tensors change type: integer buffers (position ids, counters) keep theirs.
    tensors[name] = target && tensor.is_floating_point() ? tensor.to(*target) : tensor;
  }
  auto metadata = file.metadata;
  metadata["converted_from"] = in.filename().string();
  metadata["converted_from_format"] = file.format;
  core::write_safetensors(out, tensors, metadata);
  std::printf("wrote %zu tensors to %s\n", tensors.size(), out.string().c_str());
}

}  // namespace

void add_models_command(CLI::App& app) {
  auto* models = app.add_subcommand("models", "Inspect model weight files");
  models->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  auto* check_command = models->add_subcommand(
      "check", "Say what a checkpoint (file or diffusers folder) holds and whether it loads strictly into our networks");
  check_command->add_option("path", *path, ".safetensors, .pt/.pth/.bin/.ckpt file, or diffusers folder")->required();
  check_command->callback([path] {
    if (run_models_check(*path) != 0) fail(*path, " does not load into our networks (see the lines above)");
  });
}

void add_convert_command(CLI::App& app) {
  struct Options {
    std::string in, out, dtype;
  };
  auto options = std::make_shared<Options>();
  auto* command = app.add_subcommand("convert", "Convert a checkpoint (PyTorch zip, safetensors or diffusers folder) to one safetensors file");
  command->add_option("input", options->in, "checkpoint file or diffusers folder")->required();
  command->add_option("output", options->out, "OUT.safetensors (written atomically)")->required();
  command->add_option("--dtype", options->dtype, "cast floating-point tensors: fp32, fp16 or bf16 (default: keep)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  command->callback([options] { run_convert(options->in, options->out, options->dtype); });
}

}  // namespace dreamdpo::app
