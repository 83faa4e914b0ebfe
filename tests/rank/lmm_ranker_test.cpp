// The LMM ranker against a real chat-completions server on loopback: requests, answers, every
// fault, and a generate run that completes through them.
#include "rank/lmm/lmm_ranker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "chat_test_server.h"
#include "core/atomic_file.h"
#include "core/config.h"
#include "core/png_io.h"
#include "generate/generate.h"
#include "test_helpers.h"

namespace dreamdpo::rank {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing_helpers::ChatTestServer;
using testing_helpers::error_of;
using testing_helpers::ScriptedAnswer;
using ::testing::HasSubstr;

std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0, value = 0;
  for (char c : text) {
    if (c == '=') break;
    value = (value << 6) | static_cast<int>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((value >> bits) & 0xff));
    }
  }
  return out;
}

bool has_image(const json& request) { return request.dump().find("image_url") != std::string::npos; }

// Three answers per image, two of them Yes; question-writing requests get two questions.
std::string default_reply(const json& request) {
  if (has_image(request)) return "1. Yes, it is.\n2. No\n3. yes";
  return "Sure, here they are:\n1. Is there a red square?\n2. Is the background white?\n";
}

class LmmRankerTest : public testing_helpers::TempDirTest {
 protected:
  LmmConfig config(const ChatTestServer& server) {
    LmmConfig c;
    c.base_url = server.base_url();
    c.model = "test-model";
    c.timeout_s = 0.3;
    c.retries = 0;
    c.backoff_s = 0.01;
    c.image_size = 24;
    const auto file = dir_ / "questions.json";
    core::write_file_atomic(file, R"({"a red square": ["Is there a square?", "Is it red?", "Is it alone?"]})");
    c.questions_file = file.string();
    return c;
  }
  static at::Tensor images(int64_t n) { return at::rand({n, 3, 16, 16}); }
  ChatTestServer server_{default_reply};
};

TEST_F(LmmRankerTest, CountsAnswersWithYes) {
  EXPECT_EQ(count_yes_answers("1. Yes\n2. No\n3. Yes, clearly", 3), 2);
  EXPECT_EQ(count_yes_answers("Yes, No, No", 3), 1);
  EXPECT_EQ(count_yes_answers("1. Yes\n2. No\n3. Yes\n4. Yes", 3), 2);  // extra answers ignored
  EXPECT_EQ(count_yes_answers("I cannot tell.", 2), std::nullopt);
  EXPECT_EQ(count_yes_answers("Yes", 2), std::nullopt);
  EXPECT_EQ(count_yes_answers("Yesterday, nobody", 1), std::nullopt);  // whole words only
  EXPECT_EQ(parse_question_lines("Here:\n1. Is it red?\n- Is it round?\n\nThanks", 5),
            (std::vector<std::string>{"Is it red?", "Is it round?"}));
}

TEST_F(LmmRankerTest, SendsImagesQuestionsModelAndKey) {
  ::setenv("DREAMDPO_TEST_LMM_KEY", "sk-test-123", 1);
  auto c = config(server_);
  c.api_key_env = "DREAMDPO_TEST_LMM_KEY";
  LmmRanker ranker(c, "");
  const auto scores = ranker.score(images(3), "a red square");
  EXPECT_TRUE(at::equal(scores, at::full({3}, 2.0f)));

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 4u);  // the probe, then one request per view
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/v1/models");
  for (size_t i = 1; i < requests.size(); ++i) {
    const auto& r = requests[i];
    EXPECT_EQ(r.path, "/v1/chat/completions");
    EXPECT_EQ(r.authorization, "Bearer sk-test-123");
    const auto body = json::parse(r.body);
    EXPECT_EQ(body["model"], "test-model");
    const auto& content = body["messages"][0]["content"];
    ASSERT_EQ(content.size(), 2u);
    EXPECT_EQ(content[0]["type"], "text");
    for (const char* q : {"1. Is there a square?", "2. Is it red?", "3. Is it alone?"}) {
      EXPECT_THAT(content[0]["text"].get<std::string>(), HasSubstr(q));
    }
    EXPECT_EQ(content[1]["type"], "image_url");
    const auto url = content[1]["image_url"]["url"].get<std::string>();
    const std::string prefix = "data:image/png;base64,";
    ASSERT_EQ(url.rfind(prefix, 0), 0u);
    const auto png = dir_ / ("view" + std::to_string(i) + ".png");
    core::write_file_atomic(png, base64_decode(url.substr(prefix.size())));
    EXPECT_EQ(core::read_png(png).sizes(), (at::IntArrayRef{3, 24, 24}));  // resized to image_size
  }
  ::unsetenv("DREAMDPO_TEST_LMM_KEY");
}

TEST_F(LmmRankerTest, RetriesRateLimitAndServerErrors) {
  auto c = config(server_);
  c.retries = 3;
  LmmRanker ranker(c, "");
  server_.script({{429, "", "", 0, "0"}, {500, "oops"}, {200, "{not json"}});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(at::equal(ranker.score(images(1), "a red square"), at::full({1}, 2.0f)));
  EXPECT_EQ(server_.chat_requests(), 4u);
  // Retry-After: 0 skipped the backoff of the first retry; the others waited 0.02 + 0.04 s.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
}

TEST_F(LmmRankerTest, HonoursRetryAfter) {
  auto c = config(server_);
  c.retries = 1;
  LmmRanker ranker(c, "");
  server_.script({{429, "", "", 0, "1"}});
  const auto start = std::chrono::steady_clock::now();
  ranker.score(images(1), "a red square");
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.95);
}

