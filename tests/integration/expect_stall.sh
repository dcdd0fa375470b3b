#!/usr/bin/env bash
# Runs a command that must end (not hang) with a non-zero exit within LIMIT seconds and print
# a stall report containing PATTERN.   expect_stall.sh LIMIT PATTERN command...
limit=$1 pattern=$2
shift 2
start=$(date +%s)
out=$(timeout --kill-after=10 "$limit" "$@" 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out" | grep -vE "^\s*$" | tail -n 25
echo "exit code $rc after ${elapsed}s"
if [ "$rc" -eq 0 ]; then echo "FAIL: the job succeeded"; exit 1; fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "FAIL: the job hung until the test's own timeout"; exit 1; fi
if ! grep -qE "$pattern" <<<"$out"; then echo "FAIL: no stall report matching: $pattern"; exit 1; fi
echo "OK: the job stopped by itself and named the missing rank"
