// 3D Gaussians as a binary PLY in the layout 3DGS viewers read (INRIA 3DGS, SuperSplat,
// antimatter15/splat): one "vertex" element whose float properties are, in order,
//   x y z nx ny nz f_dc_0..2 f_rest_0..f_rest_{3K-1} opacity scale_0..2 rot_0..3
// with raw (pre-activation) values: opacity is the logit, scales are logs, rot is the stored
// wxyz quaternion, normals are 0. f_rest is channel-major (all K coefficients of R, then G,
// then B), i.e. sh_rest [N,K,3] transposed to [N,3,K] and flattened.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>

namespace dreamdpo::exporters {

// `state` holds the GaussianCloud::state() keys: means [N,3], log_scales [N,3],
// rotations [N,4], opacity_logits [N,1], sh_dc [N,3], sh_rest [N,K,3] with K in {0,3,8,15}.
// Any device and floating dtype (written as float32). Written atomically.
void write_gaussian_ply(const std::filesystem::path& path,
                        const std::map<std::string, at::Tensor>& state);

// Reads a file in the layout above back into a state map (float32 CPU tensors). The header is
// validated (format, element, each property's name and type, size of the data) and any
// mismatch is an error that says what is wrong.
std::map<std::string, at::Tensor> read_gaussian_ply(const std::filesystem::path& path);

}  // namespace dreamdpo::exporters
