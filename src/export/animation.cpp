#include "export/animation.h"

#include <pthread.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/png_io.h"

namespace dreamdpo::exporters {
namespace fs = std::filesystem;

namespace {

const std::string kPngSignature = "\x89PNG\r\n\x1a\n";

void append_be32(std::string& out, uint32_t v) {
  const char bytes[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(bytes, 4);
}
void append_be16(std::string& out, uint16_t v) {
  const char bytes[2] = {char(v >> 8), char(v)};
  out.append(bytes, 2);
}
uint32_t read_be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

void append_chunk(std::string& out, const std::string& type, const std::string& data) {
  append_be32(out, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  out += body;
  append_be32(out, png_crc32(body));
}

struct EncodedFrame {
  std::string ihdr;        // IHDR payload
  std::string image_data;  // the zlib stream: all IDAT payloads joined
};

// Encodes a frame with core::encode_png and takes its chunks apart.
EncodedFrame encode_frame(const at::Tensor& frame) {
  const std::string png = core::encode_png(frame);
  EncodedFrame out;
  for (size_t at = kPngSignature.size(); at + 12 <= png.size();) {
    const uint32_t length = read_be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") out.ihdr = png.substr(at + 8, length);
    if (type == "IDAT") out.image_data += png.substr(at + 8, length);
    at += 12 + length;
  }
  check(out.ihdr.size() == 13 && !out.image_data.empty(), "APNG: the PNG encoder gave no IHDR or IDAT chunk");
  return out;
}

void check_frames(const at::Tensor& frames, int fps) {
  check(frames.defined() && frames.dim() == 4 && frames.size(0) >= 1 && frames.size(1) == 3 &&
            frames.size(2) >= 1 && frames.size(3) >= 1,
        "turntable: frames must be a [F,3,H,W] tensor with F, H, W >= 1, got ",
        frames.defined() ? frames.sizes() : at::IntArrayRef{});
  check(at::isFloatingType(frames.scalar_type()), "turntable: frames must be floating point in [0,1], got ",
        c10::toString(frames.scalar_type()));
  check(fps >= 1 && fps <= 1000, "turntable: fps must lie in [1, 1000], got ", fps);
  check(frames.size(0) < (int64_t{1} << 30), "turntable: too many frames (", frames.size(0), ")");
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Blocks SIGPIPE for this thread while ffmpeg's pipe is written, so that ffmpeg exiting early
// makes fwrite fail with EPIPE instead of killing the program; a pending SIGPIPE is consumed.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old_, SIGPIPE)) {
      const timespec zero = {0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

bool ffmpeg_available() { return std::system("command -v ffmpeg >/dev/null 2>&1") == 0; }

// Pipes rgb24 frames to ffmpeg; false (with a warning) when ffmpeg fails.
bool write_mp4(const fs::path& path, const at::Tensor& frames, int fps) {
  auto bytes = at::nan_to_num(frames.detach().to(at::kCPU, at::kFloat), 0.0, 1.0, 0.0)
                   .clamp(0.0, 1.0)
                   .mul(255.0)
                   .round()
                   .to(at::kByte);
  // Pad odd sizes by repeating the last row / column: yuv420p needs even sizes.
  if (bytes.size(2) % 2) bytes = at::cat({bytes, bytes.narrow(2, bytes.size(2) - 1, 1)}, 2);
  if (bytes.size(3) % 2) bytes = at::cat({bytes, bytes.narrow(3, bytes.size(3) - 1, 1)}, 3);
  const auto hwc = bytes.permute({0, 2, 3, 1}).contiguous();  // [F,H,W,3]
  const int64_t height = hwc.size(1), width = hwc.size(2);
  const fs::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  const std::string command = "ffmpeg -hide_banner -loglevel error -nostdin -y -f rawvideo -pix_fmt rgb24 -s " +
                              std::to_string(width) + "x" + std::to_string(height) + " -r " + std::to_string(fps) +
                              " -i - -c:v libx264 -pix_fmt yuv420p -f mp4 " + shell_quoted(temp.string());
  bool ok = false;
  {
    SigpipeBlock block;
    FILE* pipe = ::popen(command.c_str(), "w");
    if (pipe) {
      const size_t size = static_cast<size_t>(hwc.numel());
      const bool written = std::fwrite(hwc.data_ptr<uint8_t>(), 1, size, pipe) == size;
      const int status = ::pclose(pipe);
      ok = written && status == 0;
    }
  }
  std::error_code ec;
  if (ok) {
    fs::rename(temp, path, ec);
    ok = !ec;
  }
  if (!ok) {
    fs::remove(temp, ec);
    core::log_warn("turntable: ffmpeg could not write ", path, "; writing an animated PNG instead");
  }
  return ok;
}

}  // namespace

uint32_t png_crc32(const std::string& bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) c = table[(c ^ byte) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string encode_apng(const at::Tensor& frames, int fps) {
  check_frames(frames, fps);
  const auto count = static_cast<uint32_t>(frames.size(0));
  const auto cpu = frames.detach().to(at::kCPU);
  std::string out = kPngSignature;
  uint32_t sequence = 0;  // shared by fcTL and fdAT chunks, in file order
  for (uint32_t f = 0; f < count; ++f) {
    const auto frame = encode_frame(cpu[f]);
    if (f == 0) {
      append_chunk(out, "IHDR", frame.ihdr);
      std::string actl;
      append_be32(actl, count);
      append_be32(actl, 0);  // loop forever
      append_chunk(out, "acTL", actl);
    }
    std::string fctl;
    append_be32(fctl, sequence++);
    fctl += frame.ihdr.substr(0, 8);  // width, height (big-endian, as in IHDR)
    append_be32(fctl, 0);             // x offset
    append_be32(fctl, 0);             // y offset
    append_be16(fctl, 1);             // delay = 1 / fps seconds
    append_be16(fctl, static_cast<uint16_t>(fps));
    fctl += std::string("\0\0", 2);   // dispose: none; blend: source
    append_chunk(out, "fcTL", fctl);
    if (f == 0) {
      append_chunk(out, "IDAT", frame.image_data);
    } else {
      std::string fdat;
      append_be32(fdat, sequence++);
      append_chunk(out, "fdAT", fdat + frame.image_data);
    }
  }
  append_chunk(out, "IEND", "");
  return out;
}

fs::path write_turntable(const fs::path& stem, const at::Tensor& frames, int fps, TurntableFormat format) {
  check_frames(frames, fps);
  if (format == TurntableFormat::kAuto && ffmpeg_available()) {
    const fs::path mp4 = stem.string() + ".mp4";
    if (write_mp4(mp4, frames, fps)) return mp4;
  }
  const fs::path png = stem.string() + ".png";
  core::write_file_atomic(png, encode_apng(frames, fps));
  return png;
}

}  // namespace dreamdpo::exporters
