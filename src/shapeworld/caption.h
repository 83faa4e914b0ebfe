// ShapeWorld's caption grammar, both ways: write_caption draws one of the many phrasings of a
// SceneSpec (synonyms, word orders, inverse relations), parse_caption inverts every one of
// them. The grammar and vocabulary are listed in docs/shapeworld.md.
#pragma once
#include <string>
#include <vector>

#include "core/rng.h"
#include "shapeworld/scene_spec.h"

namespace dreamdpo::shapeworld {

// A random phrasing of `spec` (validated). Deterministic given the Rng state.
std::string write_caption(const SceneSpec& spec, core::Rng& rng);

// The one deterministic phrasing: "a small red cube on top of a blue sphere".
std::string canonical_caption(const SceneSpec& spec);

// Case-insensitive; extra spaces and a trailing period are fine. Returns the canonical spec.
// Throws dreamdpo::Error listing unknown words and the vocabulary, or saying what was
// expected where the words do not form a caption.
SceneSpec parse_caption(const std::string& caption);

// Every word parse_caption knows, each once, grouped by role.
const std::vector<std::string>& vocabulary();

}  // namespace dreamdpo::shapeworld
