/* bestserve router, C API: the same router as router.h for gateways written in other
 * languages. Every function is thread-safe (see router.h). Strings returned are owned by the
 * router and valid until bs_router_free. */
#ifndef BESTSERVE_ROUTER_C_API_H_
#define BESTSERVE_ROUTER_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bs_router bs_router;

/* Loads a policy file. On failure returns NULL and writes a message into `error`
 * (`error_size` bytes, always NUL-terminated when error_size > 0). */
bs_router* bs_router_load(const char* path, char* error, size_t error_size);
void bs_router_free(bs_router* router);

int bs_router_num_models(const bs_router* router);
int bs_router_num_tasks(const bs_router* router);
/* NULL when the index is out of range. */
const char* bs_router_model_name(const bs_router* router, int model);
const char* bs_router_task_name(const bs_router* router, int task);
/* -1 when unknown. */
int bs_router_task_index(const bs_router* router, const char* name);

/* Records an arrival at gateway time now_s (seconds) and returns the rate estimate. */
double bs_router_observe_arrival(bs_router* router, double now_s);
/* The model index for a request of `task`; in_flight has num_models entries, queued may be
 * NULL (required by extended-v1 policies). Returns -1 on invalid arguments. */
int bs_router_decide(const bs_router* router, int task, const int32_t* in_flight, const int32_t* queued);
/* bs_router_observe_arrival + bs_router_decide. */
int bs_router_route(bs_router* router, int task, double now_s, const int32_t* in_flight, const int32_t* queued);
/* The same with this request's prompt length in tokens (required by request-v1 policies,
 * ignored by the others). */
int bs_router_decide_prompt(const bs_router* router, int task, int32_t prompt_tokens, const int32_t* in_flight,
                            const int32_t* queued);
int bs_router_route_prompt(bs_router* router, int task, int32_t prompt_tokens, double now_s, const int32_t* in_flight,
                           const int32_t* queued);

/* Everything a decision may read (router.h's RouteRequest); which fields a policy reads depends
 * on its encoding: queued (extended-v1, request-v1, gateway-v1), prompt_tokens (request-v1,
 * gateway-v1), the rest (gateway-v1). Initialize with bs_route_request_init. */
typedef struct bs_route_request {
  int task;
  const int32_t* in_flight;               /* num_models entries */
  const int32_t* queued;                  /* num_models entries, or NULL */
  int32_t prompt_tokens;                  /* -1: unknown */
  const int64_t* in_flight_prompt_tokens; /* num_models entries, or NULL */
  int32_t max_tokens;                     /* the client's max_tokens; 0: not sent */
  double deadline_base_s;                 /* -1: unknown */
  double deadline_per_token_s;            /* -1: unknown */
} bs_route_request;

/* Sets every field to "not given" (task -1, pointers NULL, prompt and deadlines -1). */
void bs_route_request_init(bs_route_request* request);
/* 1 when the policy reads gateway-v1's fields (it then decides only through the two below). */
int bs_router_needs_gateway_facts(const bs_router* router);
/* The model for `request`; -1 when an input the policy needs is missing. */
int bs_router_decide_request(const bs_router* router, const bs_route_request* request);
/* bs_router_observe_arrival + bs_router_decide_request. */
int bs_router_route_request(bs_router* router, const bs_route_request* request, double now_s);

#ifdef __cplusplus
}
#endif

#endif /* BESTSERVE_ROUTER_C_API_H_ */
