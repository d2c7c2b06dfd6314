#include "serve/openai_api.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>

namespace bestserve::serve {
namespace {

using nlohmann::json;

// OpenAI's error code field is a string or null; vLLM sends the status number. We send null
// and put what matters in message/type/param, which every client library reads.
json ErrorJson(std::string_view type, std::string_view message, std::string_view param) {
  json error = {{"message", message}, {"type", type}, {"code", nullptr}};
  error["param"] = param.empty() ? json(nullptr) : json(param);
  return json{{"error", std::move(error)}};
}

[[noreturn]] void BadField(const std::string& field, const std::string& message) {
  throw ApiError(400, "invalid_request_error", fmt::format("'{}': {}", field, message), field);
}

std::string TypeName(const json& value) {
  return value.is_null() ? "null" : value.type_name();
}

int32_t TokenField(const json& body, const char* field, int64_t min_value) {
  const json& value = body.at(field);
  if (!value.is_number_integer()) BadField(field, "expected an integer, got " + TypeName(value));
  const auto n = value.get<int64_t>();
  if (n < min_value || n > std::numeric_limits<int32_t>::max()) {
    BadField(field, fmt::format("expected an integer in [{}, {}], got {}", min_value,
                                std::numeric_limits<int32_t>::max(), n));
  }
  return static_cast<int32_t>(n);
}

int32_t PromptTokens(const json& prompt) {
  if (prompt.is_string()) return EstimateTokens(prompt.get_ref<const std::string&>());
  if (prompt.is_array()) {
    if (prompt.empty()) BadField("prompt", "expected a non-empty string or list of token ids");
    for (const json& token : prompt) {
      if (!token.is_number_integer() || token.get<int64_t>() < 0) {
        BadField("prompt", token.is_string() ? "a list of prompts (batched requests) is not supported"
                                             : "expected a list of non-negative token ids");
      }
    }
    if (prompt.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) BadField("prompt", "too long");
    return static_cast<int32_t>(prompt.size());
  }
  BadField("prompt", "expected a string or a list of token ids, got " + TypeName(prompt));
}

int32_t MessageTokens(const json& messages) {
  if (!messages.is_array() || messages.empty()) BadField("messages", "expected a non-empty list");
  int64_t tokens = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) BadField(where, "expected an object with role and content");
    if (!m.contains("role") || !m["role"].is_string()) BadField(where + ".role", "expected a string");
    const json content = m.value("content", json());
    int64_t content_tokens = 0;
    if (content.is_string()) {
      content_tokens = EstimateTokens(content.get_ref<const std::string&>());
    } else if (content.is_array()) {  // content parts: count the text ones
      for (const json& part : content) {
        if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string()) {
          content_tokens += EstimateTokens(part["text"].get_ref<const std::string&>());
        }
      }
    } else if (!content.is_null()) {
      BadField(where + ".content", "expected a string or a list of parts, got " + TypeName(content));
    }
    tokens += 4 + content_tokens;
  }
  return static_cast<int32_t>(std::min<int64_t>(tokens, std::numeric_limits<int32_t>::max()));
}

constexpr std::array<std::string_view, 8> kWords = {" the", " model", " serves", " this",
                                                    " request", " with", " some", " tokens"};

json ChoiceText(Endpoint endpoint, std::string_view text, const char* finish) {
  json finish_reason = finish ? json(finish) : json(nullptr);
  if (endpoint == Endpoint::kCompletions) {
    return json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
  }
  return json{{"index", 0},
              {"message", {{"role", "assistant"}, {"content", text}}},
              {"logprobs", nullptr},
              {"finish_reason", finish_reason}};
}

