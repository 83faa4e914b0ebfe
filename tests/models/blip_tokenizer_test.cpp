// BERT WordPiece tokenizer: ids equal transformers' BertTokenizer (with BLIP's added tokens) on
// tricky prompts, plus the BasicTokenizer rules one by one and the vocabulary errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "blip_fixture.h"
#include "models/blip/bert_wordpiece_tokenizer.h"
#include "test_helpers.h"

namespace dreamdpo::models::blip {
namespace {
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_helpers::error_of;

BertWordPieceTokenizer tiny() {
  return BertWordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "cube", "un", "##believ",
                                 "##able", "cafe", ",", "!", "猫", "1", "##2"},
                                "tiny");
}

TEST(BlipTokenizer, IdsEqualTransformersBertTokenizer) {
  const auto path = testing_helpers::kImageRewardFixtures / "tokenizer.safetensors";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no tokenizer fixture (made where transformers is installed)";
  const auto file = core::read_safetensors(path);
  const auto tokenizer = BertWordPieceTokenizer::from_file(testing_helpers::kImageRewardFixtures / "vocab.txt");
  EXPECT_EQ(tokenizer.bos_id(), std::stoll(file.metadata.at("bos_token_id")));
  EXPECT_EQ(tokenizer.enc_token_id(), std::stoll(file.metadata.at("enc_token_id")));
  const auto prompts = nlohmann::json::parse(file.metadata.at("prompts"));
  const auto& ids = file.tensors.at("expected.input_ids");
  const auto& masks = file.tensors.at("expected.attention_mask");
  ASSERT_EQ(ids.size(0), static_cast<int64_t>(prompts.size()));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto prompt = prompts[i].get<std::string>();
    const auto encoded = tokenizer.encode(prompt, 35);
    EXPECT_TRUE(at::equal(encoded.input_ids[0], ids[i])) << "prompt '" << prompt << "'\n ours " << encoded.input_ids
                                                         << "\n reference " << ids[i];
    EXPECT_TRUE(at::equal(encoded.attention_mask[0], masks[i])) << "prompt '" << prompt << "'";
  }
}

TEST(BlipTokenizer, BasicTokenizerRules) {
  // Lower case, accents stripped (NFD, Mn dropped), punctuation split.
  EXPECT_THAT(BertWordPieceTokenizer::basic_tokenize("Café Crème, naïve!"),
              ElementsAre("cafe", "creme", ",", "naive", "!"));
  // CJK characters stand alone; Hangul decomposes into jamo (NFD), not split.
  EXPECT_THAT(BertWordPieceTokenizer::basic_tokenize("a猫b 한"), ElementsAre("a", "猫", "b", "\u1112\u1161\u11AB"));
  // Control characters vanish, tabs/newlines split, U+FFFD dropped.
  EXPECT_THAT(BertWordPieceTokenizer::basic_tokenize("x\x07y\tz\n\xEF\xBF\xBDw"), ElementsAre("xy", "z", "w"));
  EXPECT_THAT(BertWordPieceTokenizer::basic_tokenize("ÀÉ İ ß ΑΒΓ"), ElementsAre("ae", "i", "ß", "αβγ"));
  EXPECT_THAT(BertWordPieceTokenizer::basic_tokenize("10:30pm $5"), ElementsAre("10", ":", "30pm", "$", "5"));
  EXPECT_THAT(error_of([] { BertWordPieceTokenizer::basic_tokenize("bad \xC3"); }), HasSubstr("not valid UTF-8"));
}

TEST(BlipTokenizer, WordPieceSpecialTokensPaddingAndTruncation) {
  const auto t = tiny();
  EXPECT_EQ(t.bos_id(), 17);  // [DEC] = len(vocab), [ENC] = len(vocab) + 1, as blip.py init_tokenizer
  EXPECT_EQ(t.enc_token_id(), 18);
  EXPECT_EQ(t.vocab_size(), 19);
  EXPECT_THAT(t.tokenize("Unbelievable RED cube!"), ElementsAre("un", "##believ", "##able", "red", "cube", "!"));
  EXPECT_THAT(t.tokenize("blue 12 猫"), ElementsAre("[UNK]", "1", "##2", "猫"));
  EXPECT_THAT(t.tokenize(std::string(101, 'a')), ElementsAre("[UNK]"));  // > 100 chars per word
  // Special tokens match verbatim, case-sensitively ("[enc]" is three unknown pieces here).
  EXPECT_THAT(t.tokenize("a[ENC]cube [enc]"), ElementsAre("a", "[ENC]", "cube", "[UNK]", "[UNK]", "[UNK]"));
  EXPECT_EQ(t.ids("[DEC][ENC]"), (std::vector<int64_t>{17, 18}));
  const auto e = t.encode("a red cube", 6);
  EXPECT_TRUE(at::equal(e.input_ids, at::tensor({2, 5, 6, 7, 3, 0}, at::kLong).view({1, 6})));
  EXPECT_TRUE(at::equal(e.attention_mask, at::tensor({1, 1, 1, 1, 1, 0}, at::kLong).view({1, 6})));
  const auto cut = t.encode("a red cube a red cube", 5);  // truncation keeps [SEP]
  EXPECT_TRUE(at::equal(cut.input_ids, at::tensor({2, 5, 6, 7, 3}, at::kLong).view({1, 5})));
  EXPECT_EQ(t.encode("", 35).attention_mask.sum().item<int64_t>(), 2);
}

TEST(BlipTokenizer, MissingMaskIsAddedBeforeDecAndEnc) {
  // from_pretrained's sanitize_special_tokens adds [MASK] (id len(vocab)) before init_tokenizer adds
  // [DEC] and [ENC]; ids checked against the reference classes (make_imagereward_fixtures.py).
  const BertWordPieceTokenizer t({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "red"}, "no-mask");
  EXPECT_EQ(t.id_of("[MASK]"), 6);
  EXPECT_EQ(t.bos_id(), 7);
  EXPECT_EQ(t.enc_token_id(), 8);
  EXPECT_EQ(t.vocab_size(), 9);
  const auto e = t.encode("a [MASK] red", 8);
  EXPECT_TRUE(at::equal(e.input_ids, at::tensor({2, 4, 6, 5, 3, 0, 0, 0}, at::kLong).view({1, 8})));
}

TEST(BlipTokenizer, VocabularyErrorsNameTheFile) {
  EXPECT_THAT(error_of([] { BertWordPieceTokenizer::from_file("/nonexistent/vocab.txt"); }),
              HasSubstr("cannot read the BERT vocabulary /nonexistent/vocab.txt"));
  EXPECT_THAT(error_of([] { BertWordPieceTokenizer({"[PAD]", "[UNK]", "[SEP]"}, "v.txt"); }),
              HasSubstr("v.txt has no [CLS] token"));
  EXPECT_THAT(error_of([] { BertWordPieceTokenizer({}, "v.txt"); }), HasSubstr("v.txt is empty"));
}

}  // namespace
}  // namespace dreamdpo::models::blip
