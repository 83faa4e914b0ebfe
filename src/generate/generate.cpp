#include "generate/generate.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "camera/orbit.h"
#include "core/atomic_file.h"
#include "core/cuda_memory.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/metrics_table.h"
#include "core/png_io.h"
#include "core/progress.h"
#include "core/resize.h"
#include "core/rng.h"
#include "core/strings.h"
#include "export/gaussian_ply.h"
#include "generate/assets.h"
#include "generate/checkpoint.h"
#include "generate/components.h"
#include "generate/gaussian_views.h"
#include "generate/run_info.h"
#include "generate/step_report.h"
#include "scene/background.h"
#include "scene/gaussian_densifier.h"
#include "scene/gaussian_optimizer.h"
#include "scene/gaussians.h"

namespace dreamdpo::generate {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::vector<std::string> generate_metric_columns() {
  std::vector<std::string> columns = {"step", "loss"};
  for (const auto& c : guidance_metric_columns()) columns.push_back(c);
  for (const char* c : {"regulariser", "gaussians", "render_size", "step_ms"}) columns.push_back(c);
  return columns;
}

namespace {

// Regularisers of the representation and of its renders (`alpha` [V,1,H,W]), weighted; zero
// weights cost nothing.
at::Tensor regulariser_loss(const scene::GaussianCloud& cloud, const at::Tensor& alpha,
                            const RegularisersConfig& config) {
  auto loss = at::zeros({}, cloud.means().options().requires_grad(false));
  if (config.alpha_sparsity > 0) loss = loss + config.alpha_sparsity * alpha.mean();
  if (config.opacity_entropy > 0) {
    const auto o = cloud.opacities().clamp(1e-6, 1 - 1e-6);
    loss = loss + config.opacity_entropy * (-(o * o.log() + (1 - o) * (1 - o).log())).mean();
  }
  if (config.scale_anisotropy > 0) {
    const auto s = cloud.scales();
    const auto ratio = s.amax(1) / s.amin(1).clamp_min(1e-12);
    loss = loss + config.scale_anisotropy * at::relu(ratio - config.max_ratio).mean();
  }
  return loss;
}

class GenerateSession {
 public:
  GenerateSession(std::string prompt, GenerateConfig config, fs::path dir)
      : prompt_(std::move(prompt)),
        config_(std::move(config)),
        dir_(std::move(dir)),
        device_(resolve_device(config_.device)),
        stack_(make_guidance_stack(prompt_, config_.prior, config_.guidance, config_.ranker, device_, dir_)),
        rng_(static_cast<uint64_t>(config_.seed)),
        adam_(config_.lr),
        densifier_(config_.densify, config_.gaussians.radius),
        background_(config_.background, device_),
        metrics_(generate_metric_columns()) {
    config_.render.validate("render");
    config_.output.validate("output");
    config_.gaussians.validate("gaussians");
    const auto& init = config_.gaussians.init;
    if (init != "ball" && init != "shell") {
      // Coarse to fine: start from the Gaussians of an earlier run (or any 3DGS .ply). Read
      // here so a bad file fails before anything is written.
      initial_state_ = exporters::read_gaussian_ply(init);
      for (auto& [key, value] : initial_state_) value = value.to(device_);
    }
  }

  void start_fresh() {
    if (!initial_state_.empty()) {
      cloud_ = scene::GaussianCloud::from_state(initial_state_);
      initial_state_.clear();
      core::log_info("generate: starting from the ", cloud_.size(), " Gaussians of ", config_.gaussians.init);
    } else {
      cloud_ = scene::GaussianCloud(config_.gaussians, rng_, device_);
    }
    step_ = 0;
  }

  void restore(const Checkpoint& checkpoint) {
    cloud_ = scene::GaussianCloud::from_state(to_device(strip_prefix("gaussians", checkpoint.tensors)));
    adam_.load_state(strip_prefix("adam", checkpoint.tensors), cloud_);
    densifier_.load_state(checkpoint.tensors, cloud_.size(), device_);
    background_.load_state(checkpoint.tensors);
    check(checkpoint.tensors.count("rng.state"), "checkpoint lacks the RNG state");
    rng_.set_state(checkpoint.tensors.at("rng.state"));
    restore_metrics(checkpoint, metrics_);
    step_ = checkpoint.step;
    // Wall time of earlier invocations, for run.json's totals; a bad value only loses that.
    seconds_before_ = 0.0;
    if (const auto it = checkpoint.metadata.find("seconds"); it != checkpoint.metadata.end()) {
      seconds_before_ = std::strtod(it->second.c_str(), nullptr);
    }
    check(step_ <= config_.steps, "the checkpoint is at step ", step_, " but the run has only ", config_.steps,
          " steps; pass --steps ", step_, " or more");
  }

