#include "core/png_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"

namespace dreamdpo::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class PngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dreamdpo_png_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::size_t files_in_dir() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

// Deterministic pseudo-random values in [0,1), plus a few out of range to test clamping.
at::Tensor test_image(std::int64_t channels, std::int64_t height, std::int64_t width) {
  const std::int64_t n = channels * height * width;
  at::Tensor x = (at::sin(at::arange(n, at::kFloat).mul(12.9898)).mul(43758.5453)).frac().abs();
  x = x.reshape({channels, height, width});
  x.index_put_({0, 0, 0}, -0.5f);
  x.index_put_({channels - 1, height - 1, width - 1}, 1.5f);
  return x;
}

at::Tensor quantised(const at::Tensor& x) { return x.clamp(0, 1).mul(255).round().div(255); }

float max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<float>();
}

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a dreamdpo::Error";
  return "";
}

TEST_F(PngTest, RgbRoundTripEqualsQuantisedInput) {
  const at::Tensor image = test_image(3, 5, 7);
  const fs::path path = dir_ / "rgb.png";
  write_png(path, image);
  const at::Tensor back = read_png(path);
  ASSERT_EQ(back.sizes(), at::IntArrayRef({3, 5, 7}));
  EXPECT_EQ(back.scalar_type(), at::kFloat);
  EXPECT_LE(max_abs_diff(back, image.clamp(0, 1)), 0.5f / 255 + 1e-6f);
  EXPECT_LE(max_abs_diff(back, quantised(image)), 1e-6f);
  EXPECT_EQ(back.index({0, 0, 0}).item<float>(), 0.0f);
  EXPECT_EQ(back.index({2, 4, 6}).item<float>(), 1.0f);
  EXPECT_EQ(files_in_dir(), 1u);
}

TEST_F(PngTest, AcceptsBatchOfOneAndOtherFloatTypes) {
  const at::Tensor image = test_image(3, 4, 6);
  write_png(dir_ / "batch.png", image.unsqueeze(0));
  EXPECT_LE(max_abs_diff(read_png(dir_ / "batch.png"), quantised(image)), 1e-6f);
  write_png(dir_ / "double.png", image.to(at::kDouble));
  EXPECT_LE(max_abs_diff(read_png(dir_ / "double.png"), quantised(image)), 1e-6f);
  // Non-contiguous input.
  const at::Tensor transposed = test_image(3, 6, 4).transpose(1, 2);
  write_png(dir_ / "t.png", transposed);
  EXPECT_LE(max_abs_diff(read_png(dir_ / "t.png"), quantised(transposed)), 1e-6f);
}

TEST_F(PngTest, GreyIsReadBackAsRgb) {
  const at::Tensor grey = test_image(1, 6, 5);
  write_png(dir_ / "grey.png", grey);
  const at::Tensor back = read_png(dir_ / "grey.png");
  ASSERT_EQ(back.sizes(), at::IntArrayRef({3, 6, 5}));
  for (int c = 0; c < 3; ++c) EXPECT_LE(max_abs_diff(back[c], quantised(grey[0])), 1e-6f);
}

TEST_F(PngTest, RgbaDropsAlpha) {
  at::Tensor rgba = test_image(4, 3, 8);
  rgba[3].fill_(0.25f);  // translucent: colour must come back unchanged, not premultiplied
  write_png(dir_ / "rgba.png", rgba);
  const at::Tensor back = read_png(dir_ / "rgba.png");
  ASSERT_EQ(back.sizes(), at::IntArrayRef({3, 3, 8}));
  EXPECT_LE(max_abs_diff(back, quantised(rgba.slice(0, 0, 3))), 1e-6f);
}

TEST_F(PngTest, NanIsWrittenAsZero) {
  at::Tensor image = at::full({3, 2, 2}, 0.5f);
  image.index_put_({1, 1, 1}, std::numeric_limits<float>::quiet_NaN());
  write_png(dir_ / "nan.png", image);
  EXPECT_EQ(read_png(dir_ / "nan.png").index({1, 1, 1}).item<float>(), 0.0f);
}

