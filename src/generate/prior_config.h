// Which diffusion prior a run uses and at what resolution; shared by every optimisation loop.
#pragma once
#include <string>

#include "core/config.h"

namespace dreamdpo::generate {

struct PriorConfig {
  std::string name = "exact";  // exact: the closed-form Gaussian-mixture template world
  int64_t image_size = 32;
  double sigma = 0.05;         // exact prior: spread of each template component
  std::string schedule = "scaled_linear";
  // Real checkpoints (mvdream, sd21): an ldm single file or a diffusers pipeline folder, the
  // CLIP BPE tokenizer (open_clip's .txt.gz or a folder with vocab.json + merges.txt; a pipeline
  // folder's tokenizer/ is used when this is empty), the weight/activation dtype, the negative
  // prompt (the unconditional branch of CFG), and an optional JSON file overriding the preset's
  // architecture (guidance/priors/stable_diffusion_prior.h says which fields).
  std::string checkpoint;
  std::string tokenizer;
  std::string dtype = "auto";  // auto: fp16 on CUDA, fp32 on CPU
  std::string negative_prompt;
  std::string architecture;

  template <class V>
  void visit(V& v) {
    v("name", name, "diffusion prior");
    v("image_size", image_size, "side of the images the prior works at");
    v("sigma", sigma, "exact prior: standard deviation of each component");
    v("schedule", schedule, "noise schedule: scaled_linear | linear | cosine");
    v("checkpoint", checkpoint, "mvdream / sd21: ldm single file (.pt/.ckpt/.safetensors) or diffusers pipeline folder");
    v("tokenizer", tokenizer, "mvdream / sd21: bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + merges.txt");
    v("dtype", dtype, "mvdream / sd21: auto | fp32 | fp16 | bf16 (auto: fp16 on CUDA, fp32 on CPU)");
    v("negative_prompt", negative_prompt, "mvdream / sd21: text of the unconditional CFG branch");
    v("architecture", architecture, "mvdream / sd21: JSON file overriding the preset's network sizes (tests)");
  }
  void validate(const std::string& path) const {
    check(image_size >= 4 && image_size <= 1024, core::key_path(path, "image_size"),
          " must lie in [4, 1024], got ", image_size);
    check(sigma >= 0, core::key_path(path, "sigma"), " must be >= 0");
    check(dtype == "auto" || dtype == "fp32" || dtype == "fp16" || dtype == "bf16", core::key_path(path, "dtype"),
          " must be auto, fp32, fp16 or bf16, got '", dtype, "'");
  }
};

}  // namespace dreamdpo::generate
