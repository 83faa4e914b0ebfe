// Files of the ImageReward ranker (THUDM/ImageReward): the checkpoint, BLIP's med_config.json
// and bert-base-uncased's vocab.txt. All three are checked when the ranker is built.
#pragma once
#include <string>

#include "core/config.h"

namespace dreamdpo::rank {

struct ImageRewardConfig {
  std::string checkpoint = "";  // ImageReward.pt (state dict: blip.visual_encoder.*, blip.text_encoder.*, mlp.*)
  std::string med_config = "";  // med_config.json (BERT sizes of the text encoder)
  std::string vocab = "";       // bert-base-uncased vocab.txt
  int64_t vision_heads = 0;     // attention heads of the ViT; 0 = width / 64 (16 for ViT-L)

  template <class V>
  void visit(V& v) {
    v("checkpoint", checkpoint, "ImageReward.pt (or a .safetensors of the same state dict)");
    v("med_config", med_config, "BLIP's med_config.json");
    v("vocab", vocab, "bert-base-uncased vocab.txt");
    v("vision_heads", vision_heads, "ViT attention heads (0 = width / 64)");
  }
  void validate(const std::string& path) const {
    check(vision_heads >= 0, core::key_path(path, "vision_heads"), " must be >= 0");
  }
};

}  // namespace dreamdpo::rank
