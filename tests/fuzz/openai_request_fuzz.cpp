// What the gateway and the emulator parse from the network (serve/openai_api.h, serve/http.h):
// request bodies for both endpoints, backend URLs, and the server-sent events a gateway relays.
#include <stdexcept>

#include "serve/http.h"
#include "serve/openai_api.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bestserve::serve;
  const std::string_view text = bestserve::fuzz::AsText(data, size);
  for (const Endpoint endpoint : {Endpoint::kCompletions, Endpoint::kChatCompletions}) {
    try {
      const CompletionRequest request = ParseCompletionRequest(text, endpoint);
      if (request.prompt_tokens < 1 || (request.max_tokens && *request.max_tokens < 1)) __builtin_trap();
    } catch (const ApiError&) {
    }
  }
  try {
    const HostPort address = ParseHttpUrl(text);
    if (address.port == 0 || address.host.empty()) __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  // Relaying never loses or invents an event boundary.
  const std::string relayed = RewriteModelInEvents(text, "opt");
  size_t in_events = 0;
  size_t out_events = 0;
  for (size_t at = text.find("\n\n"); at != std::string_view::npos; at = text.find("\n\n", at + 2)) ++in_events;
  for (size_t at = relayed.find("\n\n"); at != std::string::npos; at = relayed.find("\n\n", at + 2)) ++out_events;
  if (in_events != out_events) __builtin_trap();
  return 0;
}
