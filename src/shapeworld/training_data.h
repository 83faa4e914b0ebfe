// Training batches of ShapeWorld for the built-in models, drawn on the fly from a seed: specs,
// random-phrasing captions, orbit cameras, ground-truth renders, hard-negative captions (one
// aspect changed) and degraded copies of the renders (for "clean beats degraded" preferences).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "camera/orbit.h"
#include "core/rng.h"
#include "shapeworld/renderer.h"
#include "shapeworld/sampler.h"
#include "shapeworld/scene_spec.h"

namespace dreamdpo::shapeworld {

struct BatchOptions {
  int64_t scenes = 64;      // S
  int64_t views = 1;        // V per scene, evenly spaced in azimuth from a random start
  int64_t resolution = 32;  // R
  int negatives = 0;        // hard-negative captions per scene (0 = none)
  // Every relation negative of a scene (relation changed, or which group is on top swapped)
  // comes first among its negatives, instead of its share of a random draw. Swaps are rare in
  // a random draw, and a dual encoder does not learn order from them.
  bool relation_negatives_first = false;
  bool degraded = false;    // also make a degraded copy of every render
  // > 0: make the scenes (specs, captions, negatives, renders) on this many CPU threads and
  // move the renders to the device; 0: one by one, rendering on the device. Rendering one small
  // scene is launch-bound on a GPU, so CPU threads feed a GPU trainer faster.
  int64_t cpu_render_threads = 0;
  SamplerOptions sampler;
  camera::OrbitSamplerConfig orbit;  // its n_view is replaced by `views`
  RenderOptions render = default_render();

  // 2x2 supersampling: the renders are antialiased like the generator's soft splats.
  static RenderOptions default_render() {
    RenderOptions r;
    r.supersample = 2;
    return r;
  }
};

struct TrainingBatch {
  std::vector<SceneSpec> specs;       // [S], canonical
  std::vector<std::string> captions;  // [S], a random phrasing each
  // [S][negatives] random phrasings of hard negatives; a scene with fewer distinct negatives
  // than asked repeats them, so every row has the same length.
  std::vector<std::vector<std::string>> negative_captions;
  std::vector<std::vector<std::string>> negative_aspects;  // aspect_of(spec, negative) for each
  at::Tensor images;    // [S, V, 3, R, R] in [0, 1], on the device
  at::Tensor degraded;  // [S, V, 3, R, R] or undefined
  at::Tensor c2w;       // [S, V, 4, 4]
  at::Tensor fovy;      // [S, V]
};

// Deterministic given the Rng state; tensors are drawn on the CPU and rendered on `device`.
TrainingBatch make_batch(const BatchOptions& options, core::Rng& rng, at::Device device);

// Which aspect a one-aspect hard negative changes: "colour", "shape", "size", "count" or
// "relation" (the relation itself or which group is on top).
std::string aspect_of(const SceneSpec& spec, const SceneSpec& negative);
const std::vector<std::string>& aspects();

// Kinds of degradation, each with a random strength: a blur, additive noise, wrong lighting
// (darkened, washed out or tinted) or a colour jitter (channel gains and offsets).
enum class Degradation { blur, noise, lighting, jitter };
// images [N,3,H,W] in [0,1] -> degraded copies in [0,1], one random kind per image.
at::Tensor degrade(const at::Tensor& images, core::Rng& rng);
at::Tensor degrade(const at::Tensor& images, Degradation kind, double strength, core::Rng& rng);

}  // namespace dreamdpo::shapeworld
