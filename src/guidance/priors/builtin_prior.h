// The built-in prior: the project's own multi-view diffusion model (models/builtin/
// diffusion.safetensors), pixel space, n_view camera-conditioned views denoised jointly.
#pragma once
#include <filesystem>

#include "guidance/prior.h"
#include "models/builtin/mv_unet.h"

namespace dreamdpo::guidance {

class BuiltinPrior : public Prior {
 public:
  BuiltinPrior(const std::filesystem::path& weights, at::Device device);

  std::string name() const override { return "builtin"; }
  const NoiseSchedule& schedule() const override { return schedule_; }
  // cond/uncond: [1, L, D+1]: the encoded caption tokens with the key mask as the last
  // channel (1 = real token), so rows stack and expand like any embedding. Words outside the
  // vocabulary are an error that lists the vocabulary.
  PromptConditioning encode_prompt(const std::string& prompt) override;
  at::Tensor encode(const at::Tensor& images) override { return images * 2 - 1; }
  at::Tensor decode(const at::Tensor& z) override;
  // z_t [N,3,S,S] with N a multiple of views_per_sample() (consecutive groups are one object),
  // cameras with N entries (required).
  at::Tensor predict_noise(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding,
                           const std::optional<camera::CameraBatch>& cameras) override;
  int64_t views_per_sample() const override { return model_.unet->config.n_view; }
  int64_t image_size() const { return model_.unet->config.image_size; }
  const models::MvDiffusionModel& model() const { return model_; }

 private:
  models::MvDiffusionModel model_;
  NoiseSchedule schedule_;
  at::Device device_;
};

// Where the shipped built-in models live: $DREAMDPO_MODELS_DIR if set, else models/builtin of
// the source tree the binary was built from.
std::filesystem::path builtin_model_path(const std::string& file_name);

}  // namespace dreamdpo::guidance
