// Which ranker(s) judge DreamDPO's pairs, and how a second one is combined.
#pragma once
#include <string>
#include <vector>

#include "core/config.h"

namespace dreamdpo::rank {

struct RankerConfig {
  std::string name = "template";  // the primary ranker (see `dreamdpo --help` for names)
  std::string secondary;          // optional second ranker, combined as in the official code
  int64_t secondary_start = 0;    // first step at which the second ranker may be asked
  double secondary_prob = 1.0;    // probability per step of asking it
  // Options of the exact rankers of the toy world:
  std::string target = "";               // template: caption of the preferred component ('' = the prompt)
  std::vector<double> colour = {1, 0, 0};  // colour: preferred RGB in [0,1]

  template <class V>
  void visit(V& v) {
    v("name", name, "primary ranker");
    v("secondary", secondary, "second ranker ('' = none)");
    v("secondary_start", secondary_start, "step from which the second ranker is used");
    v("secondary_prob", secondary_prob, "probability per step of using the second ranker");
    v("target", target, "template ranker: caption of the preferred template ('' = the prompt)");
    v("colour", colour, "colour ranker: preferred RGB in [0,1]");
  }
  void validate(const std::string& path) const {
    check(secondary_start >= 0, core::key_path(path, "secondary_start"), " must be >= 0");
    check(secondary_prob >= 0 && secondary_prob <= 1, core::key_path(path, "secondary_prob"),
          " must lie in [0, 1]");
    check(colour.size() == 3, core::key_path(path, "colour"), " must be [r, g, b]");
    for (double c : colour) check(c >= 0 && c <= 1, core::key_path(path, "colour"), " values must lie in [0, 1]");
  }
};

}  // namespace dreamdpo::rank
