#!/usr/bin/env bash
# clang-tidy (.clang-tidy, Debian clang-tidy 14) over bestserve's C++ sources, through the build
# folder's compile_commands.json. Exits non-zero on any finding.
#
#   scripts/lint.sh BUILD_DIR --all         every library and app source
#   scripts/lint.sh BUILD_DIR --since REF   the .cpp files changed since git REF
#   scripts/lint.sh BUILD_DIR FILE...       these files
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:?usage: lint.sh BUILD_DIR (--all | --since REF | FILE...)}"
shift
TIDY="$(command -v clang-tidy-14 || command -v clang-tidy || true)"
if [[ -z "$TIDY" ]]; then
  echo "lint: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2
  exit 2
fi
[[ -f "$BUILD/compile_commands.json" ]] || { echo "lint: no $BUILD/compile_commands.json (configure first)" >&2; exit 2; }
cd "$ROOT"
LIBS='^(common|workloads|sim|router|agent|scenario|sweep|reproduce|serve|profiles/tools|apps)/.*\.cpp$'
case "${1:-}" in
  --all) mapfile -t FILES < <(git ls-files | grep -E "$LIBS") ;;
  --since) mapfile -t FILES < <(git diff --name-only --diff-filter=AM "$2" -- | grep -E "$LIBS" || true) ;;
  *) FILES=("$@") ;;
esac
# Sources compiled against libtorch are checked by the compiler's warnings only: torch's headers
# are not clang-tidy clean.
mapfile -t FILES < <(printf '%s\n' "${FILES[@]}" | grep -v -E 'torch_learner\.cpp|torchscript\.cpp' | grep . || true)
if ((${#FILES[@]} == 0)); then
  echo "lint: no files to check"
  exit 0
fi
echo "lint: clang-tidy on ${#FILES[@]} file(s)"
printf '%s\n' "${FILES[@]}" | xargs -P "$(nproc 2>/dev/null || echo 2)" -n 4 \
  "$TIDY" -p "$BUILD" --quiet --extra-arg=-Wno-unknown-warning-option 2> >(grep -v -E '^[0-9]+ warnings? generated|^Suppressed|^Use -header-filter' >&2)
echo "lint: clean"
