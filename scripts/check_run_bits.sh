#!/usr/bin/env bash
# Scripts keep their run bit: a file of scripts/, jobs/ or .ci/ that starts with "#!" is
# executable (the README's commands run them as written, and a clone keeps the mode git
# recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
for f in scripts/*.sh scripts/*.py jobs/*.sh jobs/*.sbatch .ci/*; do
  [ -f "$f" ] && [ "$(head -c2 "$f")" = "#!" ] || continue
  [ -x "$f" ] || { echo "$f: starts with #! but is not executable (git update-index --chmod=+x $f)"; bad=1; }
done
[ "$bad" = 0 ] && echo "OK: every script with #! is executable"
exit "$bad"
