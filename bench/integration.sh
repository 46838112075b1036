#!/usr/bin/env bash
# HTTP integration benchmark (issue 11): calls per second through an
# API-key integration to a local upstream, against calls made directly to
# the same upstream in the same run, and Gatehouse's CPU per call.
#
# Starts Gatehouse (SQLite, a temp data dir) and bench/intload, which
# serves the upstream; creates tenant bench, an s2s client with scope
# integration:tickets and the integration; then intload alternates rounds
# of direct and through calls. Output: bench/out/integration-results.txt.
#
# Environment (all optional):
#   BENCH_DURATION  each round (5s)   BENCH_WORKERS  concurrent calls (8)
#   BENCH_ROUNDS    rounds (3)        GH_SERVE_FLAGS more flags for gatehouse serve
#                                     (e.g. --debug-listen 127.0.0.1:6060 to profile)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT=$BENCH_DIR/out
DURATION=${BENCH_DURATION:-5s}
WORKERS=${BENCH_WORKERS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-int.XXXXXX")
trap 'for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
mkdir -p "$OUT/integration-logs"
LOGS=$OUT/integration-logs

log "building gatehouse and bench/intload"
go -C "$ROOT" build -o "$OUT/gatehouse" ./cmd/gatehouse
go -C "$ROOT" build -o "$OUT/intload" ./bench/intload
GH=$OUT/gatehouse
gport=$(free_port)
GURL=http://127.0.0.1:$gport
# shellcheck disable=SC2086 # GH_SERVE_FLAGS: words
"$GH" serve --data-dir "$WORK/gh" --listen "127.0.0.1:$gport" --public-url "$GURL" --metrics-listen "127.0.0.1:$(free_port)" ${GH_SERVE_FLAGS:-} >"$LOGS/gatehouse.log" 2>&1 &
GPID=$!
PIDS+=("$GPID")
for _ in $(seq 300); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$GURL/healthz" || true) == 200 ]] && break
	kill -0 "$GPID" 2>/dev/null || die "gatehouse exited: $(tail -n 5 "$LOGS/gatehouse.log")"
	sleep 0.05
done
ghc() { "$GH" --data-dir "$WORK/gh" "$@"; }
ghc tenant create bench --signing-alg ES256 -o json >/dev/null
j=$(ghc app create --tenant bench --type s2s --name caller --scope integration:tickets -o json)
KEY=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
TOKEN=$(curl -s -u "$(json_get client_id <<<"$j"):$(json_get client_secret <<<"$j")" -d grant_type=client_credentials -d scope=integration:tickets "$GURL/t/bench/oauth/token" | json_get access_token)
"$OUT/intload" -ready-file "$WORK/upstream" -go-file "$WORK/go" -key "$KEY" -token "$TOKEN" -pid "$GPID" \
	-workers "$WORKERS" -duration "$DURATION" -rounds "$ROUNDS" >"$WORK/results" 2>"$LOGS/intload.log" &
LPID=$!
PIDS+=("$LPID")
for _ in $(seq 200); do [[ -s $WORK/upstream ]] && break; sleep 0.05; done
UP=$(cat "$WORK/upstream")
printf '{"name":"tickets","base_url":"%s/api","service_auth":{"method":"api_key","in":"header","name":"X-API-Key","key":"%s"}}' "$UP" "$KEY" >"$WORK/int.json"
ghc integration create --tenant bench --file "$WORK/int.json" -o json >/dev/null
echo "$GURL/t/bench/integrations/tickets/call/" >"$WORK/go"
wait "$LPID" || die "intload failed: $(tail -n 5 "$LOGS/intload.log")"
{
	echo "Integration calls through an API-key integration vs direct ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, commit $(git -C "$ROOT" describe --always --dirty), $WORKERS workers, rounds of $DURATION)"
	cat "$WORK/results"
} | tee "$OUT/integration-results.txt"
