#!/usr/bin/env bash
# The fuzz campaign: every fuzz target of the module (every parser that takes
# outside input: token request forms, client authentication, assertions and
# JWTs, authorization requests, the login form, admin JSON, config files,
# themes, sealed values, password hashes) for the given budget each: an
# execution count (default 200000x) or a duration (issue 8 §6 asks 10m).
#
#   scripts/fuzz.sh 10m            every target, 10 minutes each
#   FUZZ_ONLY=FuzzAppJSON scripts/fuzz.sh 1m
#   FUZZ_ONLY="FuzzOpen FuzzHash" FUZZ_PARALLEL=1 scripts/fuzz.sh 10m
#
# FUZZ_ONLY is a space-separated list of target names; FUZZ_PARALLEL the
# number of fuzzing worker processes per target (default: go test's, the
# CPU count), so that two campaigns can share a machine.
#
# An input that crashes a target is written by go test to the package's
# testdata/fuzz/<target>/ directory: commit it, it is a regression test from
# then on (plain `go test` runs it). Each target's summary (executions, new
# interesting inputs, result) goes to the log file $FUZZ_LOG (fuzz.log).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-200000x}
log=${FUZZ_LOG:-fuzz.log}
: >"$log"
failed=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $target "* ]]; then continue; fi
    echo "== $pkg $target ($t)" | tee -a "$log"
    out=$(mktemp)
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" -fuzzminimizetime 5s ${FUZZ_PARALLEL:+-parallel "$FUZZ_PARALLEL"} "$pkg" >"$out" 2>&1; then
      grep '^fuzz: elapsed' "$out" | tail -n 1 | tee -a "$log"
      echo "ok" | tee -a "$log"
    elif grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
      # Go 1.26 can end a time budget with this error and no failing input.
      grep '^fuzz: elapsed' "$out" | tail -n 1 | tee -a "$log"
      echo "ok (the budget ended in go test's spurious 'context deadline exceeded'; no failing input)" | tee -a "$log"
    else
      cat "$out"
      echo "FAILED: $pkg $target (a crashing input is in $dir/testdata/fuzz/$target/)" | tee -a "$log"
      failed=1
    fi
    rm -f "$out"
  done
done
exit $failed