  GenerateResult run(std::optional<int64_t> stop_after) {
    const auto start = Clock::now();
    core::InterruptGuard interrupt_guard;
    write_run_json("running", {});
    core::log_info("generate: '", prompt_, "' with ", config_.guidance.method, " on the ", stack_.prior->name(),
                   " prior, ", cloud_.size(), " Gaussians, steps ", step_, "..", config_.steps, ", seed ", config_.seed,
                   " on ", config_.device, " -> ", dir_.string());
    core::Progress progress("generate", config_.steps - step_);
    const int64_t first = step_;
    bool interrupted = false;
    while (step_ < config_.steps) {
      const auto step_start = Clock::now();
      const auto stats = step_once();
      ++step_;
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - step_start).count();
      record_metrics(stats, ms);
      progress.update(step_ - first, step_status(stats.guidance) + " n " + std::to_string(cloud_.size()));
      if (config_.output.validate_every > 0 && step_ % config_.output.validate_every == 0) write_validation();
      const bool stop = core::interrupt_requested() || (stop_after && step_ >= *stop_after);
      if (stop || step_ == config_.steps ||
          (config_.output.checkpoint_every > 0 && step_ % config_.output.checkpoint_every == 0)) {
        save(start);
      }
      if (stop && step_ < config_.steps) {
        interrupted = true;
        break;
      }
    }
    progress.finish();
    GenerateResult result;
    result.output_dir = dir_;
    result.steps_done = step_;
    result.interrupted = interrupted;
    result.gaussians = cloud_.size();
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double total_seconds = seconds_before_ + result.seconds;
    if (interrupted) {
      write_run_json("interrupted", {{"steps_done", step_}});
      core::log_warn("generate: stopped at step ", step_, " of ", config_.steps, "; checkpoint saved. Continue with: ",
                     "dreamdpo generate --resume ", dir_.string());
      return result;
    }
    const auto fixed = export_cameras(config_, config_.output.validation_views);
    const auto views = render_cloud_images(cloud_, fixed, config_.render.validation_size, background_.fixed(1)[0]);
    nlohmann::json final_info = {{"gaussians", cloud_.size()}, {"steps_done", step_}};
    if (const auto nearest = nearest_template(*stack_.prior, views)) {
      result.nearest_caption = nearest->caption;
      result.nearest_rmse = nearest->rmse;
      final_info["nearest_template"] = nearest->caption;
      final_info["nearest_rmse"] = nearest->rmse;
    }
    if (stack_.ranker) {
      final_info["ranker_score"] = stack_.ranker->score(to_prior_size(views.to(device_)), prompt_).mean().item<double>();
    }
    AssetInputs inputs{prompt_, config_, cloud_, background_.fixed(1)[0].cpu(), metrics_};
    final_info["assets"] = write_assets(dir_, inputs);
    final_info["timings"] = {{"total_s", total_seconds}, {"per_step_ms", 1000 * total_seconds / step_}};
    std::string memory_note;
    if (const auto peak = core::cuda_memory_peak(device_)) {
      // Peak of this invocation (a resumed run counts only its own part).
      final_info["timings"]["cuda_peak_allocated_mib"] = peak->allocated_mib;
      final_info["timings"]["cuda_peak_reserved_mib"] = peak->reserved_mib;
      memory_note = "; peak GPU memory " + std::to_string(static_cast<int64_t>(peak->reserved_mib)) + " MiB";
    }
    write_run_json("finished", final_info);
    core::log_info("generate: done in ", core::Progress::format_duration(result.seconds), "; ", cloud_.size(),
                   " Gaussians", memory_note,
                   result.nearest_caption.empty() ? "" : "; closest template: '" + result.nearest_caption + "'");
    return result;
  }

 private:
  struct StepResult {
    guidance::StepStats guidance;
    double loss = 0, regulariser = 0;
    int64_t size = 0;
  };

