// Constants of the compositing kernels, shared by the CPU kernel, the CUDA kernel and the
// dense reference. No LibTorch here, so plain nvcc can include it.
#pragma once
#include <cstdint>

namespace dreamdpo::render {

constexpr int64_t kTileSize = 16;
constexpr double kMaxAlpha = 0.99;
constexpr double kMinAlpha = 1.0 / 255.0;
constexpr double kMinTransmittance = 1e-4;
constexpr double kCutoffMahalanobis2 = 9.0;  // 3 sigma

}  // namespace dreamdpo::render
