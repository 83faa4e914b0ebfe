// Configuration of `dreamdpo toy2d`: the paper's 2D experiment (an image optimised directly).
#pragma once
#include <string>

#include "core/config.h"
#include "generate/prior_config.h"
#include "guidance/guidance_config.h"
#include "rank/ranker_config.h"

namespace dreamdpo::generate {

struct Toy2dConfig {
  int64_t seed = 0;
  int64_t steps = 300;
  int64_t views = 1;           // images optimised side by side (one pair per image)
  double lr = 0.02;            // Adam learning rate on the pixels
  std::string init = "grey-noise";
  int64_t snapshots = 8;       // images in the snapshot strip
  std::string device = "cpu";
  PriorConfig prior;
  guidance::GuidanceConfig guidance;
  rank::RankerConfig ranker;

  template <class V>
  void visit(V& v) {
    v("seed", seed, "random seed");
    v("steps", steps, "optimisation steps");
    v("views", views, "images optimised in parallel");
    v("lr", lr, "Adam learning rate");
    v("init", init, "grey | noise | grey-noise");
    v("snapshots", snapshots, "images in snapshots.png");
    v("device", device, "cpu | cuda");
    v("prior", prior);
    v("guidance", guidance);
    v("ranker", ranker);
  }
  void validate(const std::string& path) const {
    check(steps >= 1, core::key_path(path, "steps"), " must be >= 1, got ", steps);
    check(views >= 1 && views <= 64, core::key_path(path, "views"), " must lie in [1, 64]");
    check(lr > 0, core::key_path(path, "lr"), " must be > 0");
    check(snapshots >= 1, core::key_path(path, "snapshots"), " must be >= 1");
    check(device == "cpu" || device == "cuda", core::key_path(path, "device"),
          " must be 'cpu' or 'cuda', got '", device, "'");
  }
};

}  // namespace dreamdpo::generate
