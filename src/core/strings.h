// Small string helpers shared by error messages.
#pragma once
#include <string>
#include <type_traits>
#include <vector>

namespace dreamdpo::core {

// "a, b, c" from any range of strings (or of items `to_text` turns into strings).
template <class Range, class ToText,
          class = std::enable_if_t<std::is_invocable_v<ToText, const typename Range::value_type&>>>
std::string join(const Range& items, ToText to_text, const std::string& separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += to_text(item);
  }
  return out;
}

template <class Range>
std::string join(const Range& items, const std::string& separator = ", ") {
  return join(items, [](const auto& item) -> const std::string& { return item; }, separator);
}

// The first `shown` names joined, then " and N more": error messages about checkpoints stay
// readable when a whole network's tensors are listed.
std::string join_first(const std::vector<std::string>& names, size_t shown = 20);

// A folder name from free text: "A red cube, on top!" -> "a-red-cube-on-top" (lower-case
// letters and digits, runs of anything else as one '-'), at most max_length characters,
// `fallback` when nothing is left.
std::string slug(const std::string& text, size_t max_length, const std::string& fallback);

}  // namespace dreamdpo::core
