#!/usr/bin/env bash
# The README's "Using it" recipe, followed as a newcomer would: every `$B ...` line of that code
# block runs from a scratch folder holding the repository's experiments/ and profiles/, and must
# exit 0; a run given --out must leave its documented files there. Keeps the README true.
#
#   readme_check.sh SOURCE_DIR BESTSERVE_BINARY WORK_DIR
set -euo pipefail
SRC="$1"
B="$2"
WORK="$3"
rm -rf "$WORK"
mkdir -p "$WORK"
ln -s "$SRC/experiments" "$WORK/experiments"
ln -s "$SRC/profiles" "$WORK/profiles"
cd "$WORK"
# The code block right after the "## Using it" heading.
mapfile -t LINES < <(awk '/^## Using it/{s=1} s&&/^```sh/{b=1;next} b&&/^```/{exit} b' "$SRC/README.md" |
  grep '^\$B ' | sed 's/  *#.*$//')
((${#LINES[@]} >= 4)) || { echo "readme_check: found only ${#LINES[@]} recipe lines in README.md" >&2; exit 1; }
for line in "${LINES[@]}"; do
  echo "readme_check: $line"
  # `;` separates commands on one line; each starts with $B.
  IFS=';' read -ra COMMANDS <<<"$line"
  for command in "${COMMANDS[@]}"; do
    read -ra WORDS <<<"$command"
    [[ "${WORDS[0]}" == '$B' ]] || { echo "readme_check: not a bestserve command: $command" >&2; exit 1; }
    "$B" "${WORDS[@]:1}" >/dev/null
    for ((i = 1; i < ${#WORDS[@]}; ++i)); do
      if [[ "${WORDS[i]}" == "--out" && "${WORDS[1]}" == "simulate" ]]; then
        for f in config.yaml requests.csv windows.csv summary.json; do
          [[ -s "${WORDS[i + 1]}/$f" ]] || { echo "readme_check: ${WORDS[i + 1]}/$f missing" >&2; exit 1; }
        done
      fi
    done
  done
done
echo "readme_check: ${#LINES[@]} recipe lines ran"
