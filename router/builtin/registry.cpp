#include "router/builtin/registry.h"

#include <fmt/format.h>

namespace bestserve {

// The registry: one line per router kind, in the order of --help and of `evaluate`'s defaults.
// Each kind is defined in its own file in this folder.
#define BESTSERVE_FOR_EACH_ROUTER_KIND(X) \
  X(kStaticRouter)                        \
  X(kRandomRouter)                        \
  X(kThresholdRouter)                     \
  X(kGreedyRouter)                        \
  X(kSlackRouter)                         \
  X(kScorerRouter)                        \
  X(kVirtualQueueRouter)                  \
  X(kPolicyRouter)

#define BESTSERVE_DECLARE_KIND(kind) extern const RouterKind kind;
BESTSERVE_FOR_EACH_ROUTER_KIND(BESTSERVE_DECLARE_KIND)
#undef BESTSERVE_DECLARE_KIND

std::span<const RouterKind* const> RouterKinds() {
#define BESTSERVE_KIND_ADDRESS(kind) &(kind),
  static const RouterKind* const kinds[] = {BESTSERVE_FOR_EACH_ROUTER_KIND(BESTSERVE_KIND_ADDRESS)};
#undef BESTSERVE_KIND_ADDRESS
  return kinds;
}

RouterSpec RouterSpec::FromString(const std::string& text, const std::string& source) {
  RouterSpec spec;
  const size_t colon = text.find(':');
  spec.name_ = text.substr(0, colon);
  spec.has_argument_ = colon != std::string::npos;
  if (spec.has_argument_) spec.argument_ = text.substr(colon + 1);
  spec.where_ = fmt::format("{} '{}'", source, text);
  return spec;
}

RouterSpec RouterSpec::FromNode(const ConfigNode& node) {
  if (node.IsScalar()) {
    RouterSpec spec = FromString(node.AsString(), "router");
    spec.node_ = node;
    return spec;
  }
  node.ExpectMap("router settings");
  RouterSpec spec;
  spec.name_ = node.GetString("name");
  spec.node_ = node;
  spec.map_ = node;
  return spec;
}

void RouterSpec::CheckKeys(std::initializer_list<std::string_view> keys) const {
  if (!map_) return;
  std::vector<std::string> allowed{"name"};
  for (auto key : keys) allowed.emplace_back(key);
  map_->CheckKeys(allowed);
}

std::optional<ConfigNode> RouterSpec::Setting(std::string_view key) const {
  if (!map_) return std::nullopt;
  return map_->MaybeChild(key);
}

std::string RouterSpec::Text(std::string_view key) const {
  return map_ ? map_->GetString(key) : argument_;
}

void RouterSpec::Fail(const std::string& message) const {
  if (node_) node_->Fail(where_.empty() ? message : fmt::format("{}: {}", where_, message));
  throw ConfigError(fmt::format("{}: {}", where_, message));
}

std::vector<std::string> RouterNames() {
  std::vector<std::string> names;
  for (const RouterKind* kind : RouterKinds()) names.emplace_back(kind->usage);
  return names;
}

std::string RouterHelp() {
  std::string help;
  for (const RouterKind* kind : RouterKinds()) help += fmt::format("  {:<28} {}\n", kind->usage, kind->help);
  return help;
}

std::vector<std::string> BuiltinRouterSpecs(const ServingSystem& system) {
  std::vector<std::string> specs;
  for (const auto& name : system.model_names) specs.push_back("dedicated:" + name);
  for (const RouterKind* kind : RouterKinds()) {
    for (auto& spec : kind->default_specs(system)) specs.push_back(std::move(spec));
  }
  return specs;
}

namespace {

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  BS_CHECK(ctx.system != nullptr && ctx.tasks != nullptr);
  for (const RouterKind* kind : RouterKinds()) {
    if (spec.name() == kind->name) return kind->make(spec, ctx);
  }
  spec.Fail(fmt::format("unknown router '{}'; valid routers: {}", spec.name(), fmt::join(RouterNames(), ", ")));
}

}  // namespace

std::unique_ptr<RoutingPolicy> MakeRouter(const std::string& spec, const RouterContext& ctx,
                                          const std::string& source) {
  return Make(RouterSpec::FromString(spec, source), ctx);
}

std::unique_ptr<RoutingPolicy> MakeRouter(const ConfigNode& spec, const RouterContext& ctx) {
  return Make(RouterSpec::FromNode(spec), ctx);
}

}  // namespace bestserve