TEST_F(LmmRankerTest, EachFaultMakesTheRankerUnavailable) {
  auto c = config(server_);
  LmmRanker ranker(c, "");  // no retries
  const std::vector<std::pair<ScriptedAnswer, std::string>> faults = {
      {{200, "", "", 2.0}, "Read"},  // slow answer past the 0.3 s timeout
      {{429, "", "", 0, "0"}, "429"},
      {{500, "boom"}, "500"},
      {{200, "{\"choices\": ["}, "malformed JSON"},
      {{200, "", "I am not sure what this is."}, "Yes or No"},
  };
  for (const auto& [fault, expected] : faults) {
    server_.script({fault});
    const auto start = std::chrono::steady_clock::now();
    try {
      ranker.score(images(1), "a red square");
      ADD_FAILURE() << "no error for " << expected;
    } catch (const RankerUnavailable& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected));
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.5) << expected;
  }
  // A 400 is not retried: the request itself is wrong.
  c.retries = 3;
  LmmRanker retrying(c, "");
  const auto before = server_.chat_requests();
  server_.script({{400, "bad request"}});
  EXPECT_THROW(retrying.score(images(1), "a red square"), RankerUnavailable);
  EXPECT_EQ(server_.chat_requests(), before + 1);
}

TEST_F(LmmRankerTest, UnreachableEndpointAndMissingKeyAreClearErrors) {
  auto c = config(server_);
  c.base_url = "http://127.0.0.1:" + std::to_string(testing_helpers::unused_port()) + "/v1";
  EXPECT_THAT(error_of([&] { LmmRanker(c, ""); }), HasSubstr("cannot reach the LMM endpoint"));
  c.probe = false;  // then a failure during the run is a fallback, not a stop
  LmmRanker quiet(c, "");
  EXPECT_THROW(quiet.score(images(1), "a red square"), RankerUnavailable);

  auto k = config(server_);
  k.api_key_env = "DREAMDPO_TEST_SURELY_UNSET_KEY";
  EXPECT_THAT(error_of([&] { LmmRanker(k, ""); }), HasSubstr("DREAMDPO_TEST_SURELY_UNSET_KEY"));
  k.api_key_env = "";
  k.base_url = "ftp://x";
  EXPECT_THAT(error_of([&] { LmmRanker(k, ""); }), HasSubstr("http://"));
  auto q = config(server_);
  LmmRanker file_ranker(q, "");
  EXPECT_THAT(error_of([&] { file_ranker.questions("a blue circle"); }), HasSubstr("no questions for the prompt"));
}

TEST_F(LmmRankerTest, WritesQuestionsOnceAndCachesThem) {
  auto c = config(server_);
  c.questions_file = "";
  {
    LmmRanker ranker(c, dir_);
    EXPECT_TRUE(at::equal(ranker.score(images(2), "a red square"), at::full({2}, 1.0f)));  // 2 questions: Yes, No
    ranker.score(images(2), "a red square");
  }
  size_t writing = 0;
  for (const auto& r : server_.requests()) writing += r.method == "POST" && r.body.find("image_url") == std::string::npos;
  EXPECT_EQ(writing, 1u);
  const auto cache = json::parse(core::read_file(dir_ / LmmRanker::kCacheFile));
  EXPECT_EQ(cache["a red square"], json({"Is there a red square?", "Is the background white?"}));
  LmmRanker resumed(c, dir_);  // reads the cache: asks no new questions
  EXPECT_EQ(resumed.questions("a red square").size(), 2u);
  EXPECT_EQ(server_.chat_requests(), 5u);
}

TEST_F(LmmRankerTest, GenerateRunCompletesThroughEveryFault) {
  generate::GenerateConfig config;
  core::read_config(core::load_preset("exact"), config);
  config.steps = 8;
  config.gaussians.count = 200;
  config.render.sizes = {16};
  config.render.validation_size = 16;
  config.output.validation_views = 2;
  config.output.turntable_frames = 2;
  config.output.mesh_resolution = 16;
  config.ranker.name = "template";
  config.ranker.secondary = "lmm";
  config.ranker.lmm = this->config(server_);
  config.ranker.lmm.questions_file = "";
  config.ranker.lmm.retries = 1;
  // Faults for the first requests (views run concurrently, so which view meets which is not
  // fixed); an answer with no Yes/No is not retried, so at least one step falls back.
  server_.script({{429, "", "", 0, "0"}, {500, "x"}, {200, "{bad"}, {200, "", "", 2.0},
                  {200, "", "no idea"}, {200, "", "no idea"}, {200, "", "no idea"}, {200, "", "no idea"}});
  const auto run = dir_ / "run";
  const auto result = generate::run_generate("a red square", config, run);
  EXPECT_EQ(result.steps_done, 8);
  std::ifstream csv(run / "metrics.csv");
  std::string header, line;
  std::getline(csv, header);
  std::vector<std::string> columns;
  std::stringstream h(header);
  for (std::string col; std::getline(h, col, ',');) columns.push_back(col);
  const auto index = [&](const std::string& name) {
    return std::find(columns.begin(), columns.end(), name) - columns.begin();
  };
  double fallbacks = 0, used = 0;
  int rows = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> cells;
    std::stringstream l(line);
    for (std::string cell; std::getline(l, cell, ',');) cells.push_back(cell);
    fallbacks += std::stod(cells[index("ranker_fallbacks")]);
    used += std::stod(cells[index("secondary_used")]);
    ++rows;
  }
  EXPECT_EQ(rows, 8);
  EXPECT_GE(fallbacks, 1);
  EXPECT_LT(fallbacks, 8);
  EXPECT_GE(used, 1);
  EXPECT_TRUE(fs::exists(run / LmmRanker::kCacheFile));
}

}  // namespace
}  // namespace dreamdpo::rank
