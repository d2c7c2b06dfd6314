#!/usr/bin/env bash
# Byte-identical outputs. Compares the SHA-256 of output files with a stored list taken from the
# code before the layout move (commit fe6dcbc). A refactor must not change a byte; a change that
# alters outputs on purpose regenerates the list (same command + --update) in the same commit and
# says why.
#
#   golden_check.sh runs BESTSERVE_BINARY WORK_DIR LIST [--update]
#       runs fixed `simulate` and `evaluate` commands on the built-in scenario in WORK_DIR and
#       checks every file they write.
#   golden_check.sh dir OUTPUT_DIR LIST [--update]
#       checks the files of a finished run (e.g. `reproduce --quick`): everything but images
#       (matplotlib's bytes are not ours) and run.json (wall times, cache paths).
set -euo pipefail
MODE="$1"
shift
case "$MODE" in
  runs)
    BIN="$1" WORK="$2" LIST="$3" UPDATE="${4:-}"
    rm -rf "$WORK"
    mkdir -p "$WORK"
    cd "$WORK"
    "$BIN" simulate --out sim_default >/dev/null
    "$BIN" simulate --router static:opt-6.7b --rate 3 --out sim_static >/dev/null
    "$BIN" evaluate --rate 8 --duration 60 --out evaluate >/dev/null
    FILES=$(find sim_default sim_static evaluate -type f | LC_ALL=C sort)
    ;;
  dir)
    OUT="$1" LIST="$2" UPDATE="${3:-}"
    cd "$OUT"
    FILES=$(find . -type f ! -name '*.png' ! -name '*.svg' ! -name run.json | sed 's#^\./##' | LC_ALL=C sort)
    ;;
  *)
    echo "usage: golden_check.sh runs BIN WORK LIST [--update] | dir OUT LIST [--update]" >&2
    exit 2
    ;;
esac
ACTUAL="$(mktemp)"
trap 'rm -f "$ACTUAL"' EXIT
# shellcheck disable=SC2086
sha256sum $FILES > "$ACTUAL"
if [[ "$UPDATE" == "--update" ]]; then
  cp "$ACTUAL" "$LIST"
  echo "golden_check: wrote $(wc -l < "$LIST") hashes to $LIST"
  exit 0
fi
if ! diff -u "$LIST" "$ACTUAL"; then
  echo "golden_check: outputs differ from $LIST (lines above: - expected, + actual)" >&2
  exit 1
fi
echo "golden_check: $(wc -l < "$ACTUAL") files byte-identical to $LIST"
