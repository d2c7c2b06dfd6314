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

#ifdef __cplusplus
}
#endif

#endif /* BESTSERVE_ROUTER_C_API_H_ */
