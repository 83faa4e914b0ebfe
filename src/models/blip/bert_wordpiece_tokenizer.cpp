#include "models/blip/bert_wordpiece_tokenizer.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/utf8.h"

namespace dreamdpo::models::blip {

namespace {

using core::append_utf8;
using core::decode_utf8;
using core::encode_utf8;

struct CharRange {
  char32_t first, last;
  int cls;
};
struct CodeMap2 {
  char32_t from;
  char32_t to[2];
};
struct CodeMap3 {
  char32_t from;
  char32_t to[3];
};
#include "models/blip/bert_unicode_tables.inc"

enum CharClass { kOther = 0, kSpace = 1, kControl = 2, kPunct = 3, kMark = 4 };

int char_class(char32_t c) {
  const auto* end = std::end(kBertCharClasses);
  const auto* it = std::upper_bound(std::begin(kBertCharClasses), end, c,
                                    [](char32_t v, const CharRange& r) { return v < r.first; });
  if (it == std::begin(kBertCharClasses)) return kOther;
  --it;
  return c <= it->last ? it->cls : kOther;
}

template <class Table>
const auto* find_code(const Table& table, char32_t c) {
  const auto* it = std::lower_bound(std::begin(table), std::end(table), c,
                                    [](const auto& entry, char32_t v) { return entry.from < v; });
  return (it != std::end(table) && it->from == c) ? &*it : nullptr;
}

// BasicTokenizer's _is_whitespace / _is_control / _is_punctuation / _is_chinese_char.
bool is_whitespace(char32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || char_class(c) == kSpace; }
bool is_control(char32_t c) { return c != '\t' && c != '\n' && c != '\r' && char_class(c) == kControl; }
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return char_class(c) == kPunct;
}
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
// What Python's str.split() still splits on after cleaning (which turned the rest into ' ').
bool splits_words(char32_t c) { return c == ' ' || c == 0x2028 || c == 0x2029; }

// str.lower() of one code point (context-free: a word-final capital sigma becomes σ, not ς).
void append_lower(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out += (c >= 'A' && c <= 'Z') ? c + 32 : c;
  } else if (const auto* m = find_code(kBertLowercase, c)) {
    out += m->to[0];
    if (m->to[1]) out += m->to[1];
  } else {
    out += c;
  }
}

// unicodedata.normalize("NFD", c) without the Mn marks (BasicTokenizer._run_strip_accents).
void append_stripped(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out += c;
    return;
  }
  constexpr char32_t kS = 0xAC00, kL = 0x1100, kV = 0x1161, kT = 0x11A7, kTCount = 28, kNCount = 588;
  if (c >= kS && c < kS + 11172) {  // Hangul syllable: algorithmic decomposition into jamo
    const char32_t index = c - kS;
    out += kL + index / kNCount;
    out += kV + (index % kNCount) / kTCount;
    if (index % kTCount) out += kT + index % kTCount;
    return;
  }
  if (char_class(c) == kMark) return;
  if (const auto* m = find_code(kBertStripped, c)) {
    for (char32_t d : m->to)
      if (d) out += d;
    return;
  }
  out += c;
}

}  // namespace

std::vector<std::string> BertWordPieceTokenizer::basic_tokenize(const std::string& text) {
  // _clean_text and _tokenize_chinese_chars.
  std::u32string cleaned;
  for (char32_t c : decode_utf8(text)) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned += U' ';
    } else if (is_cjk(c)) {
      cleaned += U' ';
      cleaned += c;
      cleaned += U' ';
    } else {
      cleaned += c;
    }
  }
  std::vector<std::string> out;
  size_t i = 0;
  while (i < cleaned.size()) {
    if (splits_words(cleaned[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cleaned.size() && !splits_words(cleaned[j])) ++j;
    std::u32string lowered, stripped;
    for (size_t k = i; k < j; ++k) append_lower(cleaned[k], lowered);
    for (char32_t c : lowered) append_stripped(c, stripped);
    // _run_split_on_punc: every punctuation character is a token of its own.
    std::u32string current;
    for (char32_t c : stripped) {
      if (is_punctuation(c)) {
        if (!current.empty()) out.push_back(encode_utf8(current));
        current.clear();
        out.push_back(encode_utf8(std::u32string(1, c)));
      } else {
        current += c;
      }
    }
    if (!current.empty()) out.push_back(encode_utf8(current));
    i = j;
  }
  return out;
}

BertWordPieceTokenizer BertWordPieceTokenizer::from_file(const std::filesystem::path& vocab_txt) {
  std::ifstream in(vocab_txt, std::ios::binary);
  check(in.good(), "cannot read the BERT vocabulary ", vocab_txt.string(),
        " (ImageReward needs bert-base-uncased's vocab.txt; set ranker.imagereward.vocab)");
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) vocab.push_back(line);  // load_vocab: rstrip("\n") only
  return BertWordPieceTokenizer(std::move(vocab), vocab_txt.string());
}

