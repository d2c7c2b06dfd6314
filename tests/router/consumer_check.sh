#!/usr/bin/env bash
# Train a tiny policy, export it, install the router library, build the consumer project
# against it with find_package, and check the C and C++ gateways make the same decisions.
set -euo pipefail
SRC="$1"; BUILD="$2"; BESTSERVE="$3"; OUT="$4"
rm -rf "$OUT"; mkdir -p "$OUT"
cat > "$OUT/train.yaml" <<YAML
name: tiny
seed: 5
scenario: $SRC/experiments/scenarios/paper_4gpu.yaml
training_workload: {kind: poisson, rate_rps: 6, num_requests: 400}
episode_requests: 400
learner: {iterations: 1500, learning_starts: 300, batch_size: 64, hidden_sizes: [32], checkpoint_every_iterations: 0, eval_every_iterations: 0}
validation: {requests: 300, seeds: [1]}
YAML
"$BESTSERVE" train --config "$OUT/train.yaml" --out "$OUT/run" > "$OUT/train.log"
"$BESTSERVE" export --policy "$OUT/run" --out "$OUT/router.bsp"
cmake --install "$BUILD" --prefix "$OUT/prefix" > "$OUT/install.log"
test -f "$OUT/prefix/include/bestserve/router.h"
cmake -S "$SRC/tests/router/consumer" -B "$OUT/consumer-build" -DCMAKE_PREFIX_PATH="$OUT/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$OUT/consumer-configure.log"
cmake --build "$OUT/consumer-build" > "$OUT/consumer-build.log"
"$OUT/consumer-build/gateway_cpp" "$OUT/router.bsp" > "$OUT/cpp.txt"
"$OUT/consumer-build/gateway_c" "$OUT/router.bsp" > "$OUT/c.txt"
test "$(wc -l < "$OUT/cpp.txt")" -eq 12
cmp "$OUT/cpp.txt" "$OUT/c.txt"
echo "consumer check: C and C++ gateways agree on $(wc -l < "$OUT/cpp.txt") decisions"
