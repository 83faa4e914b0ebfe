// UTF-8 decoding/encoding shared by the tokenizers: round trips across all sequence lengths,
// and every kind of invalid input is an error naming its byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/utf8.h"
#include "test_helpers.h"

namespace dreamdpo::core {
namespace {
using ::testing::HasSubstr;

TEST(Utf8, RoundTripsOneToFourByteSequences) {
  const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a, é, 中, 😀
  const auto points = decode_utf8(text);
  EXPECT_EQ(points, (std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600}));
  EXPECT_EQ(encode_utf8(points), text);
}

TEST(Utf8, InvalidSequencesAreErrorsNamingTheByte) {
  EXPECT_THAT(testing_helpers::error_of([] { decode_utf8("ab\xC3"); }), HasSubstr("not valid UTF-8 (byte 2)"));
  EXPECT_THAT(testing_helpers::error_of([] { decode_utf8("\xC3(x"); }), HasSubstr("(byte 1)"));     // bad continuation
  EXPECT_THAT(testing_helpers::error_of([] { decode_utf8("\xC0\xAF"); }), HasSubstr("(byte 0)"));   // overlong '/'
  EXPECT_THAT(testing_helpers::error_of([] { decode_utf8("\xED\xA0\x80"); }), HasSubstr("(byte 0)"));  // surrogate
  EXPECT_THAT(testing_helpers::error_of([] { decode_utf8("\xFF"); }), HasSubstr("(byte 0)"));
}

}  // namespace
}  // namespace dreamdpo::core
