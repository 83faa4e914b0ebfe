// Seeded randomness. All sampling draws from an explicit CPU generator and is moved to the
// target device afterwards, so a seed gives the same noise on every device.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace dreamdpo::core {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  at::Tensor normal(at::IntArrayRef sizes, const at::TensorOptions& options);
  at::Tensor uniform(at::IntArrayRef sizes, const at::TensorOptions& options);
  // Uniform integer in [low, high] (inclusive).
  int64_t integer(int64_t low, int64_t high);
  double uniform01();

  at::Generator& generator() { return generator_; }
  // Generator state, for bit-exact resume.
  at::Tensor state() const;
  void set_state(const at::Tensor& state);

 private:
  at::Generator generator_;
};

}  // namespace dreamdpo::core
