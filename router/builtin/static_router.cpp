// static:<model>: always the same model (the paper's single-model baselines).
//
//   | form                          | settings |
//   |-------------------------------|----------|
//   | static:<model>                | -        |
//   | {name: static, model: <name>} | -        |
//
// The smallest router: the template to copy for a new one (see registry.h).
#include <fmt/format.h>

#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class StaticRouter : public RoutingPolicy {
 public:
  StaticRouter(ModelId model, std::string model_name) : model_(model), name_(std::move(model_name)) {}
  std::string Describe() const override { return "static:" + name_; }

 protected:
  ModelId DoRoute(const RouterView&) override { return model_; }

 private:
  ModelId model_;
  std::string name_;
};

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"model"});
  const std::string model_name = spec.Text("model");
  if (model_name.empty()) {
    spec.Fail(fmt::format("expected static:<model>, one of: {}", fmt::join(ctx.system->model_names, ", ")));
  }
  const ModelId model = ctx.system->FindModel(model_name);
  if (model < 0) {
    spec.Fail(fmt::format("no such model '{}'; models: {}", model_name, fmt::join(ctx.system->model_names, ", ")));
  }
  return std::make_unique<StaticRouter>(model, model_name);
}

std::vector<std::string> DefaultSpecs(const ServingSystem& system) {
  std::vector<std::string> specs;
  for (const auto& name : system.model_names) specs.push_back("static:" + name);
  return specs;
}

}  // namespace

extern const RouterKind kStaticRouter{"static", "static:<model>", "always <model> (the paper's baselines)", Make,
                                      DefaultSpecs};

}  // namespace bestserve
