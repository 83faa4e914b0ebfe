#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/metrics_table.h"
#include "core/progress.h"

namespace dreamdpo::core {
namespace {

TEST(MetricsTable, WritesCsvWithEmptyCellsForNaN) {
  MetricsTable table({"step", "loss", "gap"});
  table.add_row({0, 0.5, NAN});
  table.add_row({1, 0.25, 0.125});
  const auto path = std::filesystem::temp_directory_path() / "dreamdpo_metrics_test.csv";
  table.write_csv(path);
  EXPECT_EQ(read_file(path), "step,loss,gap\n0,0.5,\n1,0.25,0.125\n");
  EXPECT_EQ(table.column("loss"), (std::vector<double>{0.5, 0.25}));
  EXPECT_THROW(table.column("nope"), Error);
  EXPECT_THROW(table.add_row({1, 2}), Error);
  std::filesystem::remove(path);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(42.2), "42s");
  EXPECT_EQ(Progress::format_duration(185), "3m05s");
  EXPECT_EQ(Progress::format_duration(3720), "1h02m");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

TEST(AtomicFile, FailedWriteLeavesTheOldFileAndNoTemporary) {
  const auto dir = std::filesystem::temp_directory_path() / "dreamdpo_atomic_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "file.txt";
  write_file_atomic(path, "first");
  {
    AtomicFile file(path);
    file.stream() << "second, never committed";
  }  // destroyed without commit
  EXPECT_EQ(read_file(path), "first");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
  EXPECT_THROW(write_file_atomic(dir / "missing" / "x.txt", "y"), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dreamdpo::core
