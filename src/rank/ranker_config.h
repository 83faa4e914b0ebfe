// Which ranker(s) judge DreamDPO's pairs, and how a second one is combined.
#pragma once
#include <string>
#include <vector>

#include "core/config.h"
#include "rank/imagereward_config.h"
#include "rank/hpsv2_config.h"
#include "rank/lmm/lmm_config.h"

namespace dreamdpo::rank {

struct RankerConfig {
  std::string name = "template";  // the primary ranker (see `dreamdpo --help` for names)
  std::string secondary;          // optional second ranker, combined as in the official code
  int64_t secondary_start = 0;    // first step at which the second ranker may be asked
  double secondary_prob = 1.0;    // probability per step of asking it
  // How the second ranker's verdict joins the primary's: "or" (official: member 1 wins when the
  // primary says so or the second one prefers it) or "weighted" (primary + weight * second).
  std::string combine = "or";
  double secondary_weight = 1.0;
  // Options of the exact rankers of the toy world:
  std::string target = "";               // template: caption of the preferred component ('' = the prompt)
  std::vector<double> colour = {1, 0, 0};  // colour: preferred RGB in [0,1]
  LmmConfig lmm;                           // lmm: endpoint, model, questions
  ImageRewardConfig imagereward;           // imagereward: checkpoint, med_config.json, vocab.txt
  Hpsv2Config hpsv2;                       // hpsv2: checkpoint, tokenizer, model config

  template <class V>
  void visit(V& v) {
    v("name", name, "primary ranker");
    v("secondary", secondary, "second ranker ('' = none)");
    v("secondary_start", secondary_start, "step from which the second ranker is used");
    v("secondary_prob", secondary_prob, "probability per step of using the second ranker");
    v("combine", combine, "or (official) | weighted: how the second ranker joins the first");
    v("secondary_weight", secondary_weight, "weighted combine: weight of the second ranker's scores");
    v("target", target, "template ranker: caption of the preferred template ('' = the prompt)");
    v("colour", colour, "colour ranker: preferred RGB in [0,1]");
    v("lmm", lmm);
    v("imagereward", imagereward);
    v("hpsv2", hpsv2);
  }
  void validate(const std::string& path) const {
    check(secondary_start >= 0, core::key_path(path, "secondary_start"), " must be >= 0");
    check(secondary_prob >= 0 && secondary_prob <= 1, core::key_path(path, "secondary_prob"),
          " must lie in [0, 1]");
    check(combine == "or" || combine == "weighted", core::key_path(path, "combine"), " must be or | weighted, got '",
          combine, "'");
    check(colour.size() == 3, core::key_path(path, "colour"), " must be [r, g, b]");
    for (double c : colour) check(c >= 0 && c <= 1, core::key_path(path, "colour"), " values must lie in [0, 1]");
  }
};

}  // namespace dreamdpo::rank
