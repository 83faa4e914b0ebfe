// Ranks images by asking a large multimodal model (any OpenAI-compatible chat endpoint with
// image input) yes/no questions about each view: score = number of "Yes", as in the official
// DreamDPO code. Questions per prompt come from a JSON file {prompt: [question, ...]} or are
// written once by the LMM and cached in lmm_questions.json in the run folder (so a resumed run
// asks the same questions).
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rank/lmm/chat_client.h"
#include "rank/lmm/lmm_config.h"
#include "rank/ranker.h"

namespace dreamdpo::rank {

// Number of "Yes" among the first `questions` answers of a reply, or nullopt when the reply
// does not answer that many questions with Yes or No.
std::optional<int64_t> count_yes_answers(const std::string& reply, size_t questions);

// Questions in the LMM's reply to the question-writing request: one per line, numbering and
// bullets stripped, at most `limit`.
std::vector<std::string> parse_question_lines(const std::string& reply, size_t limit);

class LmmRanker : public Ranker {
 public:
  // Reads the API key and the questions file and (config.probe) checks the endpoint is
  // reachable: every user error is raised here, before a run does work. cache_dir '' = keep
  // generated questions in memory only.
  LmmRanker(LmmConfig config, std::filesystem::path cache_dir);

  std::string name() const override { return "lmm"; }
  // One request per view, up to max_concurrency at once. Throws RankerUnavailable when any
  // view got no usable answer (after the client's retries).
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override;

  // The questions asked for `prompt` (from the file, the cache or written by the LMM now).
  // A prompt missing from the questions file is a user error (dreamdpo::Error).
  std::vector<std::string> questions(const std::string& prompt);

  static constexpr const char* kCacheFile = "lmm_questions.json";

 private:
  int64_t score_view(const std::string& png, const std::vector<std::string>& questions);

  LmmConfig config_;
  std::filesystem::path cache_dir_;
  lmm::ChatClient client_;
  bool from_file_ = false;
  std::mutex questions_mutex_;
  std::map<std::string, std::vector<std::string>> questions_;
};

}  // namespace dreamdpo::rank
