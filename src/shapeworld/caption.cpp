#include "shapeworld/caption.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace dreamdpo::shapeworld {

namespace {

// ---- The lexicon. The first entry of each list is the canonical word. ----

struct Noun {
  Shape shape;
  std::string singular;
  std::string plural;
};

const std::vector<Noun>& nouns() {
  static const std::vector<Noun> table = {
      {Shape::cube, "cube", "cubes"},       {Shape::cube, "box", "boxes"},
      {Shape::cube, "block", "blocks"},     {Shape::sphere, "sphere", "spheres"},
      {Shape::sphere, "ball", "balls"},     {Shape::cylinder, "cylinder", "cylinders"},
      {Shape::cone, "cone", "cones"},       {Shape::torus, "torus", "tori"},
      {Shape::torus, "torus", "toruses"},   {Shape::torus, "ring", "rings"},
      {Shape::torus, "donut", "donuts"},
  };
  return table;
}

struct SizeWord {
  Size size;
  std::string word;
};

const std::vector<SizeWord>& size_words() {
  static const std::vector<SizeWord> table = {
      {Size::small, "small"}, {Size::small, "little"}, {Size::small, "tiny"},
      {Size::large, "large"}, {Size::large, "big"},
  };
  return table;
}

// `inverse` phrases put the groups the other way round: "A under B" means "B on top of A".
struct RelationPhrase {
  Relation relation;
  bool inverse;
  std::vector<std::string> words;
};

const std::vector<RelationPhrase>& relation_phrases() {
  static const std::vector<RelationPhrase> table = {
      {Relation::on_top_of, false, {"on", "top", "of"}},
      {Relation::on_top_of, false, {"on"}},
      {Relation::on_top_of, false, {"above"}},
      {Relation::on_top_of, false, {"resting", "on"}},
      {Relation::on_top_of, true, {"under"}},
      {Relation::on_top_of, true, {"below"}},
      {Relation::on_top_of, true, {"beneath"}},
      {Relation::on_top_of, true, {"underneath"}},
      {Relation::next_to, false, {"next", "to"}},
      {Relation::next_to, false, {"beside"}},
      {Relation::next_to, false, {"by"}},
  };
  return table;
}

const std::vector<std::string> kSingleDeterminers = {"a", "an", "one"};
const std::vector<std::string> kCountWords = {"", "one", "two", "three"};  // index = count

std::string phrase_text(const RelationPhrase& p) { return core::join(p.words, std::string(" ")); }

std::string quoted_list(const std::vector<std::string>& words) {
  return core::join(words, [](const std::string& w) { return "'" + w + "'"; });
}

size_t pick(core::Rng& rng, size_t n) { return static_cast<size_t>(rng.integer(0, static_cast<int64_t>(n) - 1)); }

bool starts_with_vowel(const std::string& word) {
  return !word.empty() && std::string("aeiou").find(word[0]) != std::string::npos;
}

// ---- Writing ----

std::string write_group(const ObjectGroup& g, bool canonical_form, core::Rng* rng) {
  std::vector<const Noun*> candidates;
  for (const auto& n : nouns())
    if (n.shape == g.shape && (candidates.empty() || candidates.back()->singular != n.singular))
      candidates.push_back(&n);
  const Noun& noun = *candidates[canonical_form ? 0 : pick(*rng, candidates.size())];

  std::vector<std::string> adjectives;
  if (g.size != Size::medium) {
    std::vector<std::string> synonyms;
    for (const auto& s : size_words())
      if (s.size == g.size) synonyms.push_back(s.word);
    adjectives.push_back(synonyms[canonical_form ? 0 : pick(*rng, synonyms.size())]);
  }
  adjectives.push_back(name(g.colour));
  // English prefers size before colour; "a red small cube" is still understood.
  if (!canonical_form && adjectives.size() == 2 && pick(*rng, 2) == 1) std::swap(adjectives[0], adjectives[1]);

  std::string determiner;
  if (g.count > 1) {
    determiner = kCountWords[g.count];
  } else if (!canonical_form && pick(*rng, 4) == 0) {
    determiner = "one";
  } else {
    determiner = starts_with_vowel(adjectives[0]) ? "an" : "a";
  }
  return determiner + " " + core::join(adjectives, std::string(" ")) + " " + (g.count > 1 ? noun.plural : noun.singular);
}

// ---- Parsing ----

struct Cursor {
  const std::string& caption;
  const std::vector<std::string>& words;
  size_t pos = 0;

