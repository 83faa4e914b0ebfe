// CLIP's byte-level BPE tokenizer, as open_clip's SimpleTokenizer (clean="lower") and the
// Hugging Face CLIPTokenizer of Stable Diffusion 2 compute it: the ids equal the reference's.
//
// Text cleaning, in the reference's order: ftfy.fix_text, html.unescape twice, strip, whitespace
// collapse, lower-case. ftfy is a large heuristic library; we apply the parts of it that change
// ordinary prompts: HTML entities (numeric, and amp/lt/gt/quot/apos/nbsp; repeated until stable
// unless the text holds a '<', as ftfy does), Latin ligatures (ﬁ -> fi), fullwidth/halfwidth forms
// (ＡＢＣ -> ABC), curly quotes (’ -> '), and control characters. We do NOT repair mojibake (text
// decoded with the wrong encoding, "cafÃ©"), map C1 controls through Windows-1252, or apply NFC
// normalisation: on such input our ids may differ from the reference's. Prompts typed as normal
// (NFC) text are unaffected.
//
// Unicode categories (\p{L}, \p{N}), whitespace and lower-case mappings come from a table generated
// from Python's unicodedata by scripts/gen_clip_unicode_tables.py.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dreamdpo::models::clip {

class ClipBpeTokenizer {
 public:
  static constexpr int64_t kContextLength = 77;

  // Reads open_clip's bpe_simple_vocab_16e6.txt.gz (a .gz file), a Hugging Face tokenizer folder
  // (vocab.json + merges.txt, also found in its tokenizer/ subfolder, as in a diffusers SD2
  // folder), or a vocab.json whose merges.txt lies beside it. Errors name the file and the fault.
  static ClipBpeTokenizer from_path(const std::filesystem::path& path);
  static ClipBpeTokenizer from_open_clip_bpe(const std::filesystem::path& gz_path);
  static ClipBpeTokenizer from_hf_files(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt);

  // Ids of the text without start/end tokens (no truncation).
  std::vector<int64_t> encode(const std::string& text) const;
  // [N, context_length] int64: <start>, ids, <end>, zero padding; a longer text is cut to
  // context_length tokens with <end> kept last.
  at::Tensor tokenize(const std::vector<std::string>& texts, int64_t context_length = kContextLength) const;
  std::vector<int64_t> tokenize_one(const std::string& text, int64_t context_length = kContextLength) const;

  int64_t start_id() const { return start_id_; }
  int64_t end_id() const { return end_id_; }
  int64_t vocab_size() const { return static_cast<int64_t>(encoder_.size()); }

  // The reference's cleaning (see the header comment), UTF-8 in and out; exposed for tests.
  static std::string clean(const std::string& text);
  // The pre-tokenisation regex of the reference applied to cleaned text.
  std::vector<std::string> pre_tokenize(const std::string& cleaned) const;

 private:
  ClipBpeTokenizer() = default;
  void finish(const std::string& start_token, const std::string& end_token, const std::string& origin);
  std::vector<std::string> bpe(const std::string& byte_word) const;

  std::unordered_map<std::string, int64_t> encoder_;
  std::map<std::pair<std::string, std::string>, int64_t> ranks_;
  std::vector<std::string> specials_;  // start and end token strings, matched verbatim in text
  int64_t start_id_ = 0;
  int64_t end_id_ = 0;
};

}  // namespace dreamdpo::models::clip
