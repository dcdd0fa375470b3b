#!/usr/bin/env bash
# Scripts keep their run bit, and only scripts: a file of scripts/, jobs/ or .ci/ that starts
# with "#!" is executable (the README's commands run them as written, and a clone keeps the mode
# git recorded); one without it is sourced by the others and is not.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
for f in scripts/*.sh scripts/*.py jobs/*.sh jobs/*.sbatch .ci/*; do
  [ -f "$f" ] || continue
  if [ "$(head -c2 "$f")" = "#!" ]; then
    [ -x "$f" ] || { echo "$f: starts with #! but is not executable (git update-index --chmod=+x $f)"; bad=1; }
  elif [ -x "$f" ]; then
    echo "$f: has no #! line (it is sourced) but is executable (git update-index --chmod=-x $f)"
    bad=1
  fi
done
[ "$bad" = 0 ] && echo "OK: every script with #! is executable, every sourced one is not"
exit "$bad"
