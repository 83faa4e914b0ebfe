#include "models/clip/clip_bpe_tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/utf8.h"

namespace dreamdpo::models::clip {

namespace {

using core::append_utf8;
using core::decode_utf8;
using core::encode_utf8;

struct CodeRange {
  char32_t first, last;
};
struct CodeMapping {
  char32_t from;
  char32_t to[3];
};

#include "models/clip/clip_unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t c) {
  const auto* end = table + N;
  const auto* it = std::upper_bound(table, end, c, [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != table && c <= (it - 1)->last;
}

template <size_t N>
const CodeMapping* find_mapping(const CodeMapping (&table)[N], char32_t c) {
  const auto* end = table + N;
  const auto* it = std::lower_bound(table, end, c, [](const CodeMapping& m, char32_t v) { return m.from < v; });
  return it != end && it->from == c ? it : nullptr;
}

bool is_letter(char32_t c) { return in_ranges(kLetterRanges, c); }
bool is_number(char32_t c) { return in_ranges(kNumberRanges, c); }
bool is_space(char32_t c) { return in_ranges(kSpaceRanges, c); }

// One pass of HTML character-reference decoding (Python's html.unescape for numeric references
// and the common named ones).
std::u32string unescape_html_once(const std::u32string& s) {
  static const std::pair<const char32_t*, char32_t> kNamed[] = {
      {U"amp", U'&'}, {U"lt", U'<'}, {U"gt", U'>'}, {U"quot", U'"'}, {U"apos", U'\''}, {U"nbsp", 0xA0}};
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i + 1;
    if (j < s.size() && s[j] == U'#') {
      ++j;
      const bool hex = j < s.size() && (s[j] == U'x' || s[j] == U'X');
      if (hex) ++j;
      const size_t digits_start = j;
      uint64_t value = 0;
      while (j < s.size() && j - digits_start < 10 &&
             (hex ? std::isxdigit(static_cast<int>(s[j] < 128 ? s[j] : 0)) : (s[j] >= U'0' && s[j] <= U'9'))) {
        const char32_t d = s[j];
        value = value * (hex ? 16 : 10) + (d <= U'9' ? d - U'0' : (d | 0x20) - U'a' + 10);
        ++j;
      }
      if (j > digits_start) {
        if (j < s.size() && s[j] == U';') ++j;
        const bool invalid = value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF);
        out.push_back(invalid ? char32_t{0xFFFD} : static_cast<char32_t>(value));
        i = j;
        continue;
      }
    } else {
      bool matched = false;
      for (const auto& [name, value] : kNamed) {
        const std::u32string_view n(name);
        if (s.compare(j, n.size(), n) == 0) {
          size_t end = j + n.size();
          const bool semicolon = end < s.size() && s[end] == U';';
          if (!semicolon && n == U"apos") continue;  // html5: &apos needs its ';'
          out.push_back(value);
          i = end + (semicolon ? 1 : 0);
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

// The table-driven ftfy fixes (ligatures, character width), curly quotes and control characters.
std::u32string ftfy_character_fixes(const std::u32string& s) {
  std::u32string out;
  for (char32_t c : s) {
    if (const auto* fix = find_mapping(kCharacterFixes, c)) {
      for (char32_t r : fix->to)
        if (r) out.push_back(r);
      continue;
    }
    out.push_back(c);
  }
  std::u32string result;
  for (char32_t c : out) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    if (c >= 0x201C && c <= 0x201F) c = U'"';
    const bool control = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    if (!control) result.push_back(c);
  }
  return result;
}

// bytes_to_unicode(): printable Latin-1 bytes map to themselves, the others to U+0100 onwards.
const std::vector<std::string>& byte_symbols() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      std::string s;
      append_utf8(s, printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++));
      t[b] = s;
    }
    return t;
  }();
  return table;
}

// The byte order of open_clip's vocabulary: the printable bytes first, then the rest.
std::vector<int> byte_vocab_order() {
  std::vector<int> order;
  for (int b = 0; b < 256; ++b)
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) order.push_back(b);
  for (int b = 0; b < 256; ++b)
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) order.push_back(b);
  return order;
}

