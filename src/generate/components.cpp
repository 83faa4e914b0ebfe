#include "generate/components.h"

#include <functional>
#include <map>

#include "core/error.h"
#include "core/strings.h"
#include "guidance/priors/builtin_prior.h"
#include "guidance/priors/gaussian_mixture_prior.h"
#include "guidance/priors/stable_diffusion_prior.h"
#include "rank/builtin_ranker.h"
#include "rank/colour_ranker.h"
#include "rank/imagereward_ranker.h"
#include "rank/hpsv2_ranker.h"
#include "rank/lmm/lmm_ranker.h"
#include "rank/template_ranker.h"

namespace dreamdpo::generate {

namespace {

using PriorFactory = std::function<std::unique_ptr<guidance::Prior>(const PriorConfig&, at::Device)>;
using RankerFactory = std::function<std::unique_ptr<rank::Ranker>(const rank::RankerConfig&, guidance::Prior*,
                                                                    const RankerContext&)>;

std::unique_ptr<guidance::Prior> make_exact_prior(const PriorConfig& config, at::Device) {
  // Closed-form on the CPU in float64 whatever the device: it is tiny.
  return std::make_unique<guidance::GaussianMixturePrior>(guidance::make_shape_templates_prior(
      config.image_size, config.sigma, guidance::NoiseSchedule::make(config.schedule)));
}

// Prefers the exact prior's templates whose caption holds every word of ranker.target.
std::unique_ptr<rank::Ranker> make_template_ranker(const rank::RankerConfig& config, guidance::Prior* prior,
                                                   const RankerContext&) {
  auto* mixture = dynamic_cast<guidance::GaussianMixturePrior*>(prior);
  check(mixture != nullptr, "the 'template' ranker needs the exact prior (prior.name=exact)");
  const auto matches = mixture->matching_components(config.target);
  check(!config.target.empty() && !matches.empty(), "ranker.target '", config.target,
        "' matches no template of the exact prior (use words such as square, red, blue circle)");
  std::vector<at::Tensor> targets;
  for (int64_t k : matches) targets.push_back((mixture->components()[k].mean + 1) / 2);
  return std::make_unique<rank::TemplateRanker>(std::move(targets), config.target);
}

std::unique_ptr<rank::Ranker> make_colour_ranker(const rank::RankerConfig& config, guidance::Prior*, const RankerContext&) {
  return std::make_unique<rank::ColourRanker>(
      std::array<double, 3>{config.colour[0], config.colour[1], config.colour[2]});
}

// Asks an OpenAI-compatible LMM; a prompt missing from its questions file fails here, at start.
std::unique_ptr<rank::Ranker> make_lmm_ranker(const rank::RankerConfig& config, guidance::Prior*,
                                              const RankerContext& context) {
  auto ranker = std::make_unique<rank::LmmRanker>(config.lmm, context.run_dir);
  if (!config.lmm.questions_file.empty() && !context.prompt.empty()) ranker->questions(context.prompt);
  return ranker;
}

std::unique_ptr<guidance::Prior> make_builtin_prior(const PriorConfig& config, at::Device device) {
  auto prior = std::make_unique<guidance::BuiltinPrior>(guidance::builtin_model_path("diffusion.safetensors"), device);
  check(config.image_size == prior->image_size(), "the built-in prior works at ", prior->image_size(),
        " px; set prior.image_size=", prior->image_size());
  return prior;
}

// MVDream / Stable Diffusion 2.1 from user-provided files (prior.checkpoint, prior.tokenizer).
std::unique_ptr<guidance::Prior> make_stable_diffusion_prior(const PriorConfig& config, at::Device device) {
  guidance::StableDiffusionPriorOptions options;
  options.name = config.name;
  options.checkpoint = config.checkpoint;
  options.tokenizer = config.tokenizer;
  options.architecture = guidance::StableDiffusionArchitecture::preset(config.name);
  if (!config.architecture.empty()) options.architecture.override_from_json(config.architecture);
  options.image_size = config.image_size;
  options.dtype = config.dtype;
  options.negative_prompt = config.negative_prompt;
  return std::make_unique<guidance::StableDiffusionPrior>(options, device);
}

const std::map<std::string, PriorFactory>& prior_registry() {
  static const std::map<std::string, PriorFactory> registry = {
      {"exact", make_exact_prior},
      {"builtin", make_builtin_prior},
      {"mvdream", make_stable_diffusion_prior},
      {"sd21", make_stable_diffusion_prior},
  };
  return registry;
}

const std::map<std::string, RankerFactory>& ranker_registry() {
  static const std::map<std::string, RankerFactory> registry = {
      {"template", make_template_ranker},
      {"colour", make_colour_ranker},
      {"lmm", make_lmm_ranker},
      {"imagereward", [](const rank::RankerConfig& config, guidance::Prior*, const RankerContext&) {
         return std::make_unique<rank::ImageRewardRanker>(config.imagereward);
       }},
      {"hpsv2", [](const rank::RankerConfig& config, guidance::Prior*, const RankerContext&) {
         return std::make_unique<rank::Hpsv2Ranker>(config.hpsv2);
       }},
      {"builtin", [](const rank::RankerConfig&, guidance::Prior*, const RankerContext&) {
         return std::make_unique<rank::BuiltinRanker>();
       }},
  };
  return registry;
}

template <class Map>
std::vector<std::string> keys(const Map& map) {
  std::vector<std::string> out;
  for (const auto& [name, factory] : map) out.push_back(name);
  return out;
}

}  // namespace

std::unique_ptr<guidance::Prior> make_prior(const PriorConfig& config, at::Device device) {
  const auto it = prior_registry().find(config.name);
  check(it != prior_registry().end(), "unknown prior '", config.name, "' (known: ", core::join(prior_names()), ")");
  return it->second(config, device);
}

std::vector<std::string> prior_names() { return keys(prior_registry()); }

bool ranker_needs_prior(const std::string& name) { return name == "template"; }

std::unique_ptr<rank::Ranker> make_ranker(const std::string& name, const rank::RankerConfig& config,
                                          guidance::Prior* prior, const RankerContext& context) {
  const auto it = ranker_registry().find(name);
  check(it != ranker_registry().end(), "unknown ranker '", name, "' (known: ", core::join(ranker_names()), ")");
  return it->second(config, prior, context);
}

std::vector<std::string> ranker_names() { return keys(ranker_registry()); }

at::Device resolve_device(const std::string& name) {
  if (name == "cuda") {
    check(at::hasCUDA(), "--device cuda was asked for, but this build or machine has no CUDA");
    return at::Device(at::kCUDA);
  }
  check(name == "cpu", "unknown device '", name, "' (use cpu or cuda)");
  return at::Device(at::kCPU);
}

GuidanceStack make_guidance_stack(const std::string& prompt, const PriorConfig& prior,
                                  const guidance::GuidanceConfig& guidance, const rank::RankerConfig& ranker,
                                  at::Device device, const std::filesystem::path& run_dir) {
  GuidanceStack stack;
  const bool dreamdpo = guidance.method == "dreamdpo";
  // An empty template target means: prefer what the prompt describes.
  auto options = ranker;
  if (options.target.empty()) options.target = prompt;
  const RankerContext context{prompt, run_dir};
  auto build_rankers = [&] {
    stack.ranker = make_ranker(options.name, options, stack.prior.get(), context);
    if (!options.secondary.empty()) stack.secondary = make_ranker(options.secondary, options, stack.prior.get(), context);
  };
  // Rankers that do not depend on the prior are built first, so a wrong ranker file stops the
  // run before the prior reads its (for real models, gigabytes of) weights.
  const bool rankers_need_prior = ranker_needs_prior(options.name) || ranker_needs_prior(options.secondary);
  if (dreamdpo && !rankers_need_prior) build_rankers();
  stack.prior = make_prior(prior, device);
  stack.text = stack.prior->encode_prompt(prompt);
  if (dreamdpo && rankers_need_prior) build_rankers();
  if (dreamdpo) {
    stack.preference = std::make_unique<guidance::PairwisePreference>(
        *stack.ranker, stack.secondary.get(), options.secondary_start, options.secondary_prob,
        guidance::parse_combine(options.combine), options.secondary_weight);
  }
  stack.guidance = guidance::make_guidance(guidance, *stack.prior, stack.preference.get());
  return stack;
}

}  // namespace dreamdpo::generate
