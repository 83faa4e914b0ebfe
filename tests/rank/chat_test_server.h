// A real HTTP server on loopback that speaks the chat-completions protocol, for the LMM tests:
// it records every request and answers from a script (one entry per request, in arrival
// order), then with a default answer.
#pragma once
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dreamdpo::testing_helpers {

struct ScriptedAnswer {
  int status = 200;
  std::string body;        // raw body; empty = a completion whose content is `content`
  std::string content;     // the assistant's text
  double delay_s = 0;      // wait before answering (past a client timeout)
  std::string retry_after;  // Retry-After header, when not empty
};

struct RecordedRequest {
  std::string method, path, authorization, body;
};

inline std::string completion_json(const std::string& content) {
  return nlohmann::json{{"id", "x"}, {"object", "chat.completion"},
                        {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}},
                                      {"finish_reason", "stop"}}}}}
      .dump();
}

class ChatTestServer {
 public:
  // `default_content` answers a request that the script does not cover.
  explicit ChatTestServer(std::function<std::string(const nlohmann::json& request)> default_content)
      : default_content_(std::move(default_content)) {
    server_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.set_content(R"({"object":"list","data":[{"id":"test-model"}]})", "application/json");
    });
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      ScriptedAnswer answer;
      bool scripted = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!script_.empty()) {
          answer = script_.front();
          script_.pop_front();
          scripted = true;
        }
      }
      if (answer.delay_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(answer.delay_s));
      res.status = answer.status;
      if (!answer.retry_after.empty()) res.set_header("Retry-After", answer.retry_after);
      std::string body = answer.body;
      if (body.empty()) {
        const auto content = scripted && !answer.content.empty()
                                 ? answer.content
                                 : default_content_(nlohmann::json::parse(req.body, nullptr, false));
        body = completion_json(content);
      }
      res.set_content(body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ChatTestServer() {
    server_.stop();
    thread_.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  void script(std::vector<ScriptedAnswer> answers) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& a : answers) script_.push_back(std::move(a));
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  size_t chat_requests() const {
    size_t n = 0;
    for (const auto& r : requests()) n += r.method == "POST";
    return n;
  }

 private:
  void record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back({req.method, req.path, req.get_header_value("Authorization"), req.body});
  }

  std::function<std::string(const nlohmann::json&)> default_content_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::deque<ScriptedAnswer> script_;
  std::vector<RecordedRequest> requests_;
};

// A port on loopback where nothing listens (bound, then released).
inline int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace dreamdpo::testing_helpers
