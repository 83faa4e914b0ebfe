// A small client for OpenAI-compatible chat-completions endpoints (vLLM, llama.cpp's server,
// OpenAI...): POST {base_url}/chat/completions with bounded retries, exponential backoff,
// timeouts and Retry-After on HTTP 429. It knows nothing of rankers or DreamDPO.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/error.h"

namespace dreamdpo::rank::lmm {

// The request could not be answered usefully after every retry (the message says why).
class ChatError : public Error {
 public:
  using Error::Error;
};

struct ChatClientOptions {
  std::string base_url;  // e.g. http://127.0.0.1:8000/v1 (https:// works: OpenSSL build)
  std::string api_key;   // sent as "Authorization: Bearer ..." when not empty
  double timeout_s = 60;        // connect, and each read/write on the socket
  int retries = 2;              // extra attempts after the first
  double backoff_s = 1;         // wait before retry k (0-based): backoff_s * 2^k
  double max_retry_after_s = 60;  // cap on a server's Retry-After wait
};

class ChatClient {
 public:
  explicit ChatClient(ChatClientOptions options);
  ~ChatClient();

  // One cheap GET {base_url}/models. Any HTTP answer other than 401/403 counts as reachable (some
  // servers lack /models); a refused connection, a timeout or a rejected key throws ChatError.
  void probe();

  // Sends {"model", "messages", "max_tokens", "temperature": 0} and returns the first choice's
  // message content. Throws ChatError after the retries are spent.
  std::string complete(const std::string& model, const nlohmann::json& messages, int max_tokens);

  const ChatClientOptions& options() const { return options_; }

  struct Endpoint;  // the parsed base_url (defined in the .cpp)

 private:
  ChatClientOptions options_;
  std::unique_ptr<Endpoint> endpoint_;
};

}  // namespace dreamdpo::rank::lmm
