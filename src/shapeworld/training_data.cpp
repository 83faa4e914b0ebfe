#include "shapeworld/training_data.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <thread>

#include "core/error.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"

namespace dreamdpo::shapeworld {

namespace {

bool matches_after(SceneSpec candidate, const SceneSpec& negative) {
  return candidate.problem().empty() && canonical(candidate) == negative;
}

// Separable gaussian of standard deviation `sigma` as a depthwise [3,1,k,k] kernel.
at::Tensor gaussian_kernel(double sigma, int64_t radius, const at::TensorOptions& options) {
  auto x = at::arange(-radius, radius + 1, options.dtype(at::kFloat)).to(options.dtype());
  auto g = at::exp(-(x * x) / (2 * sigma * sigma));
  g = g / g.sum();
  return at::outer(g, g).expand({3, 1, 2 * radius + 1, 2 * radius + 1}).contiguous();
}

}  // namespace

const std::vector<std::string>& aspects() {
  static const std::vector<std::string> names = {"colour", "shape", "size", "count", "relation"};
  return names;
}

std::string aspect_of(const SceneSpec& input, const SceneSpec& negative_input) {
  const SceneSpec spec = canonical(input);
  const SceneSpec negative = canonical(negative_input);
  // Try every one-field change of every group; whatever reproduces the negative names it.
  for (size_t gi = 0; gi < spec.groups.size(); ++gi) {
    auto reaches = [&](auto set) {
      SceneSpec c = spec;
      set(c.groups[gi]);
      return matches_after(c, negative);
    };
    for (Colour k : kColours)
      if (reaches([k](ObjectGroup& g) { g.colour = k; })) return "colour";
    for (Shape k : kShapes)
      if (reaches([k](ObjectGroup& g) { g.shape = k; })) return "shape";
    for (Size k : kSizes)
      if (reaches([k](ObjectGroup& g) { g.size = k; })) return "size";
    for (int k = 1; k <= kMaxObjects; ++k)
      if (reaches([k](ObjectGroup& g) { g.count = k; })) return "count";
  }
  return "relation";
}

TrainingBatch make_batch(const BatchOptions& options, core::Rng& rng, at::Device device) {
  check(options.scenes >= 1 && options.views >= 1, "a training batch needs at least one scene and one view");
  check(options.resolution >= 8, "training renders need a resolution of at least 8 pixels");
  check(options.negatives >= 0, "the number of hard negatives must be >= 0");
  TrainingBatch batch;
  auto orbit = options.orbit;
  orbit.n_view = options.views;
  // One seed per scene, drawn in order: each scene is then made from its own Rng, so worker
  // threads change the speed, never the batch.
  std::vector<uint64_t> seeds;
  for (int64_t s = 0; s < options.scenes; ++s) seeds.push_back(static_cast<uint64_t>(rng.integer(0, (1LL << 62))));
  const int64_t n = options.scenes;
  batch.specs.resize(n);
  batch.captions.resize(n);
  if (options.negatives > 0) {
    batch.negative_captions.resize(n);
    batch.negative_aspects.resize(n);
  }
  std::vector<camera::CameraBatch> cameras(n);
  std::vector<at::Tensor> images(n);
  const bool on_cpu = options.cpu_render_threads > 0;
  const at::Device render_device = on_cpu ? at::Device(at::kCPU) : device;
  auto make_scene = [&](int64_t s) {
    core::Rng scene_rng(seeds[s]);
    const SceneSpec spec = sample_spec(scene_rng, options.sampler);
    batch.specs[s] = spec;
    batch.captions[s] = write_caption(spec, scene_rng);
    if (options.negatives > 0) {
      // relation_negatives_first: draw every candidate (shuffled), then move the relation ones forward.
      auto negatives = hard_negatives(spec, scene_rng,
                                      options.relation_negatives_first ? std::numeric_limits<int>::max() : options.negatives);
      check(!negatives.empty(), "no hard negative exists for ", to_string(spec));
      if (options.relation_negatives_first) {
        std::stable_partition(negatives.begin(), negatives.end(),
                              [&](const SceneSpec& n) { return aspect_of(spec, n) == "relation"; });
        negatives.resize(std::min<size_t>(negatives.size(), static_cast<size_t>(options.negatives)));
      }
      for (int k = 0; k < options.negatives; ++k) {
        const auto& negative = negatives[k % negatives.size()];
        batch.negative_captions[s].push_back(write_caption(negative, scene_rng));
        batch.negative_aspects[s].push_back(aspect_of(spec, negative));
      }
    }
    const Scene scene = layout(spec, scene_rng);
    cameras[s] = camera::sample_orbit(orbit, scene_rng);
    camera::CameraBatch cams{cameras[s].c2w.to(render_device), cameras[s].fovy.to(render_device)};
    images[s] = render_scene(scene, cams, options.resolution, options.resolution, options.render).rgb;
  };
  const int64_t workers = std::min<int64_t>(std::max<int64_t>(1, options.cpu_render_threads), n);
  if (workers > 1) {
    // An error in a worker is carried to this thread and rethrown.
    std::vector<std::exception_ptr> errors(workers);
    std::vector<std::thread> threads;
    for (int64_t t = 0; t < workers; ++t) {
      threads.emplace_back([&, t] {
        try {
          for (int64_t s = t; s < n; s += workers) make_scene(s);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (auto& error : errors)
      if (error) std::rethrow_exception(error);
  } else {
    for (int64_t s = 0; s < n; ++s) make_scene(s);
  }
  std::vector<at::Tensor> c2w, fovy;
  for (auto& images_s : images) images_s = images_s.to(device);
  for (const auto& c : cameras) {
    c2w.push_back(c.c2w.to(device));
    fovy.push_back(c.fovy.to(device));
  }
  batch.images = at::stack(images);
  batch.c2w = at::stack(c2w);
  batch.fovy = at::stack(fovy);
  if (options.degraded) {
    const auto flat = batch.images.flatten(0, 1);
    batch.degraded = degrade(flat, rng).view(batch.images.sizes());
  }
  return batch;
}

at::Tensor degrade(const at::Tensor& images, Degradation kind, double strength, core::Rng& rng) {
  check(images.dim() == 4 && images.size(1) == 3, "degrade: expected images [N,3,H,W]");
  const auto opts = images.options();
  const int64_t n = images.size(0);
  switch (kind) {
    case Degradation::blur: {
      const double sigma = 0.7 + 1.3 * strength;
      const int64_t radius = 3;
      const auto padded = at::replication_pad2d(images, {radius, radius, radius, radius});
      const std::vector<int64_t> one = {1, 1}, zero = {0, 0};
      return at::conv2d(padded, gaussian_kernel(sigma, radius, opts), at::Tensor(), one, zero, one, 3);
    }
    case Degradation::noise: {
      const double std = 0.06 + 0.14 * strength;
      return (images + std * rng.normal({n, 3, images.size(2), images.size(3)}, opts)).clamp(0, 1);
    }
    case Degradation::lighting: {
      // Darkened, washed out or tinted light: the same affine map on all pixels of one image.
      const int64_t mode = rng.integer(0, 2);
      if (mode == 0) return images * (0.75 - 0.35 * strength);
      if (mode == 1) {
        const double b = 0.2 + 0.3 * strength;
        return images * (1 - b) + b;
      }
      auto gains = 1 - (0.25 + 0.35 * strength) * rng.uniform({n, 3, 1, 1}, opts);
      return images * gains;
    }
    case Degradation::jitter: {
      const double amount = 0.15 + 0.25 * strength;
      auto sign = rng.uniform({n, 3, 1, 1}, opts).gt(0.5).to(opts.dtype()) * 2 - 1;
      auto gains = 1 + amount * sign;
      auto offsets = (rng.uniform({n, 3, 1, 1}, opts) - 0.5) * 0.2;
      return (images * gains + offsets).clamp(0, 1);
    }
  }
  fail("degrade: unknown degradation");
}

at::Tensor degrade(const at::Tensor& images, core::Rng& rng) {
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < images.size(0); ++i) {
    const auto kind = static_cast<Degradation>(rng.integer(0, 3));
    const double strength = 0.3 + 0.7 * rng.uniform01();
    out.push_back(degrade(images.narrow(0, i, 1), kind, strength, rng));
  }
  return at::cat(out);
}

}  // namespace dreamdpo::shapeworld
