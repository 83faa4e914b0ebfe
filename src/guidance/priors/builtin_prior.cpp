#include "guidance/priors/builtin_prior.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen/ATen.h on LibTorch 2.x)

#include <cstdlib>

#include "core/error.h"

namespace dreamdpo::guidance {

std::filesystem::path builtin_model_path(const std::string& file_name) {
  const char* folder = std::getenv("DREAMDPO_MODELS_DIR");
  const std::filesystem::path base =
      folder && *folder ? std::filesystem::path(folder) : std::filesystem::path(DREAMDPO_SOURCE_DIR) / "models/builtin";
  const auto path = base / file_name;
  check(std::filesystem::exists(path), "built-in model file ", path.string(),
        " not found (set DREAMDPO_MODELS_DIR to the folder holding it, or train it with dreamdpo train-builtin diffusion)");
  return path;
}

BuiltinPrior::BuiltinPrior(const std::filesystem::path& weights, at::Device device)
    : model_(models::load_mv_diffusion(weights, device)),
      schedule_(NoiseSchedule::make(model_.schedule)),
      device_(device) {}

PromptConditioning BuiltinPrior::encode_prompt(const std::string& prompt) {
  at::NoGradGuard no_grad;
  const auto ids = model_.tokenizer.encode({prompt, ""}).to(device_);
  const auto text = model_.unet->encode_text(ids);
  const auto packed = at::cat({text.tokens, text.mask.to(text.tokens.dtype()).unsqueeze(-1)}, -1);
  return {prompt, packed.slice(0, 0, 1), packed.slice(0, 1, 2)};
}

at::Tensor BuiltinPrior::decode(const at::Tensor& z) { return ((z.detach() + 1) / 2).clamp(0, 1); }

at::Tensor BuiltinPrior::predict_noise(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding,
                                       const std::optional<camera::CameraBatch>& cameras) {
  at::NoGradGuard no_grad;
  const int64_t n = z_t.size(0), views = views_per_sample();
  check(z_t.dim() == 4 && z_t.size(1) == 3 && z_t.size(2) == image_size() && z_t.size(3) == image_size(),
        "the built-in prior works on [N,3,", image_size(), ",", image_size(), "] images, got ", z_t.sizes(),
        " (set prior.image_size=", image_size(), " and render at that size)");
  check(n % views == 0, "the built-in prior denoises ", views, " views of an object together; the batch of ", n,
        " is not a multiple of ", views, " (set camera.n_view=", views, ")");
  check(cameras.has_value() && cameras->size() == n, "the built-in prior needs one camera per image (", n, ")");
  check(embedding.dim() == 3 && embedding.size(0) == n, "built-in prior: expected embedding [", n,
        ",L,D+1] from encode_prompt, got ", embedding.sizes());
  const auto rows = embedding.to(device_, at::kFloat);
  const int64_t d = rows.size(2) - 1;
  const models::TextEncoding text{rows.narrow(2, 0, d).contiguous(), rows.select(2, d) > 0.5};
  const auto eps = model_.unet->forward(z_t.detach().to(device_, at::kFloat), t.to(device_).to(at::kLong).reshape({n}),
                                        cameras->c2w.to(device_, at::kFloat), text);
  return eps.to(z_t.device(), z_t.scalar_type());
}

}  // namespace dreamdpo::guidance
