// Base64 (RFC 4648, with padding): for data: URIs in self-contained HTML reports.
#pragma once
#include <string>
#include <string_view>

namespace dreamdpo::core {

std::string base64_encode(std::string_view bytes);

}  // namespace dreamdpo::core
