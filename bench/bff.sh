#!/usr/bin/env bash
# Token-management service benchmark (issue 10): RetrieveAccessToken over
# HTTP with no refresh due, per core of the `gatehouse bff` process; then
# with a refresh at Gatehouse on every call.
#
# Starts Gatehouse (SQLite, a temp data dir) with tenant bench (ES256, as
# bench/flow.sh), user alice and a web app for the BFF, then `gatehouse bff`
# in front of it, both on 127.0.0.1; bench/bffload signs in once through the BFF and loads
# POST /Session/RetrieveAccessToken with that session. The BFF's CPU is
# read from /proc. The refresh rows: bffload runs the BFF itself (the same
# code, a second config) with a clock that steps one access-token lifetime
# (1 minute) per call, so every call refreshes; one session per worker.
# Output: bench/out/bff-results.txt.
#
# Environment (all optional):
#   BENCH_DURATION  measured run (10s)      BENCH_WARMUP  warm-up (2s)
#   BENCH_WORKERS   concurrent requests (8) BENCH_ROUNDS  runs, each a row (3)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT=$BENCH_DIR/out
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
WORKERS=${BENCH_WORKERS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bff.XXXXXX")
trap 'for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
LOGS=$OUT/bff-logs
mkdir -p "$LOGS"

wait_up() { # URL PID NAME
	for _ in $(seq 300); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true) == 200 ]] && return 0
		kill -0 "$2" 2>/dev/null || die "$3 exited: $(tail -n 5 "$LOGS/$3.log")"
		sleep 0.05
	done
	die "$3 not ready"
}

log "building gatehouse and bench/bffload"
go -C "$ROOT" build -o "$OUT/gatehouse" ./cmd/gatehouse
go -C "$ROOT" build -o "$OUT/bffload" ./bench/bffload
GH=$OUT/gatehouse
gport=$(free_port) bport=$(free_port) rport=$(free_port)
GURL=http://127.0.0.1:$gport BURL=http://127.0.0.1:$bport RURL=http://127.0.0.1:$rport
"$GH" serve --data-dir "$WORK/gh" --listen "127.0.0.1:$gport" --public-url "$GURL" --metrics-listen "127.0.0.1:$(free_port)" >"$LOGS/gatehouse.log" 2>&1 &
PIDS+=("$!")
wait_up "$GURL/healthz" "$!" gatehouse
ghc() { "$GH" --data-dir "$WORK/gh" "$@"; }
ghc tenant create bench --signing-alg ES256 -o json >/dev/null
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$PASSWORD" | ghc user create --tenant bench --username alice --email alice@example.com --password-stdin -o json >/dev/null
j=$(ghc app create --tenant bench --type web --name tms --first-party --redirect-uri "$BURL/callback" --redirect-uri "$RURL/callback" \
	--access-token-lifetime 1m -o json)
FRONT=http://127.0.0.1:1/app ORIGIN=http://127.0.0.1:2 DOMAIN=acme.bench.example.com
cat >"$WORK/bff.yaml" <<YAML
listen: 127.0.0.1:$bport
public_url: $BURL
client:
  client_id: $(json_get client_id <<<"$j")
  client_secret: $(json_get client_secret <<<"$j")
front_end:
  redirect_url: $FRONT
  cors_origin: $ORIGIN
domains:
  $DOMAIN: $GURL/t/bench
cookie:
  keys: ["$(head -c 32 /dev/urandom | base64)"]
YAML
# The refresh run's BFF: its own origin; a day of idle time on its stepping
# clock.
sed -e "s#^listen: .*#listen: 127.0.0.1:$rport#" -e "s#^public_url: .*#public_url: $RURL#" "$WORK/bff.yaml" >"$WORK/bff-refresh.yaml"
printf 'session:\n  idle_timeout: 24h\n' >>"$WORK/bff-refresh.yaml"
GPID=${PIDS[0]}
"$GH" bff --config "$WORK/bff.yaml" >"$LOGS/bff.log" 2>&1 &
BPID=$!
PIDS+=("$BPID")
wait_up "$BURL/healthz" "$BPID" bff
{
	echo "RetrieveAccessToken over HTTP, no refresh due ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, commit $(git -C "$ROOT" describe --always --dirty), $WORKERS workers, $DURATION after $WARMUP)"
	for ((i = 1; i <= ROUNDS; i++)); do
		BFF_PASSWORD=$PASSWORD "$OUT/bffload" -bff "$BURL" -domain "$DOMAIN" -username alice -origin "$ORIGIN" -front-end "$FRONT" \
			-pid "$BPID" -workers "$WORKERS" -duration "$DURATION" -warmup "$WARMUP"
	done
	echo "RetrieveAccessToken with a refresh at Gatehouse (SQLite) on every call: CPU of bffload (BFF and load) and of Gatehouse"
	for ((i = 1; i <= ROUNDS; i++)); do
		BFF_PASSWORD=$PASSWORD "$OUT/bffload" -refresh -config "$WORK/bff-refresh.yaml" -step 1m -domain "$DOMAIN" -username alice \
			-origin "$ORIGIN" -front-end "$FRONT" -pid "$GPID" -workers "$WORKERS" -duration "$DURATION" -warmup "$WARMUP"
	done
} | tee "$OUT/bff-results.txt"
