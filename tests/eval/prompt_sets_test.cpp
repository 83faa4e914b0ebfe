// The shipped prompt sets: the ShapeWorld set parses with the grammar and covers every kind of
// caption the issue asks for; the reader skips comments and blank lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "eval/eval_runner.h"
#include "shapeworld/caption.h"
#include "test_helpers.h"

namespace dreamdpo::eval {
namespace {

TEST(PromptSets, ShapeWorldSetParsesAndCoversSinglesCountsAndRelations) {
  const auto prompts = read_prompts(std::filesystem::path(DREAMDPO_SOURCE_DIR) / "prompts" / "shapeworld.txt");
  EXPECT_GE(prompts.size(), 60u);
  int singles = 0, counts = 0, on_top = 0, next_to = 0;
  for (const auto& prompt : prompts) {
    const auto spec = shapeworld::parse_caption(prompt);  // throws on any prompt outside the grammar
    if (spec.relation == shapeworld::Relation::on_top_of) ++on_top;
    else if (spec.relation == shapeworld::Relation::next_to) ++next_to;
    else if (spec.groups[0].count == 1) ++singles;
    else ++counts;
  }
  EXPECT_GE(singles, 20);
  EXPECT_GE(counts, 5);
  EXPECT_GE(on_top, 5);
  EXPECT_GE(next_to, 5);
}

TEST(PromptSets, GptEval3dSetHasAll110Prompts) {
  const auto prompts = read_prompts(std::filesystem::path(DREAMDPO_SOURCE_DIR) / "prompts" / "gpteval3d.txt");
  EXPECT_EQ(prompts.size(), 110u);
  EXPECT_EQ(prompts.front(), "A torn hat");
}

TEST(PromptSets, ReaderSkipsCommentsAndBlankLinesAndRejectsEmptyFiles) {
  const auto path = std::filesystem::temp_directory_path() / ("dreamdpo_prompts_" + std::to_string(getpid()));
  core::write_file_atomic(path, "# a comment\n\n  a red cube  \r\nblue\n");
  EXPECT_EQ(read_prompts(path), (std::vector<std::string>{"a red cube", "blue"}));
  core::write_file_atomic(path, "a red cube\nblue\nA red cube!\n");
  EXPECT_THAT(testing_helpers::error_of([&] { read_prompts(path); }),
              ::testing::HasSubstr(":3: 'A red cube!' repeats the prompt of line 1"));
  core::write_file_atomic(path, "# nothing\n\n");
  EXPECT_THAT(testing_helpers::error_of([&] { read_prompts(path); }), ::testing::HasSubstr("holds no prompt"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace dreamdpo::eval
