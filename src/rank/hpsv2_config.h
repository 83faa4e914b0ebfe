// Settings of the HPSv2 ranker: which files hold the model and the tokenizer.
#pragma once
#include <string>

#include "core/config.h"

namespace dreamdpo::rank {

struct Hpsv2Config {
  // HPS_v2_compressed.pt / HPS_v2.1_compressed.pt (or a .safetensors conversion): the whole
  // OpenCLIP ViT-H-14 state dict fine-tuned by HPSv2 (DreamDPO loads it over the CLIP weights).
  std::string checkpoint = "";
  // Optional: open_clip_pytorch_model.bin of CLIP-ViT-H-14-laion2B-s32B-b79K (file or its folder),
  // loaded first; the checkpoint's tensors replace its. Needed only if the checkpoint lacks some.
  std::string clip_model = "";
  // bpe_simple_vocab_16e6.txt.gz, or a folder with vocab.json + merges.txt.
  std::string tokenizer = "";
  // "ViT-H-14" or a path to an open_clip model config .json.
  std::string model_config = "ViT-H-14";
  // auto: fp16 on CUDA (DreamDPO runs HPSv2 under mixed precision), fp32 on the CPU.
  std::string dtype = "auto";

  template <class V>
  void visit(V& v) {
    v("checkpoint", checkpoint, "HPS_v2*_compressed.pt (or .safetensors) with the HPSv2 state dict");
    v("clip_model", clip_model, "optional open_clip_pytorch_model.bin (file or folder) loaded before the checkpoint");
    v("tokenizer", tokenizer, "bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + merges.txt");
    v("model_config", model_config, "ViT-H-14 or an open_clip model config .json");
    v("dtype", dtype, "auto (fp16 on CUDA, fp32 on the CPU), fp32, fp16 or bf16");
  }
};

}  // namespace dreamdpo::rank
