#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include "core/error.h"

namespace dreamdpo::core {
namespace fs = std::filesystem;

namespace {

fs::path temp_path_for(const fs::path& path) {
  return fs::path(path.string() + ".tmp." + std::to_string(::getpid()));
}

// fsync so that the rename never exposes an empty file after a power loss.
void sync_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void rename_into_place(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    fs::remove(from, ec);
    fail("cannot write ", to, ": ", ec.message());
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  AtomicFile file(path);
  file.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.commit();
}

AtomicFile::AtomicFile(fs::path path) : path_(std::move(path)), temp_path_(temp_path_for(path_)) {
  out_.open(temp_path_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    fail("cannot write ", path_, ": ", std::strerror(errno),
         " (is the folder there and writable?)");
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

void AtomicFile::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok || out_.fail()) {
    std::error_code ec;
    fs::remove(temp_path_, ec);
    fail("cannot write ", path_, ": write failed (disk full or read-only?)");
  }
  sync_file(temp_path_);
  rename_into_place(temp_path_, path_);
  committed_ = true;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read ", path, ": ", std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("cannot read ", path, ": read error");
  return bytes;
}

void ensure_writable_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create output folder ", dir, ": ", ec.message());
  if (!fs::is_directory(dir)) fail("output path ", dir, " exists and is not a folder");
  const fs::path probe = dir / (".write_probe." + std::to_string(::getpid()));
  {
    std::ofstream out(probe);
    if (!out) fail("output folder ", dir, " is not writable: ", std::strerror(errno));
  }
  fs::remove(probe, ec);
}

}  // namespace dreamdpo::core
