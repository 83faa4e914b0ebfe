#include "guidance/priors/gaussian_mixture_prior.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"
#include "core/strings.h"

namespace dreamdpo::guidance {

namespace {
// Words that carry no content for the template world.
const std::set<std::string> kStopWords = {"a", "an", "the", "of", "one", "shape", "object",
                                          "image", "picture", "photo", "with", "and"};
}  // namespace

std::vector<std::string> content_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && !kStopWords.count(word)) words.push_back(word);
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c)) {
      word += static_cast<char>(std::tolower(c));
    } else {
      flush();
    }
  }
  flush();
  return words;
}

GaussianMixturePrior::GaussianMixturePrior(std::vector<MixtureComponent> components, NoiseSchedule schedule)
    : components_(std::move(components)), schedule_(std::move(schedule)) {
  check(!components_.empty(), "a Gaussian-mixture prior needs at least one component");
  const auto shape = components_[0].mean.sizes().vec();
  std::vector<at::Tensor> means;
  std::vector<double> sigma2, weights;
  for (const auto& c : components_) {
    check(c.mean.defined() && c.mean.sizes().vec() == shape, "component '", c.caption,
          "' has a mean of a different shape than the first component");
    check(c.sigma >= 0, "component '", c.caption, "' has sigma < 0");
    check(c.weight > 0, "component '", c.caption, "' has weight <= 0");
    means.push_back(c.mean.to(at::kDouble).cpu().reshape({-1}));
    sigma2.push_back(c.sigma * c.sigma);
    weights.push_back(c.weight);
    for (const auto& w : content_words(c.caption)) vocabulary_.insert(w);
  }
  means_ = at::stack(means);
  sigma2_ = at::tensor(sigma2, at::kDouble);
  weights_ = at::tensor(weights, at::kDouble);
}

std::vector<int64_t> GaussianMixturePrior::matching_components(const std::string& words) const {
  const auto wanted = content_words(words);
  std::vector<int64_t> matches;
  for (std::size_t k = 0; k < components_.size(); ++k) {
    const auto have = content_words(components_[k].caption);
    const bool all = std::all_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
      return std::find(have.begin(), have.end(), w) != have.end();
    });
    if (all) matches.push_back(static_cast<int64_t>(k));
  }
  return matches;
}

PromptConditioning GaussianMixturePrior::encode_prompt(const std::string& prompt) {
  std::vector<std::string> unknown;
  for (const auto& word : content_words(prompt)) {
    if (!vocabulary_.count(word) && std::find(unknown.begin(), unknown.end(), word) == unknown.end()) {
      unknown.push_back(word);
    }
  }
  check(unknown.empty(), "the exact prior does not know the word", unknown.size() > 1 ? "s '" : " '",
        core::join(unknown, "', '"), "'; it knows: ", core::join(vocabulary_));
  const auto matches = matching_components(prompt);
  if (matches.empty()) {
    const auto captions = core::join(components_, [](const MixtureComponent& c) { return c.caption; });
    fail("no template of the exact prior matches '", prompt, "'; templates: ", captions);
  }
  auto cond = at::zeros_like(weights_);
  for (int64_t k : matches) cond[k] = weights_[k];
  return {prompt, cond.unsqueeze(0), weights_.unsqueeze(0).clone()};
}

at::Tensor GaussianMixturePrior::decode(const at::Tensor& z) {
  at::NoGradGuard no_grad;
  return ((z + 1) / 2).clamp(0, 1);
}

GaussianMixturePrior::Posterior GaussianMixturePrior::posterior(const at::Tensor& z_flat, const at::Tensor& t,
                                                                const at::Tensor& embedding) const {
  const int64_t n = z_flat.size(0);
  const double d = static_cast<double>(z_flat.size(1));
  check(embedding.dim() == 2 && embedding.size(0) == n && embedding.size(1) == means_.size(0),
        "exact prior: expected an embedding of [", n, ", ", means_.size(0), "] component weights");
  Posterior p;
  p.ab = schedule_.alpha_bar(t, z_flat);                       // [N,1]
  p.s2 = p.ab * sigma2_.unsqueeze(0) + (1 - p.ab);             // [N,K]
  // ||z_t - sqrt(ab) mu_k||^2 for every sample and component, [N,K].
  const auto scaled_means = p.ab.sqrt().unsqueeze(-1) * means_.unsqueeze(0);        // [N,K,D]
  const auto sq = (z_flat.unsqueeze(1) - scaled_means).pow(2).sum(-1);              // [N,K]
  const auto log_w = at::log(embedding.to(at::kDouble).cpu());                      // -inf for 0
  const auto log_lik = -0.5 * sq / p.s2 - 0.5 * d * at::log(p.s2);
  p.resp = at::softmax(log_w + log_lik, 1);
  return p;
}

