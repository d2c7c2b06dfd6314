#include "router/lib/c_api.h"

#include <cstring>
#include <memory>
#include <string>

#include "router/lib/router.h"

struct bs_router {
  std::unique_ptr<bestserve::Router> router;
};

namespace {

void WriteError(char* error, size_t size, const std::string& message) {
  if (error == nullptr || size == 0) return;
  const size_t n = std::min(size - 1, message.size());
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

bestserve::RouteRequest ToRouteRequest(const bs_route_request& c) {
  bestserve::RouteRequest r;
  r.task = c.task;
  r.in_flight = c.in_flight;
  r.queued = c.queued;
  r.prompt_tokens = c.prompt_tokens;
  r.in_flight_prompt_tokens = c.in_flight_prompt_tokens;
  r.max_tokens = c.max_tokens;
  r.deadline_base_s = c.deadline_base_s;
  r.deadline_per_token_s = c.deadline_per_token_s;
  return r;
}

}  // namespace

extern "C" {

bs_router* bs_router_load(const char* path, char* error, size_t error_size) {
  if (path == nullptr) {
    WriteError(error, error_size, "bs_router_load: path is NULL");
    return nullptr;
  }
  try {
    auto handle = std::make_unique<bs_router>();
    handle->router = bestserve::Router::Load(path);
    WriteError(error, error_size, "");
    return handle.release();
  } catch (const std::exception& e) {
    WriteError(error, error_size, e.what());
    return nullptr;
  }
}

void bs_router_free(bs_router* router) { delete router; }

int bs_router_num_models(const bs_router* router) { return router != nullptr ? router->router->num_models() : 0; }
int bs_router_num_tasks(const bs_router* router) { return router != nullptr ? router->router->num_tasks() : 0; }

const char* bs_router_model_name(const bs_router* router, int model) {
  if (router == nullptr || model < 0 || model >= router->router->num_models()) return nullptr;
  return router->router->model_names()[static_cast<size_t>(model)].c_str();
}

const char* bs_router_task_name(const bs_router* router, int task) {
  if (router == nullptr || task < 0 || task >= router->router->num_tasks()) return nullptr;
  return router->router->task_names()[static_cast<size_t>(task)].c_str();
}

int bs_router_task_index(const bs_router* router, const char* name) {
  if (router == nullptr || name == nullptr) return -1;
  return router->router->TaskIndex(name);
}

double bs_router_observe_arrival(bs_router* router, double now_s) {
  return router != nullptr ? router->router->ObserveArrival(now_s) : 0.0;
}

int bs_router_decide(const bs_router* router, int task, const int32_t* in_flight, const int32_t* queued) {
  return router != nullptr ? router->router->Decide(task, in_flight, queued) : -1;
}

int bs_router_route(bs_router* router, int task, double now_s, const int32_t* in_flight, const int32_t* queued) {
  return router != nullptr ? router->router->Route(task, now_s, in_flight, queued) : -1;
}

int bs_router_decide_prompt(const bs_router* router, int task, int32_t prompt_tokens, const int32_t* in_flight,
                            const int32_t* queued) {
  return router != nullptr ? router->router->Decide(task, in_flight, queued, prompt_tokens) : -1;
}

int bs_router_route_prompt(bs_router* router, int task, int32_t prompt_tokens, double now_s, const int32_t* in_flight,
                           const int32_t* queued) {
  return router != nullptr ? router->router->Route(task, now_s, in_flight, queued, prompt_tokens) : -1;
}

void bs_route_request_init(bs_route_request* request) {
  if (request == nullptr) return;
  *request = bs_route_request{-1, nullptr, nullptr, -1, nullptr, 0, -1.0, -1.0};
}

int bs_router_needs_gateway_facts(const bs_router* router) {
  return router != nullptr && router->router->needs_gateway_facts() ? 1 : 0;
}

int bs_router_decide_request(const bs_router* router, const bs_route_request* request) {
  if (router == nullptr || request == nullptr) return -1;
  return router->router->Decide(ToRouteRequest(*request));
}

int bs_router_route_request(bs_router* router, const bs_route_request* request, double now_s) {
  if (router == nullptr || request == nullptr) return -1;
  return router->router->Route(ToRouteRequest(*request), now_s);
}

}  // extern "C"
