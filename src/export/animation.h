// Turntable animations: an .mp4 through ffmpeg when it is installed, else an animated PNG
// (APNG), which browsers show natively and which reads as its first frame anywhere else.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace dreamdpo::exporters {

enum class TurntableFormat {
  kAuto,  // H.264 .mp4 via ffmpeg on PATH; APNG when ffmpeg is missing or fails
  kApng,  // always the animated PNG
};

// frames [F,3,H,W] in [0,1] (any device, clamped), fps in [1, 1000]. Writes stem + ".mp4" or
// stem + ".png" atomically and returns the path written. For the .mp4, odd sizes are padded
// by repeating the last row / column, since yuv420p needs even sizes.
std::filesystem::path write_turntable(const std::filesystem::path& stem, const at::Tensor& frames, int fps,
                                      TurntableFormat format = TurntableFormat::kAuto);

// The APNG bytes for frames [F,3,H,W]: acTL, then per frame an fcTL and its image data (IDAT
// for frame 0, fdAT for the others), each frame shown for 1/fps s, looping forever.
std::string encode_apng(const at::Tensor& frames, int fps);

// CRC-32 as PNG chunks use it (ISO 3309), over `bytes`.
uint32_t png_crc32(const std::string& bytes);

}  // namespace dreamdpo::exporters
