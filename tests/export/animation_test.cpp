#include "export/animation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/png_io.h"
#include "test_helpers.h"

namespace dreamdpo::exporters {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_helpers::error_of;

class AnimationTest : public testing_helpers::TempDirTest {};

// Frames on the 8-bit grid, each different, so the PNG round trip is exact.
at::Tensor test_frames(int64_t count, int64_t height, int64_t width) {
  const auto n = count * 3 * height * width;
  return at::arange(n, at::kFloat).mul(37).remainder(256).div(255).view({count, 3, height, width});
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

// Bit-by-bit CRC-32, independent of the table-driven one under test.
uint32_t reference_crc(const std::string& bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

struct Chunk {
  std::string type, data;
};

std::vector<Chunk> chunks_of(const std::string& png) {
  std::vector<Chunk> out;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n"));
  for (size_t at = 8; at < png.size();) {
    EXPECT_LE(at + 12, png.size());
    const uint32_t length = be32(png, at);
    const std::string body = png.substr(at + 4, 4 + length);
    EXPECT_EQ(be32(png, at + 8 + length), reference_crc(body)) << "CRC of " << body.substr(0, 4);
    out.push_back({body.substr(0, 4), body.substr(4)});
    at += 12 + length;
  }
  return out;
}

TEST(PngCrcTest, MatchesKnownValues) {
  EXPECT_EQ(png_crc32("IEND"), 0xAE426082u);  // the CRC every PNG ends with
  EXPECT_EQ(png_crc32("123456789"), 0xCBF43926u);
}

TEST_F(AnimationTest, ApngChunksSequenceNumbersAndCrcsAreValid) {
  const auto frames = test_frames(4, 5, 7);
  const auto path = write_turntable(dir_ / "turntable", frames, 12, TurntableFormat::kApng);
  EXPECT_EQ(path, dir_ / "turntable.png");
  const auto chunks = chunks_of(core::read_file(path));
  std::vector<std::string> types;
  for (const auto& c : chunks) {
    if (types.empty() || types.back() != c.type || c.type != "IDAT") types.push_back(c.type);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "acTL", "fcTL", "IDAT", "fcTL", "fdAT", "fcTL", "fdAT", "fcTL",
                                             "fdAT", "IEND"}));
  ASSERT_EQ(chunks[1].type, "acTL");
  EXPECT_EQ(be32(chunks[1].data, 0), 4u);  // frames
  EXPECT_EQ(be32(chunks[1].data, 4), 0u);  // loop forever
  uint32_t expected_sequence = 0;
  for (const auto& c : chunks) {
    if (c.type == "fcTL") {
      ASSERT_EQ(c.data.size(), 26u);
      EXPECT_EQ(be32(c.data, 0), expected_sequence++);
      EXPECT_EQ(be32(c.data, 4), 7u);   // width
      EXPECT_EQ(be32(c.data, 8), 5u);   // height
      EXPECT_EQ(be32(c.data, 12), 0u);  // x offset
      EXPECT_EQ(be32(c.data, 16), 0u);  // y offset
      EXPECT_EQ((uint8_t(c.data[20]) << 8) | uint8_t(c.data[21]), 1);   // delay numerator
      EXPECT_EQ((uint8_t(c.data[22]) << 8) | uint8_t(c.data[23]), 12);  // delay denominator
    } else if (c.type == "fdAT") {
      EXPECT_EQ(be32(c.data, 0), expected_sequence++);
    }
  }
  EXPECT_EQ(expected_sequence, 7u);  // 4 fcTL + 3 fdAT
}

// An APNG is a PNG showing frame 0; each fdAT, repackaged as a plain PNG's IDAT, is its frame.
TEST_F(AnimationTest, EveryFrameDecodesBack) {
  const auto frames = test_frames(3, 6, 4);
  const std::string apng = encode_apng(frames, 24);
  const auto path = dir_ / "a.png";
  core::write_file_atomic(path, apng);
  EXPECT_TRUE(at::allclose(core::read_png(path), frames[0], 0, 1e-6));

  const auto chunks = chunks_of(apng);
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string out;
    for (int shift = 24; shift >= 0; shift -= 8) out += char((data.size() >> shift) & 0xFF);
    const uint32_t crc = reference_crc(type + data);
    out += type + data;
    for (int shift = 24; shift >= 0; shift -= 8) out += char((crc >> shift) & 0xFF);
    return out;
  };
  int64_t frame = 1;
  for (const auto& c : chunks) {
    if (c.type != "fdAT") continue;
    const std::string png = std::string("\x89PNG\r\n\x1a\n") + chunk("IHDR", chunks[0].data) +
                            chunk("IDAT", c.data.substr(4)) + chunk("IEND", "");
    const auto frame_path = dir_ / ("frame" + std::to_string(frame) + ".png");
    core::write_file_atomic(frame_path, png);
    EXPECT_TRUE(at::allclose(core::read_png(frame_path), frames[frame], 0, 1e-6)) << "frame " << frame;
    ++frame;
  }
  EXPECT_EQ(frame, 3);
}