std::vector<std::string> split_whitespace(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> parts;
  for (std::string part; in >> part;) parts.push_back(part);
  return parts;
}

std::string read_gzip(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), "CLIP BPE vocabulary ", path.string(), " does not exist");
  gzFile file = gzopen(path.string().c_str(), "rb");
  check(file != nullptr, "cannot open CLIP BPE vocabulary ", path.string());
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) {
    out.append(buffer, static_cast<size_t>(n));
    check(out.size() < (size_t{256} << 20), path.string(), " is larger than any CLIP BPE vocabulary");
  }
  int error = Z_OK;
  const char* message = gzerror(file, &error);
  const std::string detail = message ? message : "";
  gzclose(file);
  check(n == 0 && (error == Z_OK || error == Z_STREAM_END), "CLIP BPE vocabulary ", path.string(),
        " is not a readable gzip file (", detail, ")");
  return out;
}

std::string read_text(const std::filesystem::path& path, const std::string& what) {
  check(std::filesystem::is_regular_file(path), what, " ", path.string(), " does not exist");
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "cannot read ", what, " ", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

}  // namespace

ClipBpeTokenizer ClipBpeTokenizer::from_path(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  check(fs::exists(path), "CLIP tokenizer path ", path.string(), " does not exist (give bpe_simple_vocab_16e6.txt.gz ",
        "or a folder with vocab.json and merges.txt)");
  if (fs::is_directory(path)) {
    for (const auto& dir : {path, path / "tokenizer"}) {
      if (fs::is_regular_file(dir / "vocab.json") && fs::is_regular_file(dir / "merges.txt"))
        return from_hf_files(dir / "vocab.json", dir / "merges.txt");
    }
    fail("CLIP tokenizer folder ", path.string(), " holds no vocab.json + merges.txt (nor does its tokenizer/ subfolder)");
  }
  if (path.filename() == "vocab.json") return from_hf_files(path, path.parent_path() / "merges.txt");
  return from_open_clip_bpe(path);
}

ClipBpeTokenizer ClipBpeTokenizer::from_open_clip_bpe(const std::filesystem::path& gz_path) {
  const auto lines = split_lines(read_gzip(gz_path));
  const std::string origin = "CLIP BPE vocabulary " + gz_path.string();
  ClipBpeTokenizer tok;
  // open_clip: merges = lines[1 : 49152 - 256 - 2 + 1]; vocab = bytes, bytes + "</w>", merges, specials.
  const size_t end = std::min(lines.size(), size_t{49152 - 256 - 2 + 1});
  std::vector<std::pair<std::string, std::string>> merges;
  for (size_t i = 1; i < end; ++i) {
    if (i + 1 == lines.size() && lines[i].empty()) break;  // a final newline
    const auto parts = split_whitespace(lines[i]);
    check(parts.size() == 2, origin, ": line ", i + 1, " is not a merge of two symbols ('", lines[i].substr(0, 60), "')");
    merges.emplace_back(parts[0], parts[1]);
  }
  check(!merges.empty(), origin, " holds no merges");
  int64_t id = 0;
  const auto order = byte_vocab_order();
  for (int b : order) tok.encoder_.emplace(byte_symbols()[b], id++);
  for (int b : order) tok.encoder_.emplace(byte_symbols()[b] + "</w>", id++);
  for (size_t r = 0; r < merges.size(); ++r) {
    tok.encoder_.emplace(merges[r].first + merges[r].second, id++);
    tok.ranks_.emplace(merges[r], static_cast<int64_t>(r));
  }
  tok.encoder_.emplace("<start_of_text>", id++);
  tok.encoder_.emplace("<end_of_text>", id++);
  tok.finish("<start_of_text>", "<end_of_text>", origin);
  return tok;
}

