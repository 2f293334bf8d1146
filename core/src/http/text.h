// Small helpers for HTTP's ASCII text, shared by the request parser (server side) and the
// Send API answer parser (client side).
#pragma once

#include <algorithm>
#include <string_view>

namespace gateway::http {

// Strips HTTP's optional whitespace (spaces and tabs) from both ends.
inline std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Equal without regard to ASCII case (header names, tokens such as "chunked" or "close").
// Only A-Z fold, so bytes that are no letters never match one another.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return fold(x) == fold(y); });
}

}  // namespace gateway::http
