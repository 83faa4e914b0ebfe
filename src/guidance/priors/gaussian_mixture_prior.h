// An exact diffusion prior: the data (in z = 2x - 1) is a mixture of isotropic Gaussians
// around template images, so the posterior over components, E[z0 | z_t] and hence the noise
// prediction are computed in closed form. A real diffusion model of a known distribution:
// tests check the method's claims against it exactly.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "guidance/prior.h"

namespace dreamdpo::guidance {

struct MixtureComponent {
  std::string caption;  // e.g. "a red square"
  at::Tensor mean;      // [3,H,W] in [-1,1]
  double sigma = 0;     // isotropic standard deviation; 0 = a point mass
  double weight = 1;    // prior weight (> 0)
};

class GaussianMixturePrior : public Prior {
 public:
  explicit GaussianMixturePrior(std::vector<MixtureComponent> components,
                                NoiseSchedule schedule = NoiseSchedule::make("scaled_linear"));

  std::string name() const override { return "exact"; }
  const NoiseSchedule& schedule() const override { return schedule_; }
  // cond = weights of the components whose caption holds every content word of the prompt,
  // uncond = all weights; both [1,K]. An empty prompt is unconditional.
  PromptConditioning encode_prompt(const std::string& prompt) override;
  at::Tensor encode(const at::Tensor& images) override { return images * 2 - 1; }
  at::Tensor decode(const at::Tensor& z) override;
  // embedding [N,K]: component weights per sample (0 excludes a component).
  at::Tensor predict_noise(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding,
                           const std::optional<camera::CameraBatch>& cameras) override;

  // Posterior component probabilities [N,K] and E[z0 | z_t] [N,...] (float64).
  at::Tensor responsibilities(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding) const;
  at::Tensor posterior_mean_x0(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding) const;

  const std::vector<MixtureComponent>& components() const { return components_; }
  // Content words the prompts may use (caption words minus stop words), sorted.
  const std::set<std::string>& vocabulary() const { return vocabulary_; }
  // Indices of the components whose caption holds every content word of `words`.
  std::vector<int64_t> matching_components(const std::string& words) const;

 private:
  struct Posterior {
    at::Tensor resp;     // [N,K]
    at::Tensor ab;       // [N,1] alpha_bar
    at::Tensor s2;       // [N,K] s_k^2 = ab sigma_k^2 + 1 - ab
  };
  Posterior posterior(const at::Tensor& z_flat, const at::Tensor& t, const at::Tensor& embedding) const;

  std::vector<MixtureComponent> components_;
  NoiseSchedule schedule_;
  at::Tensor means_;   // [K,D] float64
  at::Tensor sigma2_;  // [K] float64
  at::Tensor weights_; // [K] float64
  std::set<std::string> vocabulary_;
};

// The template world of `toy2d`: circle, square, triangle x red, green, blue, each a
// coloured shape centred on white, as [3,S,S] images; captions "a red square" etc.
GaussianMixturePrior make_shape_templates_prior(int64_t image_size, double sigma,
                                                NoiseSchedule schedule = NoiseSchedule::make("scaled_linear"));

// Lower-case content words of a text: letters and digits, stop words ("a", "an", "the", ...)
// removed.
std::vector<std::string> content_words(const std::string& text);

}  // namespace dreamdpo::guidance
