#include "rank/lmm/lmm_ranker.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/png_io.h"
#include "core/resize.h"
#include "rank/validate_images.h"

namespace dreamdpo::rank {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

lmm::ChatClientOptions client_options(const LmmConfig& config) {
  check(!config.model.empty(), "ranker.lmm.model is empty; set it to the model name the endpoint serves");
  lmm::ChatClientOptions options;
  options.base_url = config.base_url;
  if (!config.api_key_env.empty()) {
    const char* key = std::getenv(config.api_key_env.c_str());
    check(key != nullptr && *key != '\0', "ranker.lmm.api_key_env names the environment variable ", config.api_key_env,
          ", but it is not set; export ", config.api_key_env, "=<your key> or set ranker.lmm.api_key_env=''");
    options.api_key = key;
  }
  options.timeout_s = config.timeout_s;
  options.retries = static_cast<int>(config.retries);
  options.backoff_s = config.backoff_s;
  options.max_retry_after_s = config.max_retry_after_s;
  return options;
}

// {prompt: [question, ...]}, checked.
std::map<std::string, std::vector<std::string>> parse_questions_json(const std::string& text, const std::string& where) {
  const auto root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  check(!root.is_discarded() && root.is_object(), where, " must be a JSON object {\"prompt\": [\"question?\", ...]}");
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [prompt, list] : root.items()) {
    check(list.is_array() && !list.empty(), where, ": the questions of '", prompt, "' must be a non-empty array of strings");
    for (const auto& q : list) {
      check(q.is_string() && !q.get<std::string>().empty(), where, ": the questions of '", prompt,
            "' must be non-empty strings");
      out[prompt].push_back(q.get<std::string>());
    }
  }
  return out;
}

// Words of a text, lower-cased, split at anything that is not a letter.
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!word.empty()) {
      out.push_back(word);
      word.clear();
    }
  }
  return out;
}

std::string image_data_uri(const at::Tensor& image) {
  return "data:image/png;base64," + core::base64_encode(core::encode_png(image));
}

}  // namespace

std::optional<int64_t> count_yes_answers(const std::string& reply, size_t questions) {
  if (questions == 0) return 0;
  // Preferred reading: the first Yes/No of each line ("1. Yes, there is a ..."); a reply on one
  // line ("Yes, No, Yes") is read word by word.
  std::vector<bool> answers;
  std::istringstream lines(reply);
  for (std::string line; std::getline(lines, line);) {
    for (const auto& w : words(line)) {
      if (w == "yes" || w == "no") {
        answers.push_back(w == "yes");
        break;
      }
    }
  }
  if (answers.size() < questions) {
    answers.clear();
    for (const auto& w : words(reply)) {
      if (w == "yes" || w == "no") answers.push_back(w == "yes");
    }
  }
  if (answers.size() < questions) return std::nullopt;
  return std::count(answers.begin(), answers.begin() + static_cast<std::ptrdiff_t>(questions), true);
}

std::vector<std::string> parse_question_lines(const std::string& reply, size_t limit) {
  std::vector<std::string> out;
  std::istringstream lines(reply);
  for (std::string line; std::getline(lines, line) && out.size() < limit;) {
    // Strip "1.", "2)", "-", "*" and spaces in front.
    size_t start = 0;
    while (start < line.size() && (std::isdigit(static_cast<unsigned char>(line[start])) ||
                                   std::string(" \t.-*)#").find(line[start]) != std::string::npos)) {
      ++start;
    }
    auto end = line.find_last_not_of(" \t\r");
    if (end == std::string::npos || end < start) continue;
    const auto question = line.substr(start, end - start + 1);
    if (question.back() == '?') out.push_back(question);  // skip preambles such as "Sure, here are..."
  }
  return out;
}

LmmRanker::LmmRanker(LmmConfig config, fs::path cache_dir)
    : config_(std::move(config)), cache_dir_(std::move(cache_dir)), client_(client_options(config_)) {
  config_.validate("ranker.lmm");
  if (!config_.questions_file.empty()) {
    questions_ = parse_questions_json(core::read_file(config_.questions_file), "ranker.lmm.questions_file " + config_.questions_file);
    from_file_ = true;
  } else if (!cache_dir_.empty() && fs::exists(cache_dir_ / kCacheFile)) {
    const auto path = cache_dir_ / kCacheFile;
    questions_ = parse_questions_json(core::read_file(path), path.string());
  }
  if (config_.probe) {
    try {
      client_.probe();
    } catch (const lmm::ChatError& e) {
      throw Error(e.what());  // at start this is a user error, not a transient one
    }
  }
}

