// Reader for PyTorch checkpoints in the zip format that torch.save writes since PyTorch 1.6
// (.pt, .pth, .bin, .ckpt): a stored (uncompressed) zip archive holding `<prefix>/data.pkl`, one
// entry `<prefix>/data/<key>` per storage, and `<prefix>/version` / `<prefix>/byteorder`.
//
// data.pkl is interpreted by a small pickle machine that knows only what torch.save emits:
// containers, numbers, strings, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` and the
// typed storages (Float, Half, BFloat16, Double, Long, Int, Short, Char, Byte, Bool). Any other
// class or function named in the pickle (Lightning callbacks, argparse.Namespace, numpy
// scalars...) becomes an opaque value that is skipped: nothing is ever executed, so a hostile file
// cannot run code. Damaged or hostile input gives a dreamdpo::Error naming the file and the
// problem, never a crash, an out-of-bounds read or an absurd allocation.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace dreamdpo::models::checkpoint {

// Every tensor in the file under its dotted path: nested dicts (and lists/tuples, by index) are
// flattened with '.', e.g. {"state_dict": {"conv.weight": t}} -> "state_dict.conv.weight".
// Tensors are CPU tensors in the file's dtype; tensors that shared a storage in the file are views
// of one storage here too (offset and strides honoured), so a 5 GB file takes 5 GB, not more.
using TensorMap = std::map<std::string, at::Tensor>;

// Reads a file. Storages are read straight from the file (ZIP64 archives over 4 GB included).
TensorMap read_torch_checkpoint(const std::filesystem::path& path);

// The same from a whole file held in memory; `origin` (usually the file name) starts every error.
TensorMap parse_torch_checkpoint(std::string_view bytes, const std::string& origin);

// True when the file starts like a zip archive (any zip, not only a torch one).
bool looks_like_zip(const std::filesystem::path& path);

}  // namespace dreamdpo::models::checkpoint
