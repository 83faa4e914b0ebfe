#include <gtest/gtest.h>

#include <ATen/Parallel.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Tests run in parallel under ctest; one intra-op thread each keeps results deterministic.
  at::set_num_threads(1);
  return RUN_ALL_TESTS();
}
