#include "models/module_io.h"

#include <ATen/core/grad_mode.h>
#include <set>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/strings.h"

namespace dreamdpo::models {

void save_module(const torch::nn::Module& module, const std::filesystem::path& path,
                 const std::map<std::string, std::string>& metadata) {
  std::map<std::string, at::Tensor> tensors;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) tensors[item.key()] = item.value().detach();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) tensors[item.key()] = item.value().detach();
  core::write_safetensors(path, tensors, metadata);
}

void load_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                const std::string& origin) {
  std::map<std::string, at::Tensor> targets;
  for (const auto& item : module.named_parameters(true)) targets[item.key()] = item.value();
  for (const auto& item : module.named_buffers(true)) targets[item.key()] = item.value();
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& [name, target] : targets) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
    } else if (it->second.sizes() != target.sizes()) {
      std::ostringstream text;
      text << name << " (file " << it->second.sizes() << ", model " << target.sizes() << ")";
      misshaped.push_back(text.str());
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!targets.count(name)) unexpected.push_back(name);
  }
  check(missing.empty() && unexpected.empty() && misshaped.empty(), origin, " does not fit the model:",
        missing.empty() ? "" : " missing " + core::join_first(missing) + ";",
        unexpected.empty() ? "" : " unexpected " + core::join_first(unexpected) + ";",
        misshaped.empty() ? "" : " wrong shape " + core::join_first(misshaped) + ";");
  at::NoGradGuard no_grad;
  for (auto& [name, target] : targets) target.copy_(tensors.at(name).to(target.options()));
}

std::map<std::string, std::string> load_module(torch::nn::Module& module, const std::filesystem::path& path) {
  auto file = core::read_safetensors(path);
  load_state(module, file.tensors, path.string());
  return file.metadata;
}

std::map<std::string, std::string> read_module_metadata(const std::filesystem::path& path) {
  return core::read_safetensors(path).metadata;
}

}  // namespace dreamdpo::models
