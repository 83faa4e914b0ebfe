// Name -> implementation registries for the pluggable parts the loops use. Adding a prior or
// a ranker is one new file and one registration line in components.cpp.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "generate/prior_config.h"
#include "guidance/guidance.h"
#include "guidance/guidance_config.h"
#include "guidance/pairwise_preference.h"
#include "rank/ranker_config.h"
#include "guidance/prior.h"
#include "rank/ranker.h"

namespace dreamdpo::generate {

std::unique_ptr<guidance::Prior> make_prior(const PriorConfig& config, at::Device device);
std::vector<std::string> prior_names();

// What a ranker may need besides its config: the prompt it will judge ('' = unknown), for an
// early check of its questions, and the run folder ('' = none), where the LMM ranker caches
// the questions it had written.
struct RankerContext {
  std::string prompt;
  std::filesystem::path run_dir;
};

// `name` selects the ranker; its options come from `config` (e.g. the template target). Only
// rankers defined relative to the prior's world (the template ranker) use `prior`; for the
// others it may be null.
std::unique_ptr<rank::Ranker> make_ranker(const std::string& name, const rank::RankerConfig& config,
                                          guidance::Prior* prior, const RankerContext& context = {});
bool ranker_needs_prior(const std::string& name);
std::vector<std::string> ranker_names();

// "cpu" or "cuda" -> a device; a clear error when CUDA is asked for but absent.
at::Device resolve_device(const std::string& name);

// Everything between renders and their gradient, built from the config for one prompt: the
// prior, the encoded prompt, the ranker(s) and the guidance method. Every error a user can
// cause (unknown prior, prompt outside the prior's vocabulary, bad ranker) is raised here,
// before any output is written.
struct GuidanceStack {
  std::unique_ptr<guidance::Prior> prior;
  guidance::PromptConditioning text;
  std::unique_ptr<rank::Ranker> ranker, secondary;
  std::unique_ptr<guidance::PairwisePreference> preference;
  std::unique_ptr<guidance::Guidance> guidance;
};
GuidanceStack make_guidance_stack(const std::string& prompt, const PriorConfig& prior,
                                  const guidance::GuidanceConfig& guidance, const rank::RankerConfig& ranker,
                                  at::Device device, const std::filesystem::path& run_dir = {});

}  // namespace dreamdpo::generate
