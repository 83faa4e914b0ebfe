// Options shared by the trainers of the built-in models (`dreamdpo train-builtin ...`).
#pragma once
#include <cstdint>
#include <string>

namespace dreamdpo::shapeworld {

struct TrainOptions {
  int64_t steps = 2000;      // optimiser steps
  int64_t batch = 64;        // scenes per step
  uint64_t seed = 0;         // 0 = the model's own default seed
  std::string device = "cpu";  // cpu | cuda
  std::string output;        // weights file (.safetensors) to write, or to evaluate with eval_only
  std::string init;          // if set: start from these weights (continue an earlier run)
  bool eval_only = false;    // evaluate `output` instead of training
  int64_t eval_scenes = 500; // held-out scenes of the final evaluation
  double time_limit_s = 0;   // > 0: the run ends (learning-rate schedule included) after this long
  int64_t render_threads = 0;  // > 0: render training scenes on this many CPU threads (for GPU training)
  bool relation_negatives_first = false;  // BatchOptions::relation_negatives_first for the training batches
};

}  // namespace dreamdpo::shapeworld
