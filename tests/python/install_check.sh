#!/bin/sh
# Installs the build into a temporary prefix and imports bestserve from there alone (not from
# the build tree): the `cmake --install` path documented in the README, section "Python".
#   install_check.sh CMAKE BUILD_DIR PYTHON_INSTALL_DIR PYTHON
set -eu
cmake=$1 build=$2 subdir=$3 python=$4
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
"$cmake" --install "$build" --prefix "$prefix" > /dev/null
cd "$prefix"
PYTHONPATH="$prefix/$subdir" "$python" -c '
import os, sys, bestserve
assert bestserve.__file__.startswith(sys.argv[1]), bestserve.__file__
env = bestserve.RoutingEnv(seed=1, episode_requests=20)
obs, info = env.reset()
steps = 0
while not env.step(steps % 3)[2]:
    steps += 1
print("installed bestserve at", os.path.dirname(bestserve.__file__), "ran", steps + 1, "steps")
' "$prefix"