  bool done() const { return pos >= words.size(); }
  const std::string& peek() const { return words[pos]; }
  // "'red' (word 3)" or "the end of the caption", for error messages.
  std::string here() const {
    if (done()) return "the end of the caption";
    return "'" + words[pos] + "' (word " + std::to_string(pos + 1) + ")";
  }
  [[noreturn]] void expected(const std::string& what) const {
    fail("cannot read caption \"", caption, "\": expected ", what, ", got ", here());
  }
};

const std::string& determiner_list() {
  static const std::string text = "a count word (a, an, one, two, three)";
  return text;
}

ObjectGroup parse_group(Cursor& c) {
  ObjectGroup g;
  if (c.done()) c.expected(determiner_list());
  const std::string& det = c.peek();
  if (std::find(kSingleDeterminers.begin(), kSingleDeterminers.end(), det) != kSingleDeterminers.end()) {
    g.count = 1;
  } else if (det == "two") {
    g.count = 2;
  } else if (det == "three") {
    g.count = 3;
  } else {
    c.expected(determiner_list());
  }
  const size_t group_start = c.pos;
  ++c.pos;

  std::optional<Colour> colour;
  std::optional<Size> size;
  while (!c.done()) {
    const std::string& w = c.peek();
    const auto colour_it = std::find_if(kColours.begin(), kColours.end(), [&](Colour k) { return w == name(k); });
    const auto size_it =
        std::find_if(size_words().begin(), size_words().end(), [&](const SizeWord& s) { return w == s.word; });
    if (colour_it != kColours.end()) {
      if (colour) c.expected("one colour per object (already have '" + std::string(name(*colour)) + "')");
      colour = *colour_it;
    } else if (size_it != size_words().end()) {
      if (size) c.expected("one size word per object");
      size = size_it->size;
    } else {
      break;
    }
    ++c.pos;
  }

  if (c.done()) c.expected("a shape (cube, box, block, sphere, ball, cylinder, cone, torus, ring, donut)");
  const std::string& word = c.peek();
  const auto noun = std::find_if(nouns().begin(), nouns().end(),
                                 [&](const Noun& n) { return word == n.singular || word == n.plural; });
  if (noun == nouns().end())
    c.expected("a colour, a size or a shape (cube, box, block, sphere, ball, cylinder, cone, torus, ring, donut)");
  const bool plural = word == noun->plural;
  if (g.count == 1 && plural)
    c.expected("a singular shape after '" + c.words[group_start] + "' (e.g. '" + noun->singular + "')");
  if (g.count > 1 && !plural)
    c.expected("a plural shape after '" + c.words[group_start] + "' (e.g. '" + noun->plural + "')");
  g.shape = noun->shape;
  if (!colour)
    fail("cannot read caption \"", c.caption, "\": the ", word, " (word ", c.pos + 1,
         ") needs a colour: one of ", core::join(kColours, [](Colour k) { return std::string(name(k)); }));
  g.colour = *colour;
  g.size = size.value_or(Size::medium);
  ++c.pos;
  return g;
}

// The longest relation phrase at the cursor ("on top of" before "on").
const RelationPhrase& parse_relation(Cursor& c) {
  const RelationPhrase* best = nullptr;
  for (const auto& p : relation_phrases()) {
    if (c.pos + p.words.size() > c.words.size()) continue;
    if (!std::equal(p.words.begin(), p.words.end(), c.words.begin() + static_cast<std::ptrdiff_t>(c.pos))) continue;
    if (!best || p.words.size() > best->words.size()) best = &p;
  }
  if (!best) {
    std::vector<std::string> phrases;
    for (const auto& p : relation_phrases()) phrases.push_back(phrase_text(p));
    c.expected("the end of the caption or a relation (" + core::join(phrases) + ")");
  }
  c.pos += best->words.size();
  return *best;
}

std::vector<std::string> split_words(const std::string& caption) {
  std::string text;
  for (char ch : caption) text += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // One trailing period (possibly followed by spaces) ends a sentence.
  const auto last = text.find_last_not_of(" \t\r\n");
  if (last != std::string::npos && text[last] == '.') text.erase(last);
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> out = {"a", "an", "one", "two", "three"};
    for (const auto& s : size_words()) out.push_back(s.word);
    for (Colour k : kColours) out.push_back(name(k));
    for (const auto& n : nouns())
      for (const auto* w : {&n.singular, &n.plural})
        if (std::find(out.begin(), out.end(), *w) == out.end()) out.push_back(*w);
    for (const auto& p : relation_phrases())
      for (const auto& w : p.words)
        if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
    return out;
  }();
  return words;
}