TEST_F(PngTest, EncodeProducesPngSignature) {
  const std::string bytes = encode_png(at::zeros({3, 2, 2}));
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(PngTest, RejectsBadImagesWithoutWriting) {
  const fs::path path = dir_ / "bad.png";
  EXPECT_THAT(error_message([&] { write_png(path, at::zeros({2, 4, 4})); }),
              HasSubstr("shape [2,4,4]"));
  EXPECT_THAT(error_message([&] { write_png(path, at::zeros({3, 0, 4})); }),
              HasSubstr("shape [3,0,4]"));
  EXPECT_THAT(error_message([&] { write_png(path, at::zeros({2, 3, 4, 4})); }),
              HasSubstr("shape [2,3,4,4]"));
  EXPECT_THAT(error_message([&] { write_png(path, at::zeros({4, 4})); }), HasSubstr("shape [4,4]"));
  const std::string dtype_message =
      error_message([&] { write_png(path, at::zeros({3, 4, 4}, at::kByte)); });
  EXPECT_THAT(dtype_message, HasSubstr("bad.png"));
  EXPECT_THAT(dtype_message, HasSubstr("floating-point"));
  EXPECT_THROW(write_png(path, at::Tensor()), Error);
  EXPECT_EQ(files_in_dir(), 0u);
}

TEST_F(PngTest, ReadingANonPngNamesTheFile) {
  const fs::path path = dir_ / "not_a_png.png";
  write_file_atomic(path, "this is plain text, not an image");
  const std::string message = error_message([&] { read_png(path); });
  EXPECT_THAT(message, HasSubstr("not_a_png.png"));
  EXPECT_THAT(message, HasSubstr("PNG"));
  // A truncated PNG is rejected too.
  const std::string png = encode_png(test_image(3, 16, 16));
  write_file_atomic(path, png.substr(0, png.size() / 2));
  EXPECT_THAT(error_message([&] { read_png(path); }), HasSubstr("not_a_png.png"));
  // A missing file.
  EXPECT_THAT(error_message([&] { read_png(dir_ / "missing.png"); }), HasSubstr("missing.png"));
}

TEST_F(PngTest, WritingIntoMissingFolderFailsAndLeavesNoTempFile) {
  const fs::path path = dir_ / "no_such_folder" / "out.png";
  EXPECT_THAT(error_message([&] { write_png(path, at::zeros({3, 2, 2})); }),
              HasSubstr("out.png"));
  EXPECT_FALSE(fs::exists(dir_ / "no_such_folder"));
  EXPECT_EQ(files_in_dir(), 0u);
}

TEST_F(PngTest, OverwritingKeepsOnlyTheNewFile) {
  const fs::path path = dir_ / "img.png";
  write_png(path, at::zeros({3, 2, 2}));
  write_png(path, at::ones({3, 2, 2}));
  EXPECT_EQ(read_png(path).min().item<float>(), 1.0f);
  EXPECT_EQ(files_in_dir(), 1u);
}

TEST_F(PngTest, ImageGridPlacesTilesAtTheRightOffsets) {
  const std::int64_t h = 2, w = 3, padding = 1;
  std::vector<at::Tensor> images;
  for (int i = 0; i < 5; ++i) {
    images.push_back(at::arange(3 * h * w, at::kFloat).reshape({3, h, w}).add(100.0f * i));
  }
  const at::Tensor grid = image_grid(images, /*columns=*/2, padding, /*pad_value=*/-1.0f);
  // 3 rows x 2 columns of 2x3 tiles with 1-pixel borders.
  ASSERT_EQ(grid.sizes(), at::IntArrayRef({3, 3 * h + 4 * padding, 2 * w + 3 * padding}));
  at::Tensor covered = at::zeros({grid.size(1), grid.size(2)}, at::kBool);
  for (int i = 0; i < 5; ++i) {
    const std::int64_t y = padding + (i / 2) * (h + padding);
    const std::int64_t x = padding + (i % 2) * (w + padding);
    SCOPED_TRACE(i);
    EXPECT_TRUE(grid.slice(1, y, y + h).slice(2, x, x + w).equal(images[i]));
    covered.slice(0, y, y + h).slice(1, x, x + w).fill_(true);
  }
  // Everything else, including the empty sixth slot, is padding.
  const at::Tensor rest = grid.masked_select(covered.logical_not().expand_as(grid));
  EXPECT_EQ(rest.numel(), 3 * (grid.size(1) * grid.size(2) - 5 * h * w));
  EXPECT_TRUE(rest.eq(-1.0f).all().item<bool>());
  EXPECT_EQ(grid.index({0, 1, 1}).item<float>(), 0.0f);   // first pixel of tile 0
  EXPECT_EQ(grid.index({0, 4, 5}).item<float>(), 300.0f);  // first pixel of tile 3 (row 1, col 1)
}

TEST_F(PngTest, ImageGridEdgeCases) {
  const at::Tensor a = at::full({3, 4, 5}, 0.25f);
  // Fewer images than columns: the grid is only as wide as needed.
  const at::Tensor row = image_grid({a, a}, 8, 2);
  EXPECT_EQ(row.sizes(), at::IntArrayRef({3, 4 + 4, 2 * 5 + 6}));
  EXPECT_EQ(row.index({0, 0, 0}).item<float>(), 1.0f);
  // No padding: a plain concatenation.
  const at::Tensor b = at::full({3, 4, 5}, 0.75f);
  EXPECT_TRUE(image_grid({a, b}, 1, 0).equal(at::cat({a, b}, 1)));
  EXPECT_TRUE(image_grid({a, b}, 2, 0).equal(at::cat({a, b}, 2)));
  // Autograd inputs are fine and the result has no history.
  const at::Tensor g = at::zeros({3, 4, 5}).requires_grad_(true);
  EXPECT_FALSE(image_grid({g}, 1).requires_grad());
  EXPECT_THROW(image_grid({}, 2), Error);
  EXPECT_THROW(image_grid({a}, 0), Error);
  EXPECT_THROW(image_grid({a}, 1, -1), Error);
  EXPECT_THAT(error_message([&] { image_grid({a, at::zeros({3, 4, 6})}, 2); }),
              HasSubstr("image 1 has shape [3,4,6]"));
  EXPECT_THROW(image_grid({at::zeros({4, 5})}, 1), Error);
}

}  // namespace
}  // namespace dreamdpo::core