  // One optimisation step: cameras -> render -> guidance gradient -> backward -> Adam ->
  // density control.
  StepResult step_once() {
    StepResult out;
    out.size = config_.render.size_at(step_);
    const auto sampled = camera::sample_orbit(config_.camera, rng_);
    const camera::CameraBatch cams{sampled.c2w.to(device_), sampled.fovy.to(device_)};
    const auto background = background_.training(cams.size(), rng_);
    auto rendered = render_cloud(cloud_, cams, out.size, background);
    rendered.means2d.retain_grad();
    const auto z = stack_.prior->encode(to_prior_size(rendered.rgb));
    const auto guided = stack_.guidance->compute(z, stack_.text, cams, {step_, config_.steps, &rng_});
    auto loss = guidance::surrogate_loss(z, guided.grad);
    const auto regulariser = regulariser_loss(cloud_, rendered.alpha, config_.regularisers);
    for (auto& p : cloud_.parameters()) p.mutable_grad() = at::Tensor();
    (loss.to(regulariser.device()) + regulariser).backward();
    if (rendered.means2d.grad().defined()) {
      densifier_.accumulate(rendered.means2d.grad(), rendered.visible, out.size);
    }
    adam_.step(cloud_, static_cast<double>(step_) / static_cast<double>(config_.steps));
    background_.step(config_.background_lr);
    if (densifier_.due(step_, config_.steps)) {
      const auto report = densifier_.densify_and_prune(cloud_, adam_, rng_);
      core::log_debug("step ", step_ + 1, ": cloned ", report.cloned, ", split ", report.split, ", pruned ",
                      report.pruned, " -> ", report.count, " Gaussians");
    }
    if (densifier_.opacity_reset_due(step_, config_.steps)) densifier_.reset_opacity(cloud_, adam_);
    out.guidance = guided.stats;
    out.loss = loss.item<double>();
    out.regulariser = regulariser.item<double>();
    return out;
  }

  // Renders at another resolution are resized (differentiably) to the prior's input size.
  at::Tensor to_prior_size(const at::Tensor& images) const {
    const int64_t size = config_.prior.image_size;
    if (images.size(2) == size && images.size(3) == size) return images;
    return core::resize_bilinear(images, size, size);
  }

  void record_metrics(const StepResult& s, double ms) {
    std::vector<double> row = {static_cast<double>(step_ - 1), s.loss};
    for (double value : guidance_metric_values(s.guidance)) row.push_back(value);
    row.insert(row.end(), {s.regulariser, static_cast<double>(cloud_.size()), static_cast<double>(s.size), ms});
    metrics_.add_row(row);
  }

  void write_validation() {
    const auto images = render_cloud_images(cloud_, export_cameras(config_, config_.output.validation_views),
                                            config_.render.validation_size, background_.fixed(1)[0]);
    std::vector<at::Tensor> tiles;
    for (int64_t v = 0; v < images.size(0); ++v) tiles.push_back(images[v]);
    char name[32];
    std::snprintf(name, sizeof name, "step_%06lld.png", static_cast<long long>(step_));
    std::error_code error;
    fs::create_directories(dir_ / "validation", error);
    core::write_png(dir_ / "validation" / name, core::image_grid(tiles, static_cast<int64_t>(tiles.size())));
  }

  void save(Clock::time_point start) {
    Checkpoint checkpoint;
    checkpoint.step = step_;
    checkpoint.tensors = with_prefix("gaussians", cloud_.state());
    for (auto& [key, value] : with_prefix("adam", adam_.state())) checkpoint.tensors[key] = value;
    for (auto& [key, value] : densifier_.state()) checkpoint.tensors[key] = value;
    for (auto& [key, value] : background_.state()) checkpoint.tensors[key] = value;
    checkpoint.tensors["rng.state"] = rng_.state();
    store_metrics(metrics_, checkpoint);
    checkpoint.metadata["prompt"] = prompt_;
    const double seconds = seconds_before_ + std::chrono::duration<double>(Clock::now() - start).count();
    checkpoint.metadata["seconds"] = std::to_string(seconds);
    try {
      save_checkpoint(dir_, checkpoint, config_.output.keep_checkpoints);
      metrics_.write_csv(dir_ / "metrics.csv");
    } catch (const Error& e) {
      // Nothing saved earlier is touched by a failed save (writes are atomic, old checkpoints
      // are removed only after a new one is complete).
      const auto saved = list_checkpoints(dir_);
      fail("could not save the checkpoint of step ", step_, ": ", e.what(), ". ",
           saved.empty() ? std::string("No checkpoint was saved before.")
                         : "The newest saved checkpoint is " + saved.back().string() +
                               "; free space and continue with dreamdpo generate --resume " + dir_.string());
    }
  }

