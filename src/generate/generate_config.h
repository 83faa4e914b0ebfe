// Configuration of `dreamdpo generate`: text -> 3D Gaussians. Every key is documented here and
// in `dreamdpo generate --help-config`; unknown keys are an error.
#pragma once
#include <string>
#include <vector>

#include "camera/orbit.h"
#include "core/config.h"
#include "generate/prior_config.h"
#include "guidance/guidance_config.h"
#include "rank/ranker_config.h"
#include "scene/background.h"
#include "scene/gaussian_densifier.h"
#include "scene/gaussian_optimizer.h"
#include "scene/gaussians.h"

namespace dreamdpo::generate {

// Render resolution over the run: sizes[k] from step milestones[k-1] on.
struct RenderScheduleConfig {
  std::vector<int64_t> sizes = {32};
  std::vector<int64_t> milestones = {};
  int64_t validation_size = 64;  // validation renders, views.png and the turntable

  template <class V>
  void visit(V& v) {
    v("sizes", sizes, "render side lengths, one per phase of the run");
    v("milestones", milestones, "steps at which the next size starts (one fewer than sizes)");
    v("validation_size", validation_size, "side of validation renders and exported images");
  }
  void validate(const std::string& path) const;
  int64_t size_at(int64_t step) const;
};

struct RegularisersConfig {
  double opacity_entropy = 0.0;   // pushes opacities to 0 or 1 (crisper surfaces, cleaner meshes)
  double scale_anisotropy = 0.0;  // penalises max/min scale ratios above max_ratio (no needles)
  double max_ratio = 10.0;
  // Mean rendered alpha (threestudio's sparsity loss). Gaussians the guidance cannot see get no
  // gradient from it, e.g. background-coloured floaters, which are invisible over a solid
  // background yet show in the exported asset; this term lets them fade and be pruned.
  double alpha_sparsity = 0.0;

  template <class V>
  void visit(V& v) {
    v("opacity_entropy", opacity_entropy, "weight of the binary-entropy penalty on opacities");
    v("alpha_sparsity", alpha_sparsity, "weight of the mean rendered alpha (fades floaters the prior cannot see)");
    v("scale_anisotropy", scale_anisotropy, "weight of the penalty on elongated Gaussians");
    v("max_ratio", max_ratio, "largest max/min scale ratio that is not penalised");
  }
  void validate(const std::string& path) const {
    check(opacity_entropy >= 0 && scale_anisotropy >= 0 && alpha_sparsity >= 0, path,
          ": regulariser weights must be >= 0");
    check(max_ratio >= 1, core::key_path(path, "max_ratio"), " must be >= 1");
  }
};

struct OutputConfig {
  int64_t checkpoint_every = 200;  // 0 = only at the end and on Ctrl-C
  int64_t keep_checkpoints = 2;
  int64_t validate_every = 100;    // 0 = never
  int64_t validation_views = 4;
  int64_t turntable_frames = 36;
  int64_t turntable_fps = 12;
  int64_t mesh_resolution = 96;    // marching-cubes grid side
  double mesh_level = 0.5;         // density iso level
  double mesh_min_component = 0.05;  // drop pieces smaller than this fraction of the largest
  bool mesh = true;

  template <class V>
  void visit(V& v) {
    v("checkpoint_every", checkpoint_every, "steps between checkpoints; 0 = only at the end and on Ctrl-C");
    v("keep_checkpoints", keep_checkpoints, "how many recent checkpoints to keep (>= 1)");
    v("validate_every", validate_every, "steps between validation renders; 0 = never");
    v("validation_views", validation_views, "views in each validation render and in views.png");
    v("turntable_frames", turntable_frames, "frames of the turntable animation");
    v("turntable_fps", turntable_fps, "frames per second of the turntable");
    v("mesh_resolution", mesh_resolution, "side of the density grid for the mesh");
    v("mesh_level", mesh_level, "density level of the mesh surface");
    v("mesh_min_component", mesh_min_component, "drop mesh pieces with fewer faces than this fraction of the largest");
    v("mesh", mesh, "export mesh.glb and mesh.obj");
  }
  void validate(const std::string& path) const;
};

struct GenerateConfig {
  int64_t seed = 0;
  int64_t steps = 600;
  std::string device = "cpu";
  camera::OrbitSamplerConfig camera;
  RenderScheduleConfig render;
  scene::GaussiansConfig gaussians;
  scene::GaussianLearningRates lr;
  double background_lr = 0.01;
  scene::DensifyConfig densify;
  scene::BackgroundConfig background;
  RegularisersConfig regularisers;
  PriorConfig prior;
  guidance::GuidanceConfig guidance;
  rank::RankerConfig ranker;
  OutputConfig output;

  template <class V>
  void visit(V& v) {
    v("seed", seed, "random seed");
    v("steps", steps, "optimisation steps");
    v("device", device, "cpu | cuda");
    v("camera", camera);
    v("render", render);
    v("gaussians", gaussians);
    v("lr", lr);
    v("background_lr", background_lr, "Adam learning rate of a learned background");
    v("densify", densify);
    v("background", background);
    v("regularisers", regularisers);
    v("prior", prior);
    v("guidance", guidance);
    v("ranker", ranker);
    v("output", output);
  }
  void validate(const std::string& path) const {
    check(steps >= 1, core::key_path(path, "steps"), " must be >= 1, got ", steps);
    check(device == "cpu" || device == "cuda", core::key_path(path, "device"), " must be 'cpu' or 'cuda', got '",
          device, "'");
    check(background_lr > 0, core::key_path(path, "background_lr"), " must be > 0");
  }
};

}  // namespace dreamdpo::generate
