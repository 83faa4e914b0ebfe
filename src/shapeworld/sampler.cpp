#include "shapeworld/sampler.h"

#include <algorithm>

#include "core/config.h"
#include "core/error.h"
#include "shapeworld/layout.h"

namespace dreamdpo::shapeworld {

void SamplerOptions::validate(const std::string& path) const {
  using core::key_path;
  check(max_objects >= 1 && max_objects <= kMaxObjects, key_path(path, "max_objects"), " must lie in [1, ",
        kMaxObjects, "], got ", max_objects);
  for (const auto& [key, p] : {std::pair<const char*, double>{"p_relation", p_relation},
                               {"p_on_top_of", p_on_top_of},
                               {"p_sized", p_sized}})
    check(p >= 0.0 && p <= 1.0, key_path(path, key), " must lie in [0, 1], got ", p);
}

namespace {

template <class T, size_t N>
T pick(core::Rng& rng, const std::array<T, N>& items) {
  return items[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(N) - 1))];
}

ObjectGroup sample_group(core::Rng& rng, int count, double p_sized) {
  ObjectGroup g;
  g.count = count;
  g.shape = pick(rng, kShapes);
  g.colour = pick(rng, kColours);
  g.size = rng.uniform01() < p_sized ? (rng.uniform01() < 0.5 ? Size::small : Size::large) : Size::medium;
  return g;
}

}  // namespace

SceneSpec sample_spec(core::Rng& rng, const SamplerOptions& options) {
  options.validate("sampler");
  const bool can_relate = options.max_objects >= 2 && (options.allow_on_top_of || options.allow_next_to);
  SceneSpec spec;
  if (!can_relate || rng.uniform01() >= options.p_relation) {
    spec.groups = {sample_group(rng, static_cast<int>(rng.integer(1, options.max_objects)), options.p_sized)};
    return canonical(spec);
  }
  bool on_top = options.allow_on_top_of;
  if (options.allow_on_top_of && options.allow_next_to) on_top = rng.uniform01() < options.p_on_top_of;
  spec.relation = on_top ? Relation::on_top_of : Relation::next_to;
  int c0 = 1, c1 = 1;
  if (!on_top) {
    c0 = static_cast<int>(rng.integer(1, options.max_objects - 1));
    c1 = static_cast<int>(rng.integer(1, options.max_objects - c0));
  }
  spec.groups = {sample_group(rng, c0, options.p_sized), sample_group(rng, c1, options.p_sized)};
  // Two groups of the same kind next to each other are one group ("two red cubes"): keep the
  // relation by moving the second group to the next colour.
  if (spec.relation == Relation::next_to && spec.groups[0].same_kind(spec.groups[1])) {
    auto& colour = spec.groups[1].colour;
    colour = kColours[(static_cast<size_t>(colour) + 1) % kColours.size()];
  }
  return canonical(spec);
}

std::vector<SceneSpec> hard_negatives(const SceneSpec& input, core::Rng& rng, int n) {
  const SceneSpec spec = canonical(input);
  std::vector<SceneSpec> candidates;
  // Only a size change can lay out as the same picture (a shrunk scene); other aspects change
  // a colour, a shape, the object count or the positions. Checking only sizes keeps the
  // layouts off the training-data hot path.
  auto consider = [&](const SceneSpec& c, bool size_changed = false) {
    if (!c.problem().empty()) return;
    const SceneSpec k = canonical(c);
    // A change that merges the groups changes the structure, not one aspect.
    if (k.groups.size() != spec.groups.size() || k == spec) return;
    // A caption that describes the same picture is not a negative.
    if (size_changed && looks_alike(k, spec)) return;
    if (std::find(candidates.begin(), candidates.end(), k) == candidates.end()) candidates.push_back(k);
  };

  for (size_t gi = 0; gi < spec.groups.size(); ++gi) {
    auto vary = [&](auto set, bool size_changed = false) {
      SceneSpec c = spec;
      set(c.groups[gi]);
      consider(c, size_changed);
    };
    for (Colour k : kColours) vary([k](ObjectGroup& g) { g.colour = k; });
    for (Shape k : kShapes) vary([k](ObjectGroup& g) { g.shape = k; });
    for (Size k : kSizes) vary([k](ObjectGroup& g) { g.size = k; }, true);
    for (int k = 1; k <= kMaxObjects; ++k) vary([k](ObjectGroup& g) { g.count = k; });
  }
  if (spec.groups.size() == 2) {
    for (Relation r : {Relation::on_top_of, Relation::next_to}) {
      SceneSpec c = spec;
      c.relation = r;
      consider(c);
      // next_to -> on_top_of: either group may go on top.
      std::swap(c.groups[0], c.groups[1]);
      consider(c);
    }
    if (spec.relation == Relation::on_top_of) {
      SceneSpec c = spec;
      std::swap(c.groups[0], c.groups[1]);
      consider(c);
    }
  }

  // A random subset, in random order (partial Fisher-Yates).
  const size_t take = std::min(candidates.size(), static_cast<size_t>(std::max(n, 0)));
  for (size_t i = 0; i < take; ++i) {
    const auto j = static_cast<size_t>(rng.integer(static_cast<int64_t>(i), static_cast<int64_t>(candidates.size()) - 1));
    std::swap(candidates[i], candidates[j]);
  }
  candidates.resize(take);
  return candidates;
}

}  // namespace dreamdpo::shapeworld