  void write_run_json(const std::string& status, const nlohmann::json& final_info) const {
    nlohmann::json run = {
        {"command", "generate"},
        {"prompt", prompt_},
        {"status", status},
        {"config", core::config_to_json(config_)},
        {"build", build_and_machine_info()},
        {"final", final_info},
    };
    core::write_file_atomic(dir_ / "run.json", run.dump(2) + "\n");
  }

  std::map<std::string, at::Tensor> to_device(std::map<std::string, at::Tensor> tensors) const {
    for (auto& [key, value] : tensors) value = value.to(device_);
    return tensors;
  }

  std::string prompt_;
  GenerateConfig config_;
  fs::path dir_;
  at::Device device_;
  GuidanceStack stack_;
  core::Rng rng_;
  scene::GaussianCloud cloud_;
  scene::GaussianAdam adam_;
  scene::Densifier densifier_;
  scene::Background background_;
  core::MetricsTable metrics_;
  int64_t step_ = 0;
  double seconds_before_ = 0;
  std::map<std::string, at::Tensor> initial_state_;  // gaussians.init = a .ply file
};

}  // namespace

GenerateResult run_generate(const std::string& prompt, const GenerateConfig& config, const fs::path& output_dir,
                            std::optional<int64_t> stop_after) {
  // Validate everything a user controls before touching the output folder.
  GenerateSession session(prompt, config, output_dir);
  check(!fs::exists(output_dir / "run.json"), output_dir.string(),
        " already holds a run; continue it with `dreamdpo generate --resume ", output_dir.string(),
        "` or choose another folder with -o");
  core::ensure_writable_directory(output_dir);
  session.start_fresh();
  return session.run(stop_after);
}

RecordedRun read_recorded_run(const fs::path& run_dir) {
  const auto path = run_dir / "run.json";
  check(fs::exists(path), "no run to resume in ", run_dir.string(), " (", path.string(), " does not exist)");
  nlohmann::json run;
  try {
    run = nlohmann::json::parse(core::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path.string(), " is not valid JSON (", e.what(), ")");
  }
  check(run.is_object() && run.value("command", "") == "generate" && run.contains("prompt") &&
            run["prompt"].is_string() && run.contains("config") && run["config"].is_object(),
        path.string(), " is not the record of a generate run");
  RecordedRun out;
  out.prompt = run["prompt"].get<std::string>();
  // JSON is YAML, so the recorded config goes through the same reader as presets.
  core::read_config(core::parse_yaml(run["config"].dump(), path.string()), out.config);
  return out;
}

GenerateResult resume_generate(const fs::path& run_dir, std::optional<int64_t> steps, std::optional<int64_t> stop_after) {
  auto recorded = read_recorded_run(run_dir);
  if (steps) {
    check(*steps >= recorded.config.steps, "--steps ", *steps, " would shorten the run (it was started with ",
          recorded.config.steps, "); a run can only be extended");
    recorded.config.steps = *steps;
  }
  const auto checkpoint = load_latest_checkpoint(run_dir);
  GenerateSession session(recorded.prompt, recorded.config, run_dir);
  session.restore(checkpoint);
  core::log_info("generate: resuming ", run_dir.string(), " at step ", checkpoint.step);
  return session.run(stop_after);
}

nlohmann::json export_run(const fs::path& run_dir) {
  const auto recorded = read_recorded_run(run_dir);
  const auto checkpoint = load_latest_checkpoint(run_dir);
  const auto cloud = scene::GaussianCloud::from_state(strip_prefix("gaussians", checkpoint.tensors));
  core::MetricsTable metrics(generate_metric_columns());
  restore_metrics(checkpoint, metrics);
  const auto& colour = recorded.config.background.colour;
  at::Tensor background = at::tensor(std::vector<float>(colour.begin(), colour.end()));
  if (checkpoint.tensors.count("background.logits")) {
    background = at::sigmoid(checkpoint.tensors.at("background.logits").to(at::kFloat).view({3}));
  }
  core::log_info("export: ", run_dir.string(), " from its checkpoint at step ", checkpoint.step);
  return write_assets(run_dir, {recorded.prompt, recorded.config, cloud, background, metrics});
}

}  // namespace dreamdpo::generate
