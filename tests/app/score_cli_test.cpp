// `dreamdpo score`: scores printed per image, with the exact template ranker and the LMM ranker
// (against the loopback chat server), and clear errors on bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../rank/chat_test_server.h"
#include "core/png_io.h"
#include "test_helpers.h"

namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using dreamdpo::testing_helpers::CommandResult;

class ScoreCliTest : public dreamdpo::testing_helpers::TempDirTest {
 protected:
  CommandResult run(const std::string& args) { return dreamdpo::testing_helpers::run_dreamdpo("score " + args, dir_); }
  // A white image with a red square in the middle, and a plain white one.
  std::pair<fs::path, fs::path> images() {
    auto square = at::ones({3, 32, 32});
    square.index_put_({at::indexing::Slice(1, 3), at::indexing::Slice(8, 24), at::indexing::Slice(8, 24)}, 0.0);
    const auto a = dir_ / "square.png", b = dir_ / "blank.png";
    dreamdpo::core::write_png(a, square);
    dreamdpo::core::write_png(b, at::ones({3, 32, 32}));
    return {a, b};
  }
};

double score_of(const std::string& line) { return std::stod(line.substr(line.find('\t') + 1)); }

TEST_F(ScoreCliTest, TemplateRankerPrefersTheMatchingImage) {
  const auto [square, blank] = images();
  const auto r = run(square.string() + " " + blank.string() + " --prompt 'a red square' --preset exact --ranker template");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::stringstream lines(r.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(first.substr(0, first.find('\t')), square.string());
  EXPECT_EQ(second.substr(0, second.find('\t')), blank.string());
  EXPECT_GT(score_of(first), score_of(second));
}

TEST_F(ScoreCliTest, LmmRankerScoresThroughTheEndpoint) {
  dreamdpo::testing_helpers::ChatTestServer server([](const nlohmann::json&) { return "Yes\nYes\nNo"; });
  const auto [square, blank] = images();
  const auto questions = dir_ / "q.json";
  std::ofstream(questions) << R"({"a red square": ["Is there a square?", "Is it red?", "Is it blue?"]})";
  const auto r = run(square.string() + " --prompt 'a red square' --preset exact --ranker lmm --set ranker.lmm.base_url=" +
                     server.base_url() + " --set ranker.lmm.model=m --set ranker.lmm.questions_file=" + questions.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, square.string() + "\t2\n");
  EXPECT_EQ(server.chat_requests(), 1u);
}

TEST_F(ScoreCliTest, BadInputIsAClearError) {
  const auto [square, blank] = images();
  auto r = run((dir_ / "missing.png").string() + " --prompt 'a red square' --preset exact --ranker template");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing.png does not exist"));
  r = run(square.string() + " --prompt 'a red square' --preset exact --ranker nosuch");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown ranker 'nosuch'"));
  const int port = dreamdpo::testing_helpers::unused_port();
  r = run(square.string() + " --prompt 'a red square' --preset exact --ranker lmm --set ranker.lmm.model=m"
          " --set ranker.lmm.base_url=http://127.0.0.1:" + std::to_string(port) + "/v1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach the LMM endpoint"));
  EXPECT_EQ(r.out, "");
}

}  // namespace
