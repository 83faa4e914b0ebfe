// Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
//   8-byte little-endian u64 header length N, N bytes of JSON header, then the data buffer.
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data buffer) plus an optional "__metadata__" object of string values.
//
// The reader validates everything against the bytes it is given: a corrupt, truncated or
// hostile file gives a dreamdpo::Error naming the file and the tensor, never a crash, an
// out-of-bounds read or an absurd allocation.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace dreamdpo::core {

struct SafetensorsFile {
  // Sorted by name; every tensor is a contiguous CPU tensor that owns its memory.
  std::map<std::string, at::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Largest header accepted (the format's own readers use the same limit).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Parses a whole safetensors file held in memory. `origin_for_errors` (usually the file name)
// starts every error message.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& origin_for_errors);

// Reads and parses a file; errors name the path.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// Serialises tensors (any device, any layout; moved to CPU and made contiguous) in key order,
// with the header padded by spaces so the data buffer starts at a multiple of 8 bytes.
// Unsupported dtypes or a tensor named "__metadata__" give a dreamdpo::Error.
std::string serialize_safetensors(const std::map<std::string, at::Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

// The bytes of serialize_safetensors, streamed to a temporary file that is renamed into place
// (`path` is never half-written; no in-memory copy of the whole file is made).
void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// "F32" <-> at::kFloat etc. for F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
// safetensors_dtype_name throws dreamdpo::Error for a scalar type the format cannot hold.
std::string safetensors_dtype_name(at::ScalarType type);

}  // namespace dreamdpo::core
