#!/usr/bin/env bash
# No function in src/ or include/ may be longer than LIMIT lines (default 80), from its first
# line to its last, as universal-ctags counts them (--fields=+ne). Long functions are where
# changes go wrong; split them into named steps.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
limit=${1:-80}
cd "$root"
long=$(ctags --fields=+ne --kinds-C++=f -o - $(git ls-files 'src/*.cpp' 'src/*.h' 'include/*.h') |
  awk -F'\t' -v limit="$limit" '{
    line = ""; end = ""
    for (i = 4; i <= NF; i++) {
      if ($i ~ /^line:/) line = substr($i, 6)
      if ($i ~ /^end:/) end = substr($i, 5)
    }
    if (line != "" && end != "" && end - line + 1 > limit) printf "%s:%s %s: %d lines\n", $2, line, $1, end - line + 1
  }')
functions=$(ctags --fields=+ne --kinds-C++=f -o - $(git ls-files 'src/*.cpp' 'src/*.h' 'include/*.h') | wc -l)
if [ -n "$long" ]; then
  echo "functions longer than $limit lines:"
  echo "$long"
  exit 1
fi
echo "OK: all $functions functions in src/ and include/ are at most $limit lines"
