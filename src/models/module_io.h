// Weights of torch::nn modules to and from safetensors, strictly: loading fails with the name
// of any missing, unexpected or mis-shaped tensor, so a wrong or damaged file never loads
// half-way.
#pragma once
#include <torch/nn/module.h>

#include <filesystem>
#include <map>
#include <string>

namespace dreamdpo::models {

// Parameters and buffers under their dotted module names, float32 (or their own dtype), with
// `metadata` (architecture hyper-parameters, vocabulary, training facts).
void save_module(const torch::nn::Module& module, const std::filesystem::path& path,
                 const std::map<std::string, std::string>& metadata = {});

// Loads into a module built with the same architecture; returns the file's metadata.
std::map<std::string, std::string> load_module(torch::nn::Module& module, const std::filesystem::path& path);

// The same from an in-memory name -> tensor map (what load_module uses after reading the file).
void load_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                const std::string& origin);

// Reads only the metadata (to build the right architecture before loading the weights).
std::map<std::string, std::string> read_module_metadata(const std::filesystem::path& path);

}  // namespace dreamdpo::models
