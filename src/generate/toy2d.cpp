#include "generate/toy2d.h"

#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics_table.h"
#include "core/png_io.h"
#include "core/progress.h"
#include "core/rng.h"
#include "generate/components.h"
#include "generate/run_info.h"
#include "generate/step_report.h"
#include "guidance/guidance.h"
#include "guidance/pairwise_preference.h"
#include "guidance/priors/gaussian_mixture_prior.h"
#include "scene/image_representation.h"

namespace dreamdpo::generate {
namespace fs = std::filesystem;

Toy2dResult run_toy2d(const std::string& prompt, const Toy2dConfig& config, const fs::path& output_dir) {
  const auto wall_start = std::chrono::steady_clock::now();
  const at::Device device = resolve_device(config.device);
  // Everything that can fail on user input fails here, before any output is written.
  auto stack = make_guidance_stack(prompt, config.prior, config.guidance, config.ranker, device);
  auto& prior = stack.prior;
  auto& ranker = stack.ranker;
  const auto& text = stack.text;
  core::ensure_writable_directory(output_dir);

  core::Rng rng(static_cast<uint64_t>(config.seed));
  scene::ImageRepresentation image(config.views, config.prior.image_size, config.init, rng, device);
  torch::optim::Adam optimizer({image.parameters()}, torch::optim::AdamOptions(config.lr));

  std::vector<std::string> columns = {"step", "loss"};
  for (const auto& c : guidance_metric_columns()) columns.push_back(c);
  core::MetricsTable metrics(columns);
  std::vector<int64_t> snapshot_steps;
  for (int64_t i = 0; i < config.snapshots; ++i) {
    snapshot_steps.push_back(config.snapshots == 1 ? config.steps
                                                   : i * config.steps / (config.snapshots - 1));
  }
  std::vector<at::Tensor> snapshots;  // each [V,3,S,S]
  auto take_snapshot = [&](int64_t step) {
    if (std::find(snapshot_steps.begin(), snapshot_steps.end(), step) != snapshot_steps.end()) {
      snapshots.push_back(image.render().detach().cpu().clone());
    }
  };

  core::log_info("toy2d: '", prompt, "' with ", config.guidance.method, " on the ", prior->name(),
                 " prior, ", config.steps, " steps, seed ", config.seed, " -> ", output_dir.string());
  core::Progress progress("toy2d", config.steps);
  take_snapshot(0);
  for (int64_t step = 0; step < config.steps; ++step) {
    const auto z = prior->encode(image.render());
    const auto result = stack.guidance->compute(z, text, std::nullopt, {step, config.steps, &rng});
    optimizer.zero_grad();
    const auto loss = guidance::surrogate_loss(z, result.grad);
    loss.backward();
    optimizer.step();
    image.project();
    take_snapshot(step + 1);

    std::vector<double> row = {static_cast<double>(step), loss.item<double>()};
    for (double value : guidance_metric_values(result.stats)) row.push_back(value);
    metrics.add_row(row);
    progress.update(step + 1, step_status(result.stats));
  }
  progress.finish();

  Toy2dResult result;
  result.output_dir = output_dir;
  const auto final_images = image.render().detach();
  if (const auto nearest = nearest_template(*prior, final_images)) {
    result.nearest_caption = nearest->caption;
    result.nearest_rmse = nearest->rmse;
  }
  if (ranker) result.final_score = ranker->score(final_images, prompt).mean().item<double>();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  // Snapshot strip: one row per view, one column per snapshot.
  std::vector<at::Tensor> tiles;
  for (int64_t v = 0; v < config.views; ++v) {
    for (const auto& snapshot : snapshots) tiles.push_back(snapshot[v]);
  }
  std::vector<at::Tensor> finals;
  for (int64_t v = 0; v < config.views; ++v) finals.push_back(final_images[v].cpu());
  core::write_png(output_dir / "final.png", core::image_grid(finals, std::min<int64_t>(config.views, 8)));
  core::write_png(output_dir / "snapshots.png", core::image_grid(tiles, static_cast<int64_t>(snapshots.size())));
  metrics.write_csv(output_dir / "metrics.csv");

  nlohmann::json run = {
      {"command", "toy2d"},
      {"prompt", prompt},
      {"status", "finished"},
      {"config", core::config_to_json(config)},
      {"build", build_and_machine_info()},
      {"timings", {{"total_s", result.seconds}, {"per_step_ms", 1000 * result.seconds / config.steps}}},
      {"final",
       {{"nearest_component", result.nearest_caption},
        {"nearest_rmse", result.nearest_rmse},
        {"ranker_score", ranker ? nlohmann::json(result.final_score) : nlohmann::json(nullptr)},
        {"snapshot_steps", snapshot_steps}}},
  };
  core::write_file_atomic(output_dir / "run.json", run.dump(2) + "\n");
  core::log_info("toy2d: done in ", core::Progress::format_duration(result.seconds),
                 result.nearest_caption.empty() ? "" : "; closest template: '" + result.nearest_caption + "'");
  return result;
}

}  // namespace dreamdpo::generate
