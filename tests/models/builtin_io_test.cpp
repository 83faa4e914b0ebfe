// The built-in models' word tokenizer and strict module weight files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <unistd.h>

#include <filesystem>

#include "core/safetensors.h"
#include "models/builtin/word_tokenizer.h"
#include "models/module_io.h"
#include "test_helpers.h"

namespace dreamdpo::models {
namespace {
using ::testing::HasSubstr;
using testing_helpers::error_of;

TEST(WordTokenizer, EncodesPadsAndRejectsUnknownOrLongCaptions) {
  WordTokenizer tokenizer({"a", "red", "cube", "on", "top", "of"}, 6);
  const auto ids = tokenizer.encode({"A red cube.", ""});
  EXPECT_TRUE(at::equal(ids, at::tensor({1, 2, 3, 4, 0, 0, 1, 0, 0, 0, 0, 0}, at::kLong).view({2, 6})));
  EXPECT_EQ(tokenizer.vocabulary_size(), 8);
  const auto message = error_of([&] { tokenizer.encode({"a zebra on a unicorn"}); });
  EXPECT_THAT(message, HasSubstr("words 'zebra', 'unicorn'"));
  EXPECT_THAT(message, HasSubstr("they know: a, red, cube"));
  EXPECT_THAT(error_of([&] { tokenizer.encode({"a red cube on top of a"}); }), HasSubstr("at most 5"));
  const auto copy = WordTokenizer::deserialise(tokenizer.serialise(), 6);
  EXPECT_TRUE(at::equal(copy.encode({"red cube"}), tokenizer.encode({"red cube"})));
}

struct TwoLayers : torch::nn::Module {
  TwoLayers() {
    first = register_module("first", torch::nn::Linear(3, 4));
    second = register_module("second", torch::nn::Linear(4, 2));
  }
  torch::nn::Linear first{nullptr}, second{nullptr};
};

TEST(ModuleIo, RoundTripsAndNamesEveryMismatch) {
  const auto path = std::filesystem::temp_directory_path() / ("dreamdpo_module_io_" + std::to_string(getpid()));
  TwoLayers a;
  save_module(a, path, {{"kind", "two-layers"}});
  TwoLayers b;
  EXPECT_EQ(load_module(b, path).at("kind"), "two-layers");
  EXPECT_TRUE(at::equal(a.second->weight, b.second->weight));
  auto tensors = core::read_safetensors(path).tensors;
  tensors.erase("first.bias");
  tensors["third.weight"] = at::zeros({1});
  tensors["second.weight"] = at::zeros({3, 4});
  const auto message = error_of([&] { load_state(b, tensors, "file.safetensors"); });
  EXPECT_THAT(message, HasSubstr("missing first.bias"));
  EXPECT_THAT(message, HasSubstr("unexpected third.weight"));
  EXPECT_THAT(message, HasSubstr("wrong shape second.weight"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace dreamdpo::models