BertWordPieceTokenizer::BertWordPieceTokenizer(std::vector<std::string> vocab, const std::string& origin) {
  check(!vocab.empty(), origin, " is empty: expected one WordPiece token per line (BERT's vocab.txt)");
  for (size_t i = 0; i < vocab.size(); ++i) token_to_id_[vocab[i]] = static_cast<int64_t>(i);  // last one wins
  id_to_token_ = std::move(vocab);
  for (const char* needed : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) {
    check(token_to_id_.count(needed), origin, " has no ", needed,
          " token: it is not a BERT vocab.txt (one WordPiece token per line)");
  }
  pad_id_ = token_to_id_.at("[PAD]");
  unk_id_ = token_to_id_.at("[UNK]");
  cls_id_ = token_to_id_.at("[CLS]");
  sep_id_ = token_to_id_.at("[SEP]");
  // BertTokenizer.from_pretrained ends with sanitize_special_tokens(): a special token missing from
  // the vocabulary ([MASK] is the only one not required above) is added with the next id
  // (len(tokenizer)). Then blip.py init_tokenizer: add_special_tokens({'bos_token':'[DEC]'}), then
  // '[ENC]', each a new token with the next id.
  auto add = [&](const std::string& token) {
    const auto it = token_to_id_.find(token);
    if (it != token_to_id_.end()) return it->second;
    const auto id = static_cast<int64_t>(token_to_id_.size());
    token_to_id_[token] = id;
    if (id >= static_cast<int64_t>(id_to_token_.size())) id_to_token_.resize(id + 1);
    id_to_token_[id] = token;
    return id;
  };
  add("[MASK]");
  bos_id_ = add("[DEC]");
  enc_id_ = add("[ENC]");
  specials_ = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]"};
  std::sort(specials_.begin(), specials_.end(),
            [](const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() > b.size() : a < b; });
}

int64_t BertWordPieceTokenizer::id_of(const std::string& token) const {
  const auto it = token_to_id_.find(token);
  check(it != token_to_id_.end(), "token '", token, "' is not in the BERT vocabulary");
  return it->second;
}

void BertWordPieceTokenizer::word_pieces(const std::string& word, std::vector<std::string>& out) const {
  const auto chars = decode_utf8(word);
  if (chars.size() > 100) {  // max_input_chars_per_word
    out.push_back("[UNK]");
    return;
  }
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < chars.size()) {
    size_t end = chars.size();
    std::string found;
    while (start < end) {
      std::string piece = (start > 0 ? "##" : "") + encode_utf8(chars.substr(start, end - start));
      if (token_to_id_.count(piece)) {
        found = std::move(piece);
        break;
      }
      --end;
    }
    if (found.empty()) {
      out.push_back("[UNK]");
      return;
    }
    pieces.push_back(std::move(found));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> BertWordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  // Special tokens written in the text are matched verbatim (case-sensitive) before anything else.
  size_t begin = 0, i = 0;
  auto flush = [&](size_t end) {
    for (const auto& word : basic_tokenize(text.substr(begin, end - begin))) word_pieces(word, out);
  };
  while (i < text.size()) {
    const std::string* match = nullptr;
    if (text[i] == '[') {
      for (const auto& s : specials_) {
        if (text.compare(i, s.size(), s) == 0) {
          match = &s;
          break;
        }
      }
    }
    if (match) {
      flush(i);
      out.push_back(*match);
      i += match->size();
      begin = i;
    } else {
      ++i;
    }
  }
  flush(text.size());
  return out;
}

std::vector<int64_t> BertWordPieceTokenizer::ids(const std::string& text) const {
  std::vector<int64_t> out;
  for (const auto& token : tokenize(text)) out.push_back(token_to_id_.at(token));
  return out;
}

TokenizedText BertWordPieceTokenizer::encode(const std::string& text, int64_t max_length) const {
  check(max_length >= 2, "max_length must be >= 2 for [CLS] and [SEP], got ", max_length);
  auto body = ids(text);
  if (static_cast<int64_t>(body.size()) > max_length - 2) body.resize(max_length - 2);
  auto input_ids = at::full({1, max_length}, pad_id_, at::kLong);
  auto mask = at::zeros({1, max_length}, at::kLong);
  auto* p = input_ids.data_ptr<int64_t>();
  auto* m = mask.data_ptr<int64_t>();
  int64_t n = 0;
  p[n++] = cls_id_;
  for (int64_t id : body) p[n++] = id;
  p[n++] = sep_id_;
  for (int64_t k = 0; k < n; ++k) m[k] = 1;
  return {input_ids, mask};
}

}  // namespace dreamdpo::models::blip
