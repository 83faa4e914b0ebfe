#include "core/strings.h"

#include <algorithm>
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

std::string join_first(const std::vector<std::string>& names, size_t shown) {
  const std::vector<std::string> head(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(names.size(), shown)));
  std::string text = join(head);
  if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
  return text;
}

}  // namespace dreamdpo::core
