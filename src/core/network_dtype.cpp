#include "core/network_dtype.h"

#include "core/error.h"

namespace dreamdpo::core {

void check_network_dtype_name(const std::string& name, const std::string& key) {
  check(name == "auto" || name == "fp32" || name == "fp16" || name == "bf16", key,
        " must be auto, fp32, fp16 or bf16, got '", name, "'");
}

at::ScalarType resolve_network_dtype(const std::string& name, at::Device device, const std::string& key) {
  check_network_dtype_name(name, key);
  if (name == "auto") return device.is_cuda() ? at::kHalf : at::kFloat;
  if (name == "fp32") return at::kFloat;
  check(device.is_cuda(), key, "=", name, " needs --device cuda (the CPU runs these networks in fp32; use ", key,
        "=fp32 or auto)");
  return name == "fp16" ? at::kHalf : at::kBFloat16;
}

}  // namespace dreamdpo::core