TEST_F(AnimationTest, AutoFormatWritesMp4WithFfmpegElseApng) {
  const auto frames = test_frames(3, 9, 11);  // odd sizes: padded for yuv420p
  const auto path = write_turntable(dir_ / "spin", frames, 10);
  const bool have_ffmpeg = std::system("command -v ffmpeg >/dev/null 2>&1") == 0;
  EXPECT_EQ(path, dir_ / (have_ffmpeg ? "spin.mp4" : "spin.png"));
  ASSERT_TRUE(fs::exists(path));
  if (have_ffmpeg) {
    EXPECT_EQ(core::read_file(path).substr(4, 4), "ftyp");  // an MP4 container
  } else {
    EXPECT_TRUE(at::allclose(core::read_png(path), frames[0], 0, 1e-6));
  }
  // Only the result is left: no temporary files.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// Fake ffmpeg programs on PATH test the pipe, the temporary name and the fallback without
// depending on a real ffmpeg.
class FakeFfmpegTest : public AnimationTest {
 protected:
  void install(const std::string& script) {
    const auto bin = dir_ / "bin";
    fs::create_directories(bin);
    core::write_file_atomic(bin / "ffmpeg", "#!/bin/sh\n" + script);
    fs::permissions(bin / "ffmpeg", fs::perms::owner_all);
    old_path_ = std::getenv("PATH") ? std::getenv("PATH") : "";
    setenv("PATH", (bin.string() + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    AnimationTest::TearDown();
  }
  std::string old_path_;
};

TEST_F(FakeFfmpegTest, PipesEvenSizedRgbFramesAndRenamesTheResult) {
  // Writes its arguments and the number of bytes it read into the output file (last argument).
  install("for last; do :; done\nn=$(wc -c)\nprintf '%s\\n%s\\n' \"$*\" \"$n\" > \"$last\"\n");
  const auto frames = test_frames(3, 9, 11);
  const auto path = write_turntable(dir_ / "spin", frames, 15);
  ASSERT_EQ(path, dir_ / "spin.mp4");
  const std::string record = core::read_file(path);
  EXPECT_THAT(record, HasSubstr("-f rawvideo -pix_fmt rgb24 -s 12x10 -r 15 -i - -c:v libx264 -pix_fmt yuv420p"));
  EXPECT_THAT(record, HasSubstr("spin.mp4.tmp."));  // written under a temporary name, then renamed
  EXPECT_THAT(record, HasSubstr("\n" + std::to_string(3 * 10 * 12 * 3) + "\n"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);  // bin/ and spin.mp4
}

TEST_F(FakeFfmpegTest, FailingFfmpegFallsBackToApng) {
  install("cat > /dev/null\nexit 1\n");
  const auto frames = test_frames(2, 4, 4);
  EXPECT_EQ(write_turntable(dir_ / "spin", frames, 10), dir_ / "spin.png");
  EXPECT_TRUE(at::allclose(core::read_png(dir_ / "spin.png"), frames[0], 0, 1e-6));
  EXPECT_FALSE(fs::exists(dir_ / "spin.mp4"));
}

// ffmpeg dying before reading its input must not kill us with SIGPIPE.
TEST_F(FakeFfmpegTest, FfmpegExitingEarlyFallsBackToApng) {
  install("exit 1\n");
  const auto frames = test_frames(4, 128, 128);  // far more than a pipe buffer
  EXPECT_EQ(write_turntable(dir_ / "spin", frames, 10), dir_ / "spin.png");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);  // bin/ and spin.png
}

TEST_F(AnimationTest, BadInputGivesClearErrors) {
  EXPECT_THAT(error_of([&] { write_turntable(dir_ / "x", at::zeros({2, 4, 4}), 10); }), HasSubstr("[F,3,H,W]"));
  EXPECT_THAT(error_of([&] { write_turntable(dir_ / "x", at::zeros({2, 3, 4, 4}), 0); }),
              HasSubstr("fps must lie in [1, 1000]"));
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace dreamdpo::exporters
