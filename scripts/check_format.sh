#!/usr/bin/env bash
# Every C++ file is formatted as .clang-format says. `scripts/check_format.sh --fix` formats them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
echo "OK: ${#files[@]} files formatted as .clang-format says"
