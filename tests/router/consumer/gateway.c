/* The same loop through the C API. */
#include <bestserve/c_api.h>
#include <stdio.h>

int main(int argc, char** argv) {
  char error[512];
  if (argc < 2) return 2;
  bs_router* router = bs_router_load(argv[1], error, sizeof error);
  if (router == NULL) {
    fprintf(stderr, "%s\n", error);
    return 1;
  }
  int32_t in_flight[3] = {0, 0, 0};
  double now_s = 0.0;
  for (int i = 0; i < 12; ++i) {
    now_s += 0.05;
    int task = bs_router_task_index(router, i % 2 == 0 ? "hellaswag" : "copa");
    int model = bs_router_route(router, task, now_s, in_flight, NULL);
    ++in_flight[model];
    printf("%d\n", model);
  }
  bs_router_free(router);
  return 0;
}
