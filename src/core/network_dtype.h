// The dtype a pretrained network runs in, from a config value: auto | fp32 | fp16 | bf16.
// "auto" is fp16 on CUDA (what the reference runs get from mixed precision) and fp32 on the CPU;
// fp16/bf16 are refused on the CPU, where LibTorch's half-precision kernels are slow or missing.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace dreamdpo::core {

// Throws dreamdpo::Error naming `key` (e.g. "prior.dtype") for an unknown name.
void check_network_dtype_name(const std::string& name, const std::string& key);
at::ScalarType resolve_network_dtype(const std::string& name, at::Device device, const std::string& key);

}  // namespace dreamdpo::core
