// Files are written to a temporary sibling and renamed into place, so a reader (or a crash)
// never sees a half-written file.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace dreamdpo::core {

// Writes `bytes` to `path` atomically. Throws dreamdpo::Error naming the path on any failure
// (missing folder, read-only disk, disk full); the destination is then untouched.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// For streamed writes: write into stream(), then commit(). Destroying an uncommitted
// AtomicFile removes the temporary file and leaves the destination untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ostream& stream() { return out_; }
  void commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  std::ofstream out_;
  bool committed_ = false;
};

// Reads a whole file; a clear error if it cannot be opened or read.
std::string read_file(const std::filesystem::path& path);

// Creates `dir` (and parents) and checks that a file can be written inside it, so a run fails
// before doing work rather than after.
void ensure_writable_directory(const std::filesystem::path& dir);

}  // namespace dreamdpo::core