std::string write_caption(const SceneSpec& input, core::Rng& rng) {
  SceneSpec spec = canonical(input);
  std::string relation_text;
  if (spec.relation == Relation::next_to) {
    // Symmetric: either group may come first.
    if (pick(rng, 2) == 1) std::swap(spec.groups[0], spec.groups[1]);
  }
  if (spec.relation != Relation::none) {
    std::vector<const RelationPhrase*> phrases;
    for (const auto& p : relation_phrases())
      if (p.relation == spec.relation) phrases.push_back(&p);
    const RelationPhrase& phrase = *phrases[pick(rng, phrases.size())];
    if (phrase.inverse) std::swap(spec.groups[0], spec.groups[1]);
    relation_text = phrase_text(phrase);
  }
  std::string text = write_group(spec.groups[0], false, &rng);
  if (spec.groups.size() == 2) text += " " + relation_text + " " + write_group(spec.groups[1], false, &rng);
  if (pick(rng, 2) == 1) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  if (pick(rng, 2) == 1) text += ".";
  return text;
}

std::string canonical_caption(const SceneSpec& input) {
  const SceneSpec spec = canonical(input);
  std::string text = write_group(spec.groups[0], true, nullptr);
  if (spec.groups.size() == 2) {
    text += spec.relation == Relation::on_top_of ? " on top of " : " next to ";
    text += write_group(spec.groups[1], true, nullptr);
  }
  return text;
}

SceneSpec parse_caption(const std::string& caption) {
  const std::vector<std::string> words = split_words(caption);
  check(!words.empty(), "the caption is empty; describe 1 to 3 objects, e.g. \"a red cube on top of a blue sphere\"");

  std::vector<std::string> unknown;
  const std::set<std::string> known(vocabulary().begin(), vocabulary().end());
  for (const auto& w : words)
    if (!known.count(w) && std::find(unknown.begin(), unknown.end(), w) == unknown.end()) unknown.push_back(w);
  check(unknown.empty(), "caption \"", caption, "\" uses words outside ShapeWorld's vocabulary: ", quoted_list(unknown),
        ". Known words: ", core::join(vocabulary()));

  Cursor c{caption, words};
  SceneSpec spec;
  spec.groups.push_back(parse_group(c));
  if (!c.done()) {
    const RelationPhrase& phrase = parse_relation(c);
    spec.groups.push_back(parse_group(c));
    spec.relation = phrase.relation;
    if (phrase.inverse) std::swap(spec.groups[0], spec.groups[1]);
    if (!c.done()) c.expected("the end of the caption (at most two groups of objects)");
  }
  const std::string why = spec.problem();
  check(why.empty(), "caption \"", caption, "\" describes an impossible scene: ", why);
  return canonical(spec);
}

}  // namespace dreamdpo::shapeworld
