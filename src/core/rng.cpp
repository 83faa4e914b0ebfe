#include "core/rng.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"

namespace dreamdpo::core {

Rng::Rng(uint64_t seed) : generator_(at::detail::createCPUGenerator(seed)) {}

at::Tensor Rng::normal(at::IntArrayRef sizes, const at::TensorOptions& options) {
  return at::randn(sizes, generator_, options.device(at::kCPU)).to(options.device());
}

at::Tensor Rng::uniform(at::IntArrayRef sizes, const at::TensorOptions& options) {
  return at::rand(sizes, generator_, options.device(at::kCPU)).to(options.device());
}

int64_t Rng::integer(int64_t low, int64_t high) {
  check(low <= high, "Rng::integer: empty range [", low, ", ", high, "]");
  return at::randint(low, high + 1, {1}, generator_, at::kLong).item<int64_t>();
}

double Rng::uniform01() {
  return at::rand({1}, generator_, at::kDouble).item<double>();
}

at::Tensor Rng::state() const { return generator_.get_state(); }

void Rng::set_state(const at::Tensor& state) { generator_.set_state(state); }

}  // namespace dreamdpo::core
