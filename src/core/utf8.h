// UTF-8 <-> code points, for the tokenizers (CLIP BPE, BERT WordPiece), which work on Unicode
// characters as Python's str does.
#pragma once
#include <string>

namespace dreamdpo::core {

// Strict: an invalid, truncated, overlong or surrogate sequence is an Error naming its byte.
std::u32string decode_utf8(const std::string& text);
void append_utf8(std::string& out, char32_t c);
std::string encode_utf8(const std::u32string& text);

}  // namespace dreamdpo::core
