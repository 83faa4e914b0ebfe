// Name -> implementation registries for the pluggable parts the loops use. Adding a prior or
// a ranker is one new file and one registration line in components.cpp.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "generate/prior_config.h"
#include "rank/ranker_config.h"
#include "guidance/prior.h"
#include "rank/ranker.h"

namespace dreamdpo::generate {

std::unique_ptr<guidance::Prior> make_prior(const PriorConfig& config, at::Device device);
std::vector<std::string> prior_names();

// `name` selects the ranker; its options come from `config` (e.g. the template target). Some
// rankers are defined relative to the prior's world (the template ranker).
std::unique_ptr<rank::Ranker> make_ranker(const std::string& name, const rank::RankerConfig& config,
                                          guidance::Prior& prior);
std::vector<std::string> ranker_names();

}  // namespace dreamdpo::generate
