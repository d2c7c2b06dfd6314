#!/bin/sh
# Runs a test command only where PYTHON can import torch; otherwise says why and exits 77,
# which ctest reports as "Skipped" (SKIP_RETURN_CODE).
#   run_with_torch.sh PYTHON COMMAND [ARGS...]
python="$1"
shift
if ! "$python" -c 'import torch' >/dev/null 2>&1; then
  echo "SKIPPED: $python cannot import torch, so the profiler cannot run here (Debian: apt-get install python3-torch)"
  exit 77
fi
exec "$@"
