#!/usr/bin/env bash
# Runs every fuzz target of the module for the given budget each (default
# 200000x executions; a duration such as 30s works too).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-200000x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "== $pkg $target ($t)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" -fuzzminimizetime 5s "$pkg"
  done
done
