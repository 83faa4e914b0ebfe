#include "core/png_io.h"

#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"

// The stb implementations live in this file only, with internal linkage so they cannot clash
// with another copy linked into the program.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace dreamdpo::core {
namespace {

std::string shape_string(const at::Tensor& tensor) {
  std::string text = "[";
  for (std::int64_t i = 0; i < tensor.dim(); ++i) {
    text += (i ? "," : "") + std::to_string(tensor.size(i));
  }
  return text + "]";
}

// Validates an image and returns it as uint8 [H,W,C] contiguous on the CPU.
at::Tensor to_hwc_bytes(const at::Tensor& image) {
  check(image.defined(), "cannot write PNG: the image tensor is undefined");
  check(at::isFloatingType(image.scalar_type()), "cannot write PNG: image has dtype ",
        c10::toString(image.scalar_type()), " but a floating-point tensor in [0,1] is expected");
  at::Tensor chw = image;
  if (chw.dim() == 4 && chw.size(0) == 1) chw = chw.squeeze(0);
  const bool ok = chw.dim() == 3 &&
                  (chw.size(0) == 1 || chw.size(0) == 3 || chw.size(0) == 4) &&
                  chw.size(1) > 0 && chw.size(2) > 0;
  check(ok, "cannot write PNG: image has shape ", shape_string(image),
        " but [3,H,W] or [1,3,H,W] (RGB), [4,H,W] (RGBA) or [1,H,W] (grey) with H,W > 0 is "
        "expected");
  const std::int64_t channels = chw.size(0);
  check(chw.size(1) < INT_MAX / 16 && chw.size(2) * channels < INT_MAX / 16,
        "cannot write PNG: image of shape ", shape_string(image), " is too large");
  return at::nan_to_num(chw.detach().to(at::kCPU, at::kFloat), 0.0, 1.0, 0.0)
      .clamp(0.0, 1.0)
      .mul(255.0)
      .round()
      .to(at::kByte)
      .permute({1, 2, 0})
      .contiguous();
}

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<std::size_t>(size));
}

}  // namespace

std::string encode_png(const at::Tensor& image) {
  const at::Tensor hwc = to_hwc_bytes(image);
  const int height = static_cast<int>(hwc.size(0));
  const int width = static_cast<int>(hwc.size(1));
  const int channels = static_cast<int>(hwc.size(2));
  std::string bytes;
  const int ok = stbi_write_png_to_func(append_bytes, &bytes, width, height, channels,
                                        hwc.data_ptr<std::uint8_t>(), width * channels);
  check(ok != 0, "cannot encode PNG of shape ", shape_string(image), " (out of memory?)");
  return bytes;
}

void write_png(const std::filesystem::path& path, const at::Tensor& image) {
  std::string bytes;
  try {
    bytes = encode_png(image);
  } catch (const Error& e) {
    fail(path.string(), ": ", e.what());
  }
  write_file_atomic(path, bytes);
}

at::Tensor read_png(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  check(bytes.size() <= static_cast<std::size_t>(INT_MAX), "cannot read PNG ", path,
        ": file too large");
  int width = 0, height = 0, channels_in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &width, &height, &channels_in_file,
                            3),
      stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    fail("cannot read PNG ", path, ": ", reason ? reason : "unknown error",
         " (not a PNG file, or corrupt)");
  }
  at::Tensor hwc = at::from_blob(pixels.get(), {height, width, 3}, at::kByte);
  return hwc.permute({2, 0, 1}).to(at::kFloat).div_(255.0).contiguous();
}

at::Tensor image_grid(const std::vector<at::Tensor>& images, std::int64_t columns,
                      std::int64_t padding, float pad_value) {
  check(!images.empty(), "image_grid: no images given");
  check(columns >= 1, "image_grid: columns must be at least 1, got ", columns);
  check(padding >= 0, "image_grid: padding must be non-negative, got ", padding);
  const at::Tensor& first = images.front();
  check(first.defined() && first.dim() == 3, "image_grid: images must be [C,H,W], got ",
        first.defined() ? shape_string(first) : std::string("an undefined tensor"));
  for (std::size_t i = 0; i < images.size(); ++i) {
    check(images[i].defined() && images[i].sizes() == first.sizes(), "image_grid: image ", i,
          " has shape ", images[i].defined() ? shape_string(images[i]) : std::string("(undefined)"),
          " but image 0 has shape ", shape_string(first), "; all images must match");
  }
  const auto count = static_cast<std::int64_t>(images.size());
  const std::int64_t cols = std::min(columns, count);
  const std::int64_t rows = (count + cols - 1) / cols;
  const std::int64_t channels = first.size(0), height = first.size(1), width = first.size(2);
  at::Tensor grid = at::full({channels, rows * height + (rows + 1) * padding,
                              cols * width + (cols + 1) * padding},
                             pad_value, first.options().requires_grad(false));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t y = padding + (i / cols) * (height + padding);
    const std::int64_t x = padding + (i % cols) * (width + padding);
    grid.slice(1, y, y + height).slice(2, x, x + width).copy_(images[static_cast<std::size_t>(i)].detach());
  }
  return grid;
}

}  // namespace dreamdpo::core
