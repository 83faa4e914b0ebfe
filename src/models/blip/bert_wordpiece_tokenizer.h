// BERT's uncased WordPiece tokenizer (transformers' BertTokenizer with do_lower_case), with the
// two tokens BLIP adds ([DEC] as bos, [ENC] as additional special token), reading the user's
// vocab.txt. ImageReward feeds the text encoder `encode(prompt, 35)`: [CLS] ... [SEP], truncated
// and padded to 35, with its attention mask. (ImageReward.py and DreamDPO's wrapper keep [CLS]
// as the first id; the [ENC] swap of BLIP's ITM path is not used — see enc_token_id().)
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace dreamdpo::models::blip {

struct TokenizedText {
  at::Tensor input_ids;       // [1, max_length] int64
  at::Tensor attention_mask;  // [1, max_length] int64, 1 for real tokens
};

class BertWordPieceTokenizer {
 public:
  // One token per line; the line number is the id (as transformers' load_vocab). The file must
  // hold [PAD], [UNK], [CLS] and [SEP].
  static BertWordPieceTokenizer from_file(const std::filesystem::path& vocab_txt);
  BertWordPieceTokenizer(std::vector<std::string> vocab, const std::string& origin);

  // Word pieces of a text (no [CLS]/[SEP]); special tokens written in the text stay whole.
  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<int64_t> ids(const std::string& text) const;
  // [CLS] ids [SEP], truncated to max_length (keeping [SEP]) and padded with [PAD].
  TokenizedText encode(const std::string& text, int64_t max_length = 35) const;

  int64_t id_of(const std::string& token) const;  // throws for a token outside the vocabulary
  // With [DEC] and [ENC] (and [MASK] where the file lacks it).
  int64_t vocab_size() const { return static_cast<int64_t>(id_to_token_.size()); }
  int64_t pad_id() const { return pad_id_; }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t bos_id() const { return bos_id_; }        // [DEC]
  int64_t enc_token_id() const { return enc_id_; }  // [ENC]

  // The BasicTokenizer half alone (clean, CJK split, lower case, strip accents, punctuation
  // split), UTF-8 in and out; exposed for tests.
  static std::vector<std::string> basic_tokenize(const std::string& text);

 private:
  void word_pieces(const std::string& word, std::vector<std::string>& out) const;

  std::unordered_map<std::string, int64_t> token_to_id_;
  std::vector<std::string> id_to_token_;
  std::vector<std::string> specials_;  // longest first, matched verbatim in the raw text
  int64_t pad_id_ = 0, cls_id_ = 0, sep_id_ = 0, unk_id_ = 0, bos_id_ = 0, enc_id_ = 0;
};

}  // namespace dreamdpo::models::blip