ClipBpeTokenizer ClipBpeTokenizer::from_hf_files(const std::filesystem::path& vocab_json,
                                                 const std::filesystem::path& merges_txt) {
  ClipBpeTokenizer tok;
  const std::string vocab_origin = "CLIP tokenizer vocabulary " + vocab_json.string();
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(read_text(vocab_json, "CLIP tokenizer vocabulary"));
  } catch (const nlohmann::json::exception& e) {
    fail(vocab_origin, " is not valid JSON: ", e.what());
  }
  check(vocab.is_object() && !vocab.empty(), vocab_origin, " must be a JSON object {token: id}");
  for (const auto& [token, value] : vocab.items()) {
    check(value.is_number_integer() && value.get<int64_t>() >= 0, vocab_origin, ": the id of '", token,
          "' is not a non-negative integer");
    tok.encoder_.emplace(token, value.get<int64_t>());
  }
  const std::string merges_origin = "CLIP tokenizer merges " + merges_txt.string();
  const auto lines = split_lines(read_text(merges_txt, "CLIP tokenizer merges"));
  int64_t rank = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0 && lines[i].rfind("#version", 0) == 0) continue;
    if (lines[i].empty()) continue;
    const auto parts = split_whitespace(lines[i]);
    check(parts.size() == 2, merges_origin, ": line ", i + 1, " is not a merge of two symbols ('",
          lines[i].substr(0, 60), "')");
    check(tok.encoder_.count(parts[0] + parts[1]), merges_origin, ": line ", i + 1, " makes '", parts[0] + parts[1],
          "', which ", vocab_json.string(), " lacks (vocab.json and merges.txt do not belong together)");
    tok.ranks_.emplace(std::make_pair(parts[0], parts[1]), rank++);
  }
  check(rank > 0, merges_origin, " holds no merges");
  tok.finish("<|startoftext|>", "<|endoftext|>", vocab_origin);
  return tok;
}

void ClipBpeTokenizer::finish(const std::string& start_token, const std::string& end_token, const std::string& origin) {
  for (const auto& symbol : byte_symbols()) {
    check(encoder_.count(symbol) && encoder_.count(symbol + "</w>"), origin, " lacks the byte symbol '", symbol,
          "': not a CLIP byte-level BPE vocabulary");
  }
  check(encoder_.count(start_token) && encoder_.count(end_token), origin, " lacks the special tokens ", start_token,
        " / ", end_token);
  start_id_ = encoder_.at(start_token);
  end_id_ = encoder_.at(end_token);
  specials_ = {start_token, end_token};
}

std::string ClipBpeTokenizer::clean(const std::string& text) {
  std::u32string s = decode_utf8(text);
  // ftfy: HTML entities (repeated until stable, unless the text holds markup), then its fixes.
  if (s.find(U'<') == std::u32string::npos) {
    for (int pass = 0; pass < 16; ++pass) {
      auto next = unescape_html_once(s);
      if (next == s) break;
      s = std::move(next);
    }
  }
  s = ftfy_character_fixes(s);
  // open_clip: html.unescape(html.unescape(text)).strip(), " ".join(text.split()), lower().
  s = unescape_html_once(unescape_html_once(s));
  std::u32string collapsed;
  for (size_t i = 0; i < s.size();) {
    if (is_space(s[i])) {
      ++i;
      continue;
    }
    if (!collapsed.empty()) collapsed.push_back(U' ');
    while (i < s.size() && !is_space(s[i])) collapsed.push_back(s[i++]);
  }
  std::u32string lowered;
  for (char32_t c : collapsed) {
    if (const auto* low = find_mapping(kLowerCase, c)) {
      for (char32_t r : low->to)
        if (r) lowered.push_back(r);
    } else {
      lowered.push_back(c);
    }
  }
  return encode_utf8(lowered);
}

