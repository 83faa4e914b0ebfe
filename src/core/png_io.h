// PNG files for images at the library's interface convention: float tensors in [0,1].
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dreamdpo::core {

// Writes a floating-point image [C,H,W] or [1,C,H,W] with C = 3 (RGB), 4 (RGBA) or 1 (grey),
// values in [0,1] (clamped; NaN written as 0), rounded to 8 bits. Any device. Written
// atomically: on error the destination is untouched and no temporary file is left.
void write_png(const std::filesystem::path& path, const at::Tensor& image);

// Encodes like write_png but returns the PNG bytes.
std::string encode_png(const at::Tensor& image);

// Reads a PNG (grey, grey+alpha, RGB, RGBA; 8 or 16 bit) as a float CPU tensor [3,H,W] in
// [0,1]; grey is replicated to RGB and alpha is dropped.
at::Tensor read_png(const std::filesystem::path& path);

// Tiles images [C,H,W] (all the same shape) into one [C,H',W'] image with `columns` tiles per
// row (fewer if there are fewer images), `padding` pixels of `pad_value` around and between
// tiles: tile i sits at row i / columns, column i % columns, with its top-left pixel at
// (padding + row * (H + padding), padding + column * (W + padding)).
// The result has the first image's dtype and device and no autograd history.
at::Tensor image_grid(const std::vector<at::Tensor>& images, std::int64_t columns,
                      std::int64_t padding = 2, float pad_value = 1.0f);

}  // namespace dreamdpo::core
