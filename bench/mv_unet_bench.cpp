// CPU cost of one call of the built-in diffusion UNet as `dreamdpo generate` makes it each
// step: 4 views x 2 pair members x 2 (CFG halves) = 16 images of 32x32. Results: mv_unet_cpu.md.
#include <ATen/core/grad_mode.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "camera/orbit.h"
#include "models/builtin/mv_unet.h"

namespace {

void BM_MvUnetGenerateStep(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  at::manual_seed(0);
  dreamdpo::models::MvUnetConfig config;
  config.vocabulary_size = 40;
  config.max_length = 24;
  config.base_channels = state.range(1);
  config.attention_from_level = state.range(2);
  dreamdpo::models::MvUnet unet(config);
  unet->eval();
  at::NoGradGuard no_grad;
  const auto x = at::randn({16, 3, 32, 32});
  const auto t = at::full({16}, 500, at::kLong);
  const auto c2w = dreamdpo::camera::fixed_orbit(4, 15, 2.75, 45).c2w.repeat({4, 1, 1});
  auto ids = at::zeros({16, 24}, at::kLong);
  ids.slice(1, 0, 8).fill_(3);
  const auto text = unet->encode_text(ids);
  for (auto _ : state) benchmark::DoNotOptimize(unet->forward(x, t, c2w, text));
  state.counters["params"] = static_cast<double>(unet->parameter_count());
}
// Args: threads, base channels, first level with cross-view attention.
BENCHMARK(BM_MvUnetGenerateStep)->Args({1, 32, 2})->Args({2, 32, 2})->Args({1, 32, 1})->Args({1, 64, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
