// The OpenAI API as bestserve's servers speak it: request bodies parsed and checked, response
// bodies and server-sent-event chunks built, errors in OpenAI's shape. No networking here, so
// the gateway, the emulator, the load generator and the fuzz target share one parser.
//
// Requests (POST /v1/completions, /v1/chat/completions), the fields bestserve reads:
//
//   | field          | meaning                                                           |
//   |----------------|-------------------------------------------------------------------|
//   | model          | required string: a logical model (gateway) or a served model      |
//   | prompt         | completions: a string or a list of token ids (one prompt only)    |
//   | messages       | chat: a non-empty list of {role, content}                        |
//   | max_tokens     | output tokens to generate (completions default 16, as OpenAI's)  |
//   | stream         | bool: answer as server-sent events                                |
//   | task           | bestserve extension: the request's task (a task-table name)      |
//   | deadline_ms    | bestserve extension: the request's end-to-end deadline           |
//
// Every other field travels through the gateway untouched. Token counts: a list of token ids
// counts exactly; text is estimated at 4 bytes per token (OpenAI's rule of thumb for English),
// as no tokenizer is linked. Chat messages add 4 tokens each for the role framing.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve::serve {

// An error answered to the client: HTTP status, OpenAI error type, message, offending field.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = "")
      : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }

 private:
  int status_;
  std::string type_;
  std::string param_;
};

// {"error": {"message", "type", "param", "code"}}: the body OpenAI (and vLLM) answer errors with.
std::string ErrorBody(int status, std::string_view type, std::string_view message,
                      std::string_view param = "");
std::string ErrorBody(const ApiError& error);

enum class Endpoint { kCompletions, kChatCompletions };

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;
  int32_t prompt_tokens = 0;
  std::optional<int32_t> max_tokens;  // absent: the server's default
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::optional<std::string> task;
  std::optional<double> deadline_ms;
  nlohmann::json body;  // the whole parsed body
};

// Parses a request body; throws ApiError (400, invalid_request_error, naming the field) on
// malformed JSON, a missing or mistyped field, or values out of range.
CompletionRequest ParseCompletionRequest(std::string_view body, Endpoint endpoint);

// Tokens a text is estimated to hold (at least 1).
int32_t EstimateTokens(std::string_view text);

// The text of generated token `index` (0-based): a fixed cycle of words, so output is
// deterministic and its length grows with the tokens.
std::string_view TokenText(int32_t index);

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

// A whole (non-streamed) response body.
std::string CompletionBody(Endpoint endpoint, std::string_view id, int64_t created,
                           std::string_view model, std::string_view text, Usage usage);
// One streamed chunk's JSON (the caller frames it as "data: ...\n\n"). `finish` marks the
// last token (finish_reason "length"); `first` adds the assistant role to a chat delta.
std::string StreamChunk(Endpoint endpoint, std::string_view id, int64_t created,
                        std::string_view model, std::string_view text, bool first, bool finish);
// The usage chunk sent after the last token when stream_options.include_usage is set.
std::string UsageChunk(Endpoint endpoint, std::string_view id, int64_t created,
                       std::string_view model, Usage usage);
// A server-sent event carrying `data`.
std::string SseEvent(std::string_view data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// Replaces the "model" field of every JSON event in `events` (whole "data: ...\n\n" events) by
// `model`, as a gateway relays a stream under the client's model name; other events ([DONE],
// comments, non-JSON) pass unchanged.
std::string RewriteModelInEvents(std::string_view events, const std::string& model);

// GET /v1/models body listing `models`.
std::string ModelListBody(const std::vector<std::string>& models, int64_t created);

}  // namespace bestserve::serve
