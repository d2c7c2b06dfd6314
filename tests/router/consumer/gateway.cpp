// The README's gateway loop: route a few requests and print the decisions.
#include <bestserve/router.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  auto router = bestserve::Router::Load(argv[1]);
  int32_t in_flight[3] = {0, 0, 0};
  double now_s = 0.0;
  for (int i = 0; i < 12; ++i) {
    now_s += 0.05;  // a burst: 20 requests/s
    const int task = router->TaskIndex(i % 2 == 0 ? "hellaswag" : "copa");
    const int model = router->Route(task, now_s, in_flight);
    ++in_flight[model];  // the gateway counts its own dispatches (and decrements on completion)
    std::printf("%d\n", model);
  }
  return 0;
}
