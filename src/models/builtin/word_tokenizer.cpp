#include "models/builtin/word_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace dreamdpo::models {

std::vector<std::string> split_words(const std::string& caption) {
  std::vector<std::string> words;
  std::string word;
  for (char c : caption) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

WordTokenizer::WordTokenizer(std::vector<std::string> words, int64_t max_length)
    : words_(std::move(words)), max_length_(max_length) {
  check(max_length_ >= 2, "tokenizer: max_length must be >= 2");
  for (size_t i = 0; i < words_.size(); ++i) {
    check(!words_[i].empty() && split_words(words_[i]) == std::vector<std::string>{words_[i]},
          "tokenizer: '", words_[i], "' is not a lower-case word");
    check(ids_.emplace(words_[i], static_cast<int64_t>(i) + 2).second, "tokenizer: '", words_[i], "' twice");
  }
}

std::vector<std::string> WordTokenizer::unknown_words(const std::string& caption) const {
  std::vector<std::string> unknown;
  for (const auto& w : split_words(caption)) {
    if (!ids_.count(w) && std::find(unknown.begin(), unknown.end(), w) == unknown.end()) unknown.push_back(w);
  }
  return unknown;
}

at::Tensor WordTokenizer::encode(const std::vector<std::string>& captions) const {
  auto ids = at::full({static_cast<int64_t>(captions.size()), max_length_}, kPad, at::kLong);
  auto* data = ids.data_ptr<int64_t>();
  for (size_t n = 0; n < captions.size(); ++n) {
    const auto unknown = unknown_words(captions[n]);
    check(unknown.empty(), "the built-in models do not know the word", unknown.size() > 1 ? "s '" : " '",
          core::join(unknown, "', '"), "' in \"", captions[n], "\"; they know: ", core::join(words_));
    const auto words = split_words(captions[n]);
    check(static_cast<int64_t>(words.size()) + 1 <= max_length_, "\"", captions[n], "\" has ", words.size(),
          " words; the built-in models read at most ", max_length_ - 1);
    int64_t* row = data + n * max_length_;
    row[0] = kStart;
    for (size_t i = 0; i < words.size(); ++i) row[i + 1] = ids_.at(words[i]);
  }
  return ids;
}

std::string WordTokenizer::serialise() const { return core::join(words_, " "); }

WordTokenizer WordTokenizer::deserialise(const std::string& text, int64_t max_length) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return WordTokenizer(std::move(words), max_length);
}

}  // namespace dreamdpo::models
