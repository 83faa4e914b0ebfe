// Settings of the LMM ranker: which OpenAI-compatible endpoint, which model, which questions.
#pragma once
#include <string>

#include "core/config.h"

namespace dreamdpo::rank {

struct LmmConfig {
  std::string base_url = "http://127.0.0.1:8000/v1";  // OpenAI-compatible, up to and including /v1
  std::string model = "";                             // model name the server knows
  std::string api_key_env = "";     // environment variable holding the API key ('' = send none)
  std::string questions_file = "";  // JSON {prompt: [question, ...]}; '' = the LMM writes them
  int64_t num_questions = 5;        // how many questions the LMM writes when there is no file
  double timeout_s = 60;            // per connect/read/write
  int64_t retries = 2;              // extra attempts per request
  double backoff_s = 1;             // first retry wait, doubled per retry
  double max_retry_after_s = 60;    // cap on a 429's Retry-After
  int64_t max_concurrency = 4;      // requests in flight for the views of one step
  int64_t image_size = 256;         // images are resized to this square size before sending
  int64_t max_tokens = 256;         // per answer
  bool probe = true;                // GET {base_url}/models when the ranker is built

  template <class V>
  void visit(V& v) {
    v("base_url", base_url, "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1");
    v("model", model, "model name on that endpoint");
    v("api_key_env", api_key_env, "environment variable with the API key ('' = none)");
    v("questions_file", questions_file, "JSON {prompt: [questions]} ('' = the LMM writes them, cached in the run folder)");
    v("num_questions", num_questions, "questions the LMM writes when there is no file");
    v("timeout_s", timeout_s, "request timeout (connect and each read/write), seconds");
    v("retries", retries, "extra attempts per request");
    v("backoff_s", backoff_s, "wait before the first retry, doubled each retry, seconds");
    v("max_retry_after_s", max_retry_after_s, "longest Retry-After wait honoured, seconds");
    v("max_concurrency", max_concurrency, "requests in flight at once");
    v("image_size", image_size, "side of the square PNG sent per view, px");
    v("max_tokens", max_tokens, "answer length limit, tokens");
    v("probe", probe, "check the endpoint is reachable when the run starts");
  }
  void validate(const std::string& path) const {
    check(timeout_s > 0, core::key_path(path, "timeout_s"), " must be > 0");
    check(retries >= 0, core::key_path(path, "retries"), " must be >= 0");
    check(backoff_s >= 0, core::key_path(path, "backoff_s"), " must be >= 0");
    check(max_retry_after_s >= 0, core::key_path(path, "max_retry_after_s"), " must be >= 0");
    check(max_concurrency >= 1, core::key_path(path, "max_concurrency"), " must be >= 1");
    check(num_questions >= 1, core::key_path(path, "num_questions"), " must be >= 1");
    check(image_size >= 8, core::key_path(path, "image_size"), " must be >= 8");
    check(max_tokens >= 1, core::key_path(path, "max_tokens"), " must be >= 1");
  }
};

}  // namespace dreamdpo::rank