at::Tensor GaussianMixturePrior::responsibilities(const at::Tensor& z_t, const at::Tensor& t,
                                                  const at::Tensor& embedding) const {
  at::NoGradGuard no_grad;
  const auto z = z_t.detach().to(at::kDouble).cpu().reshape({z_t.size(0), -1});
  return posterior(z, t, embedding).resp;
}

at::Tensor GaussianMixturePrior::posterior_mean_x0(const at::Tensor& z_t, const at::Tensor& t,
                                                   const at::Tensor& embedding) const {
  at::NoGradGuard no_grad;
  const auto z = z_t.detach().to(at::kDouble).cpu().reshape({z_t.size(0), -1});
  const auto p = posterior(z, t, embedding);
  // E[z0 | z_t, k] = mu_k + sqrt(ab) sigma_k^2 / s_k^2 (z_t - sqrt(ab) mu_k).
  const auto sqrt_ab = p.ab.sqrt().unsqueeze(-1);                         // [N,1,1]
  const auto gain = (p.ab.sqrt() * sigma2_.unsqueeze(0) / p.s2).unsqueeze(-1);  // [N,K,1]
  const auto per_k = means_.unsqueeze(0) + gain * (z.unsqueeze(1) - sqrt_ab * means_.unsqueeze(0));
  return (p.resp.unsqueeze(-1) * per_k).sum(1).reshape(z_t.sizes());
}

at::Tensor GaussianMixturePrior::predict_noise(const at::Tensor& z_t, const at::Tensor& t,
                                               const at::Tensor& embedding,
                                               const std::optional<camera::CameraBatch>& /*cameras*/) {
  at::NoGradGuard no_grad;
  const auto z = z_t.detach().to(at::kDouble).cpu().reshape({z_t.size(0), -1});
  const auto p = posterior(z, t, embedding);
  // eps_hat = -sqrt(1-ab) grad log p(z_t) = sqrt(1-ab) sum_k r_k (z_t - sqrt(ab) mu_k) / s_k^2.
  const auto sqrt_ab = p.ab.sqrt().unsqueeze(-1);
  const auto residual = z.unsqueeze(1) - sqrt_ab * means_.unsqueeze(0);     // [N,K,D]
  const auto score = ((p.resp / p.s2).unsqueeze(-1) * residual).sum(1);    // [N,D]
  const auto eps = (1 - p.ab).sqrt() * score;
  return eps.reshape(z_t.sizes()).to(z_t.options());
}

GaussianMixturePrior make_shape_templates_prior(int64_t image_size, double sigma, NoiseSchedule schedule) {
  check(image_size >= 4, "template images need a size of at least 4, got ", image_size);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  // Pixel centres in [-1,1]; shapes are soft-edged over about one pixel (antialiasing).
  const auto coords = (at::arange(image_size, f64) + 0.5) / static_cast<double>(image_size) * 2 - 1;
  const auto y = coords.view({-1, 1}).expand({image_size, image_size});
  const auto x = coords.view({1, -1}).expand({image_size, image_size});
  const double pixel = 2.0 / static_cast<double>(image_size);
  auto coverage = [pixel](const at::Tensor& signed_distance) {  // inside < 0
    return (0.5 - signed_distance / pixel).clamp(0, 1);
  };
  const double r = 0.6;
  const std::vector<std::pair<std::string, at::Tensor>> shapes = {
      {"circle", coverage((x.pow(2) + y.pow(2)).sqrt() - r)},
      {"square", coverage(at::maximum(x.abs(), y.abs()) - 0.5)},
      // Apex at the top (y = -0.6), base at y = 0.5, half-width 0.55: two sides and the base.
      {"triangle", coverage(at::maximum(y - 0.5, 0.894 * x.abs() - 0.447 * (y + 0.6)))},
  };
  const std::vector<std::pair<std::string, std::vector<double>>> colours = {
      {"red", {0.9, 0.1, 0.1}}, {"green", {0.1, 0.75, 0.2}}, {"blue", {0.15, 0.25, 0.9}}};
  std::vector<MixtureComponent> components;
  for (const auto& [colour_name, rgb] : colours) {
    for (const auto& [shape_name, mask] : shapes) {
      std::vector<at::Tensor> channels;
      for (double c : rgb) channels.push_back(mask * c + (1 - mask) * 1.0);  // white background
      const auto image = at::stack(channels).to(at::kFloat);
      components.push_back({"a " + colour_name + " " + shape_name, image * 2 - 1, sigma, 1.0});
    }
  }
  return GaussianMixturePrior(std::move(components), std::move(schedule));
}

}  // namespace dreamdpo::guidance
