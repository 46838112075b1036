#!/usr/bin/env bash
# The whole test suite: formatting, vet, module tidiness, then every test with
# the race detector, on SQLite and on PostgreSQL. In CI (CI=true) PostgreSQL
# is required; elsewhere the PostgreSQL tests are skipped, loudly, when no
# server answers on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."

lint_only=false
[ "${1:-}" = "--lint-only" ] && lint_only=true

echo "== go version: $(go version)"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bench/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files are not formatted:"; echo "$unformatted"; exit 1
fi
go vet ./...
if [ -d .git ]; then
  cp go.mod /tmp/gatehouse.go.mod.$$; cp go.sum /tmp/gatehouse.go.sum.$$
  go mod tidy
  if ! cmp -s go.mod /tmp/gatehouse.go.mod.$$ || ! cmp -s go.sum /tmp/gatehouse.go.sum.$$; then
    echo "go mod tidy changed go.mod/go.sum: commit the tidy result"; git --no-pager diff -- go.mod go.sum | head -40; exit 1
  fi
  rm -f /tmp/gatehouse.go.mod.$$ /tmp/gatehouse.go.sum.$$
fi
$lint_only && exit 0

# The browser tests drive Debian's chromium (no browser download); the SAML
# tests check every signature again with Debian's xmlsec1.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v xmlsec1 >/dev/null 2>&1 || missing="$missing xmlsec1"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's$missing for the browser and SAML tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -q $missing >/dev/null
  elif [ "${CI:-}" = "true" ]; then
    echo "CI=true but$missing is missing and cannot be installed (need root and apt-get)"; exit 1
  else
    echo "##$missing not installed and this is not root: the browser tests and the xmlsec1 checks will be SKIPPED ##"
  fi
fi

# The token-management service is tested against a second, non-Gatehouse
# provider: node oidc-provider, pinned in bench/oidc-provider (npm ci).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's nodejs and npm for the BFF peer test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q nodejs npm >/dev/null
  elif [ "${CI:-}" = "true" ]; then
    echo "CI=true but node/npm are missing and cannot be installed (need root and apt-get)"; exit 1
  fi
fi
if command -v npm >/dev/null 2>&1 && [ ! -d bench/oidc-provider/node_modules/oidc-provider ]; then
  echo "== npm ci in bench/oidc-provider (the BFF's second provider)"
  (cd bench/oidc-provider && npm ci --no-audit --no-fund --loglevel=error)
fi

default_pg="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
if [ -z "${GATEHOUSE_TEST_POSTGRES:-}" ]; then
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    export GATEHOUSE_TEST_POSTGRES="$default_pg"
  elif [ "${CI:-}" = "true" ]; then
    echo "CI=true but no PostgreSQL answers on 127.0.0.1:5432: start it (see README) or set GATEHOUSE_TEST_POSTGRES"; exit 1
  else
    echo "##########################################################################"
    echo "## No PostgreSQL on 127.0.0.1:5432: the PostgreSQL tests will be SKIPPED. ##"
    echo "## Start one (see README) or set GATEHOUSE_TEST_POSTGRES to run them.     ##"
    echo "##########################################################################"
  fi
fi
echo "== PostgreSQL for tests: ${GATEHOUSE_TEST_POSTGRES:-none}"

start=$(date +%s)
go test -race -shuffle=on -count=1 -timeout 12m ./...
echo "== tests took $(( $(date +%s) - start ))s"