json UsageJson(Usage usage) {
  return json{{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

const char* ObjectName(Endpoint endpoint, bool chunk) {
  if (endpoint == Endpoint::kCompletions) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

}  // namespace

std::string ErrorBody(int status, std::string_view type, std::string_view message,
                      std::string_view param) {
  (void)status;  // the status travels in the HTTP status line
  return ErrorJson(type, message, param).dump();
}

std::string ErrorBody(const ApiError& error) {
  return ErrorBody(error.status(), error.type(), error.what(), error.param());
}

int32_t EstimateTokens(std::string_view text) {
  const size_t tokens = (text.size() + 3) / 4;
  return static_cast<int32_t>(std::clamp<size_t>(tokens, 1, std::numeric_limits<int32_t>::max()));
}

std::string_view TokenText(int32_t index) {
  return kWords[static_cast<size_t>(index) % kWords.size()];
}

CompletionRequest ParseCompletionRequest(std::string_view body, Endpoint endpoint) {
  json parsed;
  try {
    parsed = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {  // parse errors, and numbers beyond a double (out_of_range)
    throw ApiError(400, "invalid_request_error",
                   fmt::format("the body is not valid JSON: {}", e.what()));
  }
  if (!parsed.is_object()) {
    throw ApiError(400, "invalid_request_error",
                   "the body must be a JSON object, got " + TypeName(parsed));
  }
  CompletionRequest request;
  request.endpoint = endpoint;
  if (!parsed.contains("model")) BadField("model", "missing (the model to use)");
  if (!parsed["model"].is_string()) BadField("model", "expected a string, got " + TypeName(parsed["model"]));
  request.model = parsed["model"].get<std::string>();
  if (endpoint == Endpoint::kCompletions) {
    if (!parsed.contains("prompt")) BadField("prompt", "missing");
    request.prompt_tokens = PromptTokens(parsed["prompt"]);
  } else {
    if (!parsed.contains("messages")) BadField("messages", "missing");
    request.prompt_tokens = MessageTokens(parsed["messages"]);
  }
  // OpenAI's newer chat field name first; both mean the output budget.
  for (const char* field : {"max_completion_tokens", "max_tokens"}) {
    if (parsed.contains(field) && !parsed[field].is_null()) {
      request.max_tokens = TokenField(parsed, field, 1);
      break;
    }
  }
  if (parsed.contains("stream") && !parsed["stream"].is_null()) {
    if (!parsed["stream"].is_boolean()) BadField("stream", "expected true or false, got " + TypeName(parsed["stream"]));
    request.stream = parsed["stream"].get<bool>();
  }
  if (parsed.contains("stream_options") && parsed["stream_options"].is_object()) {
    const json& options = parsed["stream_options"];
    request.include_usage = options.contains("include_usage") && options["include_usage"].is_boolean() &&
                            options["include_usage"].get<bool>();
  }
  if (parsed.contains("n") && !parsed["n"].is_null() && parsed["n"] != 1) {
    BadField("n", "only n = 1 is supported");
  }
  if (parsed.contains("task") && !parsed["task"].is_null()) {
    if (!parsed["task"].is_string()) BadField("task", "expected a task name, got " + TypeName(parsed["task"]));
    request.task = parsed["task"].get<std::string>();
  }
  if (parsed.contains("deadline_ms") && !parsed["deadline_ms"].is_null()) {
    const json& d = parsed["deadline_ms"];
    if (!d.is_number() || !std::isfinite(d.get<double>()) || d.get<double>() <= 0.0) {
      BadField("deadline_ms", "expected a positive number of milliseconds");
    }
    request.deadline_ms = d.get<double>();
  }
  request.body = std::move(parsed);
  return request;
}

std::string CompletionBody(Endpoint endpoint, std::string_view id, int64_t created,
                           std::string_view model, std::string_view text, Usage usage) {
  json body = {{"id", id},
               {"object", ObjectName(endpoint, false)},
               {"created", created},
               {"model", model},
               {"choices", json::array({ChoiceText(endpoint, text, "length")})},
               {"usage", UsageJson(usage)}};
  return body.dump();
}

std::string StreamChunk(Endpoint endpoint, std::string_view id, int64_t created,
                        std::string_view model, std::string_view text, bool first, bool finish) {
  json choice;
  json finish_reason = finish ? json("length") : json(nullptr);
  if (endpoint == Endpoint::kCompletions) {
    choice = {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
  } else {
    json delta = {{"content", text}};
    if (first) delta["role"] = "assistant";
    choice = {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
  }
  json chunk = {{"id", id},
                {"object", ObjectName(endpoint, true)},
                {"created", created},
                {"model", model},
                {"choices", json::array({std::move(choice)})}};
  return chunk.dump();
}

std::string UsageChunk(Endpoint endpoint, std::string_view id, int64_t created,
                       std::string_view model, Usage usage) {
  json chunk = {{"id", id},
                {"object", ObjectName(endpoint, true)},
                {"created", created},
                {"model", model},
                {"choices", json::array()},
                {"usage", UsageJson(usage)}};
  return chunk.dump();
}

std::string SseEvent(std::string_view data) {
  std::string event;
  event.reserve(data.size() + 8);
  event += "data: ";
  event += data;
  event += "\n\n";
  return event;
}

std::string RewriteModelInEvents(std::string_view events, const std::string& model) {
  std::string out;
  out.reserve(events.size());
  size_t pos = 0;
  while (pos < events.size()) {
    size_t end = events.find("\n\n", pos);
    end = end == std::string_view::npos ? events.size() : end + 2;
    const std::string_view event = events.substr(pos, end - pos);
    pos = end;
    constexpr std::string_view kData = "data: ";
    const bool whole = event.size() >= 2 && event.substr(event.size() - 2) == "\n\n";
    if (whole && event.substr(0, kData.size()) == kData && event.size() > kData.size() + 2 &&
        event[kData.size()] == '{') {
      const std::string_view payload = event.substr(kData.size(), event.size() - kData.size() - 2);
      json parsed = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object() && parsed.contains("model")) {
        parsed["model"] = model;
        out += SseEvent(parsed.dump());
        continue;
      }
    }
    out += event;
  }
  return out;
}

std::string ModelListBody(const std::vector<std::string>& models, int64_t created) {
  json data = json::array();
  for (const std::string& m : models) {
    data.push_back({{"id", m}, {"object", "model"}, {"created", created}, {"owned_by", "bestserve"}});
  }
  return json{{"object", "list"}, {"data", std::move(data)}}.dump();
}

}  // namespace bestserve::serve