std::vector<std::string> ClipBpeTokenizer::pre_tokenize(const std::string& cleaned) const {
  // special | 's|'t|'re|'ve|'m|'ll|'d | [\p{L}]+ | [\p{N}] | [^\s\p{L}\p{N}]+  (case-insensitive)
  static const std::u32string kContractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  const std::u32string s = decode_utf8(cleaned);
  std::vector<std::u32string> specials;
  for (const auto& sp : specials_) specials.push_back(decode_utf8(sp));
  auto lower_ascii = [](char32_t c) { return c >= U'A' && c <= U'Z' ? c + 32 : c; };
  auto matches_at = [&](size_t i, const std::u32string& word) {
    if (i + word.size() > s.size()) return false;
    for (size_t k = 0; k < word.size(); ++k)
      if (lower_ascii(s[i + k]) != word[k]) return false;
    return true;
  };
  std::vector<std::string> tokens;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    for (const auto& sp : specials)
      if (!len && matches_at(i, sp)) len = sp.size();
    for (const auto& c : kContractions)
      if (!len && matches_at(i, c)) len = c.size();
    if (!len && is_letter(s[i])) {
      while (i + len < s.size() && is_letter(s[i + len])) ++len;
    } else if (!len && is_number(s[i])) {
      len = 1;
    } else if (!len && !is_space(s[i])) {
      while (i + len < s.size() && !is_space(s[i + len]) && !is_letter(s[i + len]) && !is_number(s[i + len])) ++len;
    }
    if (!len) {  // whitespace separates tokens
      ++i;
      continue;
    }
    tokens.push_back(encode_utf8(s.substr(i, len)));
    i += len;
  }
  return tokens;
}

std::vector<std::string> ClipBpeTokenizer::bpe(const std::string& byte_word) const {
  // Symbols: one per byte symbol (each a UTF-8 code point), "</w>" appended to the last.
  std::vector<std::string> word;
  for (char32_t c : decode_utf8(byte_word)) {
    std::string symbol;
    append_utf8(symbol, c);
    word.push_back(symbol);
  }
  if (word.empty()) return word;
  word.back() += "</w>";
  while (word.size() > 1) {
    int64_t best = std::numeric_limits<int64_t>::max();
    std::pair<std::string, std::string> best_pair;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = ranks_.find({word[i], word[i + 1]});
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        best_pair = it->first;
      }
    }
    if (best == std::numeric_limits<int64_t>::max()) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == best_pair.first && word[i + 1] == best_pair.second) {
        merged.push_back(word[i] + word[i + 1]);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word = std::move(merged);
  }
  return word;
}

std::vector<int64_t> ClipBpeTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& token : pre_tokenize(clean(text))) {
    if (token == specials_[0] || token == specials_[1]) {  // the reference's cache maps these to themselves
      ids.push_back(encoder_.at(token));
      continue;
    }
    std::string byte_word;
    for (unsigned char b : token) byte_word += byte_symbols()[b];
    for (const auto& symbol : bpe(byte_word)) {
      const auto it = encoder_.find(symbol);
      check(it != encoder_.end(), "the CLIP vocabulary has no entry for the BPE symbol '", symbol,
            "' (a merges file that does not match its vocabulary)");
      ids.push_back(it->second);
    }
  }
  return ids;
}

std::vector<int64_t> ClipBpeTokenizer::tokenize_one(const std::string& text, int64_t context_length) const {
  check(context_length >= 2, "CLIP context length must be >= 2, got ", context_length);
  std::vector<int64_t> ids{start_id_};
  const auto body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(end_id_);
  if (static_cast<int64_t>(ids.size()) > context_length) {
    ids.resize(static_cast<size_t>(context_length));
    ids.back() = end_id_;
  }
  ids.resize(static_cast<size_t>(context_length), 0);
  return ids;
}

at::Tensor ClipBpeTokenizer::tokenize(const std::vector<std::string>& texts, int64_t context_length) const {
  at::Tensor out = at::zeros({static_cast<int64_t>(texts.size()), context_length}, at::kLong);
  auto* data = out.data_ptr<int64_t>();
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tokenize_one(texts[i], context_length);
    std::copy(ids.begin(), ids.end(), data + static_cast<int64_t>(i) * context_length);
  }
  return out;
}

}  // namespace dreamdpo::models::clip
