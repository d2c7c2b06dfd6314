#include "router/core/routing_policy.h"

#include "common/error.h"

namespace bestserve {

ModelId RoutingPolicy::Route(const RouterView& view) {
  const ModelId model = DoRoute(view);
  BS_CHECK_MSG(model >= 0 && model < view.num_models(), "router {} chose model {} of {}",
               Describe(), model, view.num_models());
  ++decisions_;
  return model;
}

void RoutingPolicy::Reset(int32_t num_models) {
  BS_CHECK(num_models > 0);
  decisions_ = 0;
  DoReset();
}

}  // namespace bestserve
