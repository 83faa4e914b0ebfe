#include "generate/run_info.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/version.h>
#include <unistd.h>

#include <thread>

namespace dreamdpo::generate {

nlohmann::json build_and_machine_info() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return {
      {"dreamdpo_version", DREAMDPO_VERSION},
      {"libtorch_version", TORCH_VERSION},
      {"cuda_available", at::hasCUDA()},
      {"intra_op_threads", at::get_num_threads()},
      {"hardware_threads", std::thread::hardware_concurrency()},
      {"host", host},
  };
}

}  // namespace dreamdpo::generate
