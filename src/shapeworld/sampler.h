// Random SceneSpecs for training and evaluation, and hard negatives: specs that differ from a
// given one in exactly one aspect (for contrastive training and for testing what a model
// tells apart).
#pragma once
#include <string>
#include <vector>

#include "core/rng.h"
#include "shapeworld/scene_spec.h"

namespace dreamdpo::shapeworld {

struct SamplerOptions {
  int max_objects = 3;           // 1..3
  bool allow_on_top_of = true;
  bool allow_next_to = true;
  double p_relation = 0.5;       // chance of two related groups (when allowed and max_objects >= 2)
  double p_on_top_of = 0.5;      // chance of on_top_of over next_to when both are allowed
  double p_sized = 0.5;          // chance that a group names a size (small or large)

  template <class V>
  void visit(V& v) {
    v("max_objects", max_objects, "most objects in a scene, 1..3");
    v("allow_on_top_of", allow_on_top_of, "sample 'A on top of B' scenes");
    v("allow_next_to", allow_next_to, "sample 'A next to B' scenes");
    v("p_relation", p_relation, "probability of two related groups");
    v("p_on_top_of", p_on_top_of, "probability of on_top_of over next_to when both are allowed");
    v("p_sized", p_sized, "probability that a group names a size");
  }
  void validate(const std::string& path) const;
};

// A valid, canonical spec. Deterministic given the Rng state.
SceneSpec sample_spec(core::Rng& rng, const SamplerOptions& options = {});

// Up to n distinct canonical specs, each differing from `spec` in exactly one aspect: one
// group's colour, shape, size or count, the relation (on_top_of <-> next_to), or the order of
// the groups of an on_top_of, and none that lays out as the same picture (looks_alike: a size
// erased by shrinking the scene to fit). Fewer than n when fewer exist; the choice among all
// candidates is random (the Rng), their enumeration finite.
std::vector<SceneSpec> hard_negatives(const SceneSpec& spec, core::Rng& rng, int n);

}  // namespace dreamdpo::shapeworld
