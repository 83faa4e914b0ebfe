// The CLIP BPE tokenizer against open_clip's SimpleTokenizer (with the real ftfy) on tricky
// prompts, with a truncated vocabulary (the first 2000 merges), read both as open_clip's .gz and
// in the Hugging Face layout; and its errors on missing or damaged files.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "models/clip/clip_bpe_tokenizer.h"
#include "models/clip_fixture.h"
#include "test_helpers.h"

namespace dreamdpo {
namespace {

namespace fs = std::filesystem;
using models::clip::ClipBpeTokenizer;
using testing_helpers::error_of;

fs::path gz_path() { return clip_testing::fixture_dir() / "bpe_simple_vocab_first2000.txt.gz"; }
fs::path hf_dir() { return clip_testing::fixture_dir() / "hf_tokenizer"; }

void expect_reference_ids(const ClipBpeTokenizer& tok, const std::string& layout) {
  const auto f = clip_testing::fixture("tokenizer");
  const auto prompts = nlohmann::json::parse(f.metadata.at("prompts")).get<std::vector<std::string>>();
  const auto& expected = f.tensors.at("expected.ids");
  const auto& unpadded = f.tensors.at("expected.unpadded_ids");
  ASSERT_EQ(expected.size(0), static_cast<int64_t>(prompts.size()));
  const auto ours = tok.tokenize(prompts);
  for (size_t i = 0; i < prompts.size(); ++i) {
    // open_clip's special-token strings are plain text to a Hugging Face vocabulary (whose
    // specials are <|startoftext|> / <|endoftext|>), as in transformers' CLIPTokenizer.
    if (layout != "open_clip .gz" && prompts[i].find("_of_text>") != std::string::npos) continue;
    EXPECT_TRUE(at::equal(ours[i], expected[i])) << layout << ": prompt '" << prompts[i] << "'\n ours " << ours[i]
                                                 << "\n reference " << expected[i];
    const auto body = tok.encode(prompts[i]);
    const auto row = unpadded[i];
    std::vector<int64_t> reference;
    for (int64_t k = 1; k < row.size(0) && row[k].item<int64_t>() >= 0; ++k) reference.push_back(row[k].item<int64_t>());
    reference.pop_back();  // the end token
    EXPECT_EQ(body, reference) << layout << ": prompt '" << prompts[i] << "'";
  }
}

TEST(ClipBpeTokenizer, OpenClipGzipIdsEqualReference) {
  const auto tok = ClipBpeTokenizer::from_path(gz_path());
  EXPECT_EQ(tok.vocab_size(), 2514);
  EXPECT_EQ(tok.start_id(), 2512);
  EXPECT_EQ(tok.end_id(), 2513);
  expect_reference_ids(tok, "open_clip .gz");
}

TEST(ClipBpeTokenizer, HuggingFaceFolderIdsEqualReference) {
  const auto tok = ClipBpeTokenizer::from_path(hf_dir());
  EXPECT_EQ(tok.start_id(), 2512);
  EXPECT_EQ(tok.end_id(), 2513);
  expect_reference_ids(tok, "vocab.json + merges.txt");
  EXPECT_EQ(ClipBpeTokenizer::from_path(hf_dir() / "vocab.json").tokenize_one("a red cube"),
            tok.tokenize_one("a red cube"));
  EXPECT_EQ(tok.encode("a <|endoftext|> b")[1], tok.end_id());
}

TEST(ClipBpeTokenizer, LongTextKeepsEndTokenLastAndPadsWithZero) {
  const auto tok = ClipBpeTokenizer::from_path(gz_path());
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "cube ";
  const auto ids = tok.tokenize_one(long_text);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.front(), tok.start_id());
  EXPECT_EQ(ids.back(), tok.end_id());
  const auto empty = tok.tokenize_one("");
  EXPECT_EQ(empty[0], tok.start_id());
  EXPECT_EQ(empty[1], tok.end_id());
  EXPECT_EQ(empty[2], 0);
}

TEST(ClipBpeTokenizer, CleaningFollowsFtfyAndOpenClip) {
  EXPECT_EQ(ClipBpeTokenizer::clean("  Don\u2019t \u201cStop\u201d  "), "don't \"stop\"");
  EXPECT_EQ(ClipBpeTokenizer::clean("\uff26\uff35\uff2c\uff2c \ufb01ne"), "full fine");
  EXPECT_EQ(ClipBpeTokenizer::clean("fish &amp;amp; chips&#33;"), "fish & chips!");
  EXPECT_EQ(ClipBpeTokenizer::clean("a\u00a0b\tc\n\nd"), "a b c d");
  EXPECT_EQ(ClipBpeTokenizer::clean("\u00c9T\u00c9 \u0391\u0392\u0393"), "\u00e9t\u00e9 \u03b1\u03b2\u03b3");
}

TEST(ClipBpeTokenizer, MissingOrDamagedFilesGiveClearErrors) {
  const auto dir = fs::temp_directory_path() / ("dreamdpo_clip_tok_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  EXPECT_NE(error_of([&] { ClipBpeTokenizer::from_path(dir / "nope.txt.gz"); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ClipBpeTokenizer::from_path(dir); }).find("holds no vocab.json + merges.txt"),
            std::string::npos);
  { std::ofstream(dir / "garbage.txt.gz", std::ios::binary) << "\x1f\x8b\x08\x00garbage-not-deflate"; }
  const auto gz = error_of([&] { ClipBpeTokenizer::from_path(dir / "garbage.txt.gz"); });
  EXPECT_NE(gz.find("garbage.txt.gz"), std::string::npos) << gz;
  { std::ofstream(dir / "vocab.json") << "{not json"; }
  { std::ofstream(dir / "merges.txt") << "#version: 0.2\na b\n"; }
  EXPECT_NE(error_of([&] { ClipBpeTokenizer::from_path(dir); }).find("is not valid JSON"), std::string::npos);
  { std::ofstream(dir / "vocab.json") << R"({"a": 0, "b": 1})"; }
  const auto mismatch = error_of([&] { ClipBpeTokenizer::from_path(dir); });
  EXPECT_NE(mismatch.find("merges.txt: line 2"), std::string::npos) << mismatch;
  { std::ofstream(dir / "merges.txt") << "#version: 0.2\n"; }
  EXPECT_NE(error_of([&] { ClipBpeTokenizer::from_path(dir); }).find("holds no merges"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dreamdpo
