#include "core/strings.h"

#include <cctype>

namespace dreamdpo::core {

std::string slug(const std::string& text, size_t max_length, const std::string& fallback) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_length) break;
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? fallback : out;
}

}  // namespace dreamdpo::core
