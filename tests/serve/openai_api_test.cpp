// The OpenAI request parser and response builders (serve/openai_api.h).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "serve/openai_api.h"

namespace bestserve::serve {
namespace {

using nlohmann::json;

int StatusOf(std::string_view body, Endpoint endpoint = Endpoint::kCompletions) {
  try {
    ParseCompletionRequest(body, endpoint);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

std::string ParamOf(std::string_view body, Endpoint endpoint = Endpoint::kCompletions) {
  try {
    ParseCompletionRequest(body, endpoint);
  } catch (const ApiError& e) {
    return e.param();
  }
  return "";
}

TEST_CASE("a list of token ids counts exactly; text by OpenAI's 4-bytes rule", "[serve]") {
  const auto ids = ParseCompletionRequest(R"({"model":"opt","prompt":[1,2,3,4,5],"max_tokens":7,"stream":true})",
                                          Endpoint::kCompletions);
  CHECK(ids.prompt_tokens == 5);
  CHECK(ids.max_tokens == 7);
  CHECK(ids.stream);
  const auto text = ParseCompletionRequest(R"({"model":"opt","prompt":"abcdefghi"})", Endpoint::kCompletions);
  CHECK(text.prompt_tokens == 3);  // ceil(9 / 4)
  CHECK_FALSE(text.max_tokens.has_value());
  CHECK_FALSE(text.stream);
  // Chat: 4 framing tokens per message plus its text.
  const auto chat = ParseCompletionRequest(
      R"({"model":"opt","messages":[{"role":"system","content":"abcd"},{"role":"user","content":"abcdefgh"}],
          "max_completion_tokens":3,"task":"copa","deadline_ms":250})",
      Endpoint::kChatCompletions);
  CHECK(chat.prompt_tokens == 4 + 1 + 4 + 2);
  CHECK(chat.max_tokens == 3);
  CHECK(chat.task == "copa");
  CHECK(chat.deadline_ms == 250.0);
}

TEST_CASE("malformed or out-of-range requests are 400s naming the field", "[serve][bad-input]") {
  CHECK(StatusOf("{not json") == 400);
  CHECK(StatusOf("[1,2]") == 400);
  CHECK(StatusOf("") == 400);
  CHECK(StatusOf("111111e11111") == 400);  // a number past a double: found by openai_request_fuzz
  CHECK(StatusOf(R"({"model":"opt","prompt":"x","max_tokens":1e999})") == 400);
  CHECK(ParamOf(R"({"prompt":"x"})") == "model");
  CHECK(ParamOf(R"({"model":3,"prompt":"x"})") == "model");
  CHECK(ParamOf(R"({"model":"opt"})") == "prompt");
  CHECK(ParamOf(R"({"model":"opt","prompt":["a","b"]})") == "prompt");  // batched prompts
  CHECK(ParamOf(R"({"model":"opt","prompt":[]})") == "prompt");
  CHECK(ParamOf(R"({"model":"opt","prompt":[-1]})") == "prompt");
  CHECK(ParamOf(R"({"model":"opt","prompt":"x","max_tokens":0})") == "max_tokens");
  CHECK(ParamOf(R"({"model":"opt","prompt":"x","max_tokens":1e20})") == "max_tokens");
  CHECK(ParamOf(R"({"model":"opt","prompt":"x","max_tokens":99999999999})") == "max_tokens");
  CHECK(ParamOf(R"({"model":"opt","prompt":"x","stream":"yes"})") == "stream");
  CHECK(ParamOf(R"({"model":"opt","prompt":"x","n":2})") == "n");
  CHECK(ParamOf(R"({"model":"opt","prompt":"x","deadline_ms":-5})") == "deadline_ms");
  CHECK(ParamOf(R"({"model":"opt","messages":[]})", Endpoint::kChatCompletions) == "messages");
  CHECK(ParamOf(R"({"model":"opt","messages":[{"content":"x"}]})", Endpoint::kChatCompletions) == "messages[0].role");
  CHECK(ParamOf(R"({"model":"opt","messages":[{"role":"user","content":7}]})", Endpoint::kChatCompletions) ==
        "messages[0].content");
}

TEST_CASE("error bodies and chunks have OpenAI's shape", "[serve]") {
  const json error = json::parse(ErrorBody(ApiError(404, "not_found_error", "no such model", "model")));
  CHECK(error["error"]["message"] == "no such model");
  CHECK(error["error"]["type"] == "not_found_error");
  CHECK(error["error"]["param"] == "model");
  CHECK(error["error"].contains("code"));

  const json chunk = json::parse(StreamChunk(Endpoint::kChatCompletions, "id1", 5, "opt-125m", " the", true, false));
  CHECK(chunk["object"] == "chat.completion.chunk");
  CHECK(chunk["choices"][0]["delta"]["role"] == "assistant");
  CHECK(chunk["choices"][0]["delta"]["content"] == " the");
  CHECK(chunk["choices"][0]["finish_reason"].is_null());
  const json last = json::parse(StreamChunk(Endpoint::kCompletions, "id1", 5, "opt-125m", " x", false, true));
  CHECK(last["object"] == "text_completion");
  CHECK(last["choices"][0]["finish_reason"] == "length");
  const json whole = json::parse(CompletionBody(Endpoint::kCompletions, "id2", 5, "m", "ab", Usage{3, 2}));
  CHECK(whole["usage"]["total_tokens"] == 5);
  CHECK(SseEvent("{}") == "data: {}\n\n");
}

TEST_CASE("relaying a stream rewrites each JSON event's model and keeps every boundary", "[serve]") {
  const std::string events =
      "data: {\"model\":\"opt-125m\",\"choices\":[]}\n\n: a comment\n\ndata: [DONE]\n\n";
  CHECK(RewriteModelInEvents(events, "opt") ==
        "data: {\"choices\":[],\"model\":\"opt\"}\n\n: a comment\n\ndata: [DONE]\n\n");
  // An unfinished event is not an event yet: passed through as it is.
  CHECK(RewriteModelInEvents("data: {\"model\":\"x\"}\n", "opt") == "data: {\"model\":\"x\"}\n");
  CHECK(RewriteModelInEvents("data: {broken\n\n", "opt") == "data: {broken\n\n");
}

}  // namespace
}  // namespace bestserve::serve
