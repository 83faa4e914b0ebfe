// Word-level tokenizer of the built-in models: the ShapeWorld vocabulary (or any word list),
// lower-cased, split on spaces and punctuation, padded to a fixed length. The word list is
// saved with a model's weights, so a model file carries its own vocabulary.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace dreamdpo::models {

class WordTokenizer {
 public:
  static constexpr int64_t kPad = 0;    // padding (and the empty caption of CFG)
  static constexpr int64_t kStart = 1;  // first token of every caption, so no caption is empty

  WordTokenizer() = default;
  WordTokenizer(std::vector<std::string> words, int64_t max_length);

  // [N, max_length] int64 ids. Unknown words are an error that lists them and the vocabulary;
  // captions longer than max_length are an error too (they would be cut silently otherwise).
  at::Tensor encode(const std::vector<std::string>& captions) const;
  // The words of `caption` not in the vocabulary (lower-cased, each once).
  std::vector<std::string> unknown_words(const std::string& caption) const;

  int64_t vocabulary_size() const { return static_cast<int64_t>(words_.size()) + 2; }
  int64_t max_length() const { return max_length_; }
  const std::vector<std::string>& words() const { return words_; }

  // For model files: "word1 word2 ..." and back.
  std::string serialise() const;
  static WordTokenizer deserialise(const std::string& text, int64_t max_length);

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> ids_;
  int64_t max_length_ = 0;
};

// Lower-cased words of a caption; punctuation separates words and is dropped.
std::vector<std::string> split_words(const std::string& caption);

}  // namespace dreamdpo::models
