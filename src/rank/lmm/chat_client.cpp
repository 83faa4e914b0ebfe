#include "rank/lmm/chat_client.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "core/log.h"

namespace dreamdpo::rank::lmm {

// "http://host:port/v1" -> origin "http://host:port" and path prefix "/v1".
struct ChatClient::Endpoint {
  std::string origin;
  std::string prefix;
};

namespace {

void parse_base_url(const std::string& url, ChatClient::Endpoint& out) {
  const auto scheme_end = url.find("://");
  check(scheme_end != std::string::npos, "LMM base_url '", url, "' must start with http:// or https://");
  const auto scheme = url.substr(0, scheme_end);
  check(scheme == "http" || scheme == "https", "LMM base_url '", url, "' must start with http:// or https://");
  const auto path_start = url.find('/', scheme_end + 3);
  out.origin = url.substr(0, path_start);
  check(out.origin.size() > scheme_end + 3, "LMM base_url '", url, "' has no host");
  out.prefix = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
}

void sleep_for_seconds(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::unique_ptr<httplib::Client> make_http(const ChatClient::Endpoint& endpoint, const ChatClientOptions& options) {
  auto http = std::make_unique<httplib::Client>(endpoint.origin);
  const auto sec = static_cast<time_t>(options.timeout_s);
  const auto usec = static_cast<time_t>((options.timeout_s - static_cast<double>(sec)) * 1e6);
  http->set_connection_timeout(sec, usec);
  http->set_read_timeout(sec, usec);
  http->set_write_timeout(sec, usec);
  if (!options.api_key.empty()) http->set_bearer_token_auth(options.api_key);
  return http;
}

// One attempt's outcome: either the text of a usable answer, or why not and whether to retry.
struct Attempt {
  bool ok = false;
  std::string content;
  std::string problem;
  bool retry = true;
  double wait_s = -1;  // from Retry-After; < 0 = use the backoff
};

Attempt parse_completion(const httplib::Result& result, double max_retry_after_s) {
  Attempt a;
  if (!result) {
    a.problem = "no answer (" + httplib::to_string(result.error()) + ")";
    return a;
  }
  const auto& response = *result;
  if (response.status == 429) {
    a.problem = "HTTP 429 (rate limited)";
    if (response.has_header("Retry-After")) {
      // Seconds only; an HTTP-date falls back to our backoff.
      try {
        a.wait_s = std::min(std::stod(response.get_header_value("Retry-After")), max_retry_after_s);
      } catch (const std::exception&) {
      }
    }
    return a;
  }
  if (response.status != 200) {
    a.problem = "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 200);
    a.retry = response.status >= 500 || response.status == 408;  // other 4xx will not get better
    return a;
  }
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    a.problem = "malformed JSON in the answer";
    return a;
  }
  if (!body.is_object() || !body.contains("choices") || !body["choices"].is_array() || body["choices"].empty() ||
      !body["choices"][0].is_object()) {
    a.problem = "answer without choices";
    return a;
  }
  const auto& message = body["choices"][0].value("message", nlohmann::json::object());
  if (!message.is_object() || !message.contains("content") || !message["content"].is_string()) {
    a.problem = "answer without a message content";
    return a;
  }
  a.ok = true;
  a.content = message["content"].get<std::string>();
  return a;
}

}  // namespace

ChatClient::ChatClient(ChatClientOptions options) : options_(std::move(options)), endpoint_(std::make_unique<Endpoint>()) {
  parse_base_url(options_.base_url, *endpoint_);
  check(options_.timeout_s > 0, "LMM timeout must be > 0 seconds");
  check(options_.retries >= 0, "LMM retries must be >= 0");
  check(options_.backoff_s >= 0, "LMM backoff must be >= 0 seconds");
}

ChatClient::~ChatClient() = default;

void ChatClient::probe() {
  auto http = make_http(*endpoint_, options_);
  const auto url = options_.base_url;
  const auto result = http->Get(endpoint_->prefix + "/models");
  if (!result) {
    throw ChatError("cannot reach the LMM endpoint " + url + " (" + httplib::to_string(result.error()) +
                    "); start the server or fix ranker.lmm.base_url");
  }
  if (result->status == 401 || result->status == 403) {
    throw ChatError("the LMM endpoint " + url + " rejected the API key (HTTP " + std::to_string(result->status) +
                    "); check ranker.lmm.api_key_env");
  }
}

std::string ChatClient::complete(const std::string& model, const nlohmann::json& messages, int max_tokens) {
  const nlohmann::json request = {{"model", model}, {"messages", messages}, {"max_tokens", max_tokens}, {"temperature", 0}};
  const auto body = request.dump();
  // One connection per call: calls run concurrently from several threads.
  auto http = make_http(*endpoint_, options_);
  std::string last_problem;
  for (int attempt = 0;; ++attempt) {
    const auto outcome = parse_completion(http->Post(endpoint_->prefix + "/chat/completions", body, "application/json"),
                                          options_.max_retry_after_s);
    if (outcome.ok) return outcome.content;
    last_problem = outcome.problem;
    if (!outcome.retry || attempt >= options_.retries) break;
    const double wait = outcome.wait_s >= 0 ? outcome.wait_s : options_.backoff_s * std::pow(2.0, attempt);
    core::log_debug("lmm: attempt ", attempt + 1, " failed (", last_problem, "); retrying in ", wait, " s");
    sleep_for_seconds(wait);
  }
  throw ChatError("the LMM endpoint " + options_.base_url + " gave no usable answer after " +
                  std::to_string(options_.retries + 1) + " attempt(s): " + last_problem);
}

}  // namespace dreamdpo::rank::lmm