std::vector<std::string> LmmRanker::questions(const std::string& prompt) {
  std::lock_guard<std::mutex> lock(questions_mutex_);
  const auto it = questions_.find(prompt);
  if (it != questions_.end()) return it->second;
  check(!from_file_, "ranker.lmm.questions_file ", config_.questions_file, " has no questions for the prompt '", prompt,
        "'; add an entry \"", prompt, "\": [\"...?\"]");
  const auto n = static_cast<size_t>(config_.num_questions);
  const std::string request =
      "Write " + std::to_string(n) + " short yes/no questions that check whether an image shows exactly this: \"" +
      prompt + "\". Cover the objects, their colours, shapes and arrangement. Write one question per line, each "
      "ending with a question mark, and nothing else.";
  std::vector<std::string> written;
  try {
    written = parse_question_lines(
        client_.complete(config_.model, json::array({{{"role", "user"}, {"content", request}}}),
                         static_cast<int>(config_.max_tokens)),
        n);
  } catch (const lmm::ChatError& e) {
    throw RankerUnavailable(std::string("lmm: could not get questions: ") + e.what());
  }
  if (written.empty()) throw RankerUnavailable("lmm: the reply to the question-writing request held no questions");
  questions_[prompt] = written;
  core::log_info("lmm: ", written.size(), " questions for '", prompt, "'");
  if (!cache_dir_.empty()) {
    json cache = json::object();
    for (const auto& [p, qs] : questions_) cache[p] = qs;
    fs::create_directories(cache_dir_);
    core::write_file_atomic(cache_dir_ / kCacheFile, cache.dump(2) + "\n");
  }
  return written;
}

int64_t LmmRanker::score_view(const std::string& data_uri, const std::vector<std::string>& questions) {
  std::string text = "Look at the image and answer each question with Yes or No only, one answer per line, in order.\n";
  for (size_t i = 0; i < questions.size(); ++i) text += std::to_string(i + 1) + ". " + questions[i] + "\n";
  const json content = json::array({
      {{"type", "text"}, {"text", text}},
      {{"type", "image_url"}, {"image_url", {{"url", data_uri}}}},
  });
  const auto reply = client_.complete(config_.model, json::array({{{"role", "user"}, {"content", content}}}),
                                      static_cast<int>(config_.max_tokens));
  const auto yes = count_yes_answers(reply, questions.size());
  if (!yes) throw lmm::ChatError("the reply does not answer the " + std::to_string(questions.size()) +
                                 " questions with Yes or No: '" + reply.substr(0, 120) + "'");
  return *yes;
}

at::Tensor LmmRanker::score(const at::Tensor& images, const std::string& prompt) {
  validate_images(images, "lmm ranker");
  const auto asked = questions(prompt);
  // Encode on this thread (tensor work); only the HTTP requests run concurrently.
  auto batch = images.detach().to(at::kCPU, at::kFloat);
  if (batch.size(2) != config_.image_size || batch.size(3) != config_.image_size) {
    batch = core::resize_bilinear(batch, config_.image_size, config_.image_size);
  }
  const int64_t n = batch.size(0);
  std::vector<std::string> uris(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) uris[static_cast<size_t>(i)] = image_data_uri(batch[i]);

  std::vector<int64_t> yes(static_cast<size_t>(n), 0);
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        yes[static_cast<size_t>(i)] = score_view(uris[static_cast<size_t>(i)], asked);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(i)] = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  const int64_t workers = std::min<int64_t>(n, config_.max_concurrency);
  for (int64_t w = 0; w < workers; ++w) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[static_cast<size_t>(i)].empty()) {
      throw RankerUnavailable("lmm: view " + std::to_string(i) + ": " + errors[static_cast<size_t>(i)]);
    }
  }
  return at::tensor(std::vector<float>(yes.begin(), yes.end()), at::kFloat);
}

}  // namespace dreamdpo::rank
