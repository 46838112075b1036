#!/usr/bin/env bash
# User-flow benchmark: Gatehouse vs node oidc-provider, same run.
#
# Scenarios (BENCH_SCENARIOS), each loaded on each Gatehouse target (SQLite,
# PostgreSQL with N replicas: BENCH_STORES, BENCH_REPLICAS), then on
# oidc-provider (the others idle), on 127.0.0.1 only:
#   introspect          introspection of a user grant's access token
#                       (Gatehouse: ES256 JWT; oidc-provider: opaque, as it
#                       refuses to introspect JWTs) — wrk
#   introspect-opaque   the same with an opaque access token on both (a
#                       Gatehouse web app with --access-token-format opaque) — wrk
#   introspect-cc       introspection of a client_credentials access token
#                       (Gatehouse JWT, oidc-provider opaque) — wrk
#   introspect-cc-opaque  the same, opaque on both — wrk
#   introspect-refresh  introspection of a refresh token (opaque on both) — wrk
#   code                authorization code exchange, a fresh code per request
#                       (codes made beforehand, unmeasured) — bench/flowload
#   refresh             refresh token rotation, each worker along its own
#                       chain — bench/flowload
#   login               Gatehouse only: the whole login without a browser
#                       (authorize → login page → POST → resume → code →
#                       token) — bench/flowload; compared with the password
#                       hash's own cost (argon2id, timed in the same run)
#   saml, saml-enc      Gatehouse only: a signed SAML response (IdP-initiated)
#                       for a signed-in user, the assertion encrypted for
#                       saml-enc — bench/flowload; next to code
# and, with BENCH_GO=1, the in-process Go benchmarks of internal/oidc after
# the servers are stopped. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DURATION      measured run per scenario and server, 1s..20s  (10s)
#   BENCH_WARMUP        unmeasured run before each, 0=off             (3s)
#   BENCH_ROUNDS        alternate the servers this many times; the    (1)
#                       summary takes medians
#   BENCH_SCENARIOS     which scenarios, in order   (all of the above)
#   BENCH_SERVERS       "gatehouse oidc-provider"                      (both)
#   BENCH_CONNECTIONS   wrk connections                               (32)
#   BENCH_THREADS       wrk threads                                   (2)
#   BENCH_INTROSPECT_LOADER  wrk or flowload for the introspect-*     (wrk)
#   BENCH_WORKERS       flowload workers (code, refresh, introspect)  (8)
#   BENCH_LOGIN_WORKERS flowload workers for login                    (4)
#   BENCH_CODES         codes made for each measured code run        (80000)
#   BENCH_GO            1 = also run the Go benchmarks at the end     (1)
#   BENCH_GO_BENCHTIME  go test -benchtime for them                   (2s)
#   BENCH_KEEP          1 = keep the temp Gatehouse data dir          (0)
#   BENCH_GATEHOUSE_ARGS  extra `gatehouse serve` arguments, e.g.
#                       "--debug-listen 127.0.0.1:6060" to profile
#                       (every Gatehouse process gets them: a fixed
#                       port suits one target of one replica)       ()
#   BENCH_STORES        Gatehouse's stores: "sqlite", "postgres"  (sqlite)
#                       or both ("sqlite postgres"), in one run
#   BENCH_REPLICAS      replica counts on PostgreSQL, each its    (1 3)
#                       own target: "gatehouse-pg1", "gatehouse-pg3"
#                       (behind bench/lb, round robin, loopback)
#   BENCH_OP_ADAPTER    memory, or redis: oidc-provider keeps its state
#                       in Redis as in production                     (memory)
#   BENCH_REDIS_URL     Redis for BENCH_OP_ADAPTER=redis   (redis://127.0.0.1:6379/15)
#
# PostgreSQL is the one at 127.0.0.1:5432, user postgres, trust auth: each
# target gets a fresh database gatehouse_bench_<pid>_<replicas>, dropped on
# exit. The replicas' CPU is summed; PostgreSQL's backends for that database
# (and the rows they wrote) and the proxy are reported in their own columns.
#
# The table goes to stdout and bench/out/flow-results.txt; logs to
# bench/out/flow-logs/.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT=$BENCH_DIR/out
OP_DIR=$BENCH_DIR/oidc-provider

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
ROUNDS=${BENCH_ROUNDS:-1}
SCENARIOS=${BENCH_SCENARIOS:-introspect introspect-opaque introspect-cc introspect-cc-opaque introspect-refresh code refresh login saml saml-enc}
SERVERS=${BENCH_SERVERS:-gatehouse oidc-provider}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
INTROSPECT_LOADER=${BENCH_INTROSPECT_LOADER:-wrk}
WORKERS=${BENCH_WORKERS:-8}
LOGIN_WORKERS=${BENCH_LOGIN_WORKERS:-4}
CODES=${BENCH_CODES:-80000}
GO_BENCH=${BENCH_GO:-1}
GO_BENCHTIME=${BENCH_GO_BENCHTIME:-2s}
KEEP=${BENCH_KEEP:-0}
OP_ADAPTER=${BENCH_OP_ADAPTER:-memory}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/15}
STORES=${BENCH_STORES:-sqlite}
REPLICAS=${BENCH_REPLICAS:-1 3}
read -r -a GH_EXTRA_ARGS <<<"${BENCH_GATEHOUSE_ARGS:-}"
READY_TIMEOUT=60
REDIRECT=https://app.example.com/cb

case $OP_ADAPTER in memory | redis) ;; *) die "BENCH_OP_ADAPTER must be memory or redis" ;; esac

secs() {
	case $1 in
	*ms) echo 1 ;;
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*) echo "$1" ;;
	esac
}
want() { [[ " $SERVERS " == *" $1 "* ]]; }
want gatehouse || want oidc-provider || die "BENCH_SERVERS names neither gatehouse nor oidc-provider"
for v in ROUNDS CONNECTIONS THREADS WORKERS LOGIN_WORKERS CODES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "BENCH_$v must be an integer"
done
((ROUNDS >= 1 && ROUNDS <= 10)) || die "BENCH_ROUNDS must be 1..10"
((CONNECTIONS >= THREADS && CONNECTIONS <= 256)) || die "BENCH_CONNECTIONS must be BENCH_THREADS..256"
((WORKERS >= 1 && WORKERS <= 64 && LOGIN_WORKERS >= 1 && LOGIN_WORKERS <= 64)) || die "BENCH_WORKERS, BENCH_LOGIN_WORKERS must be 1..64"
DURATION_S=$(secs "$DURATION")
WARMUP_S=$(secs "$WARMUP")
((DURATION_S >= 1 && DURATION_S <= 20)) || die "BENCH_DURATION must be 1s..20s"
((WARMUP_S >= 0 && WARMUP_S <= 20)) || die "BENCH_WARMUP must be 0..20s"
[[ $INTROSPECT_LOADER == wrk || $INTROSPECT_LOADER == flowload ]] || die "BENCH_INTROSPECT_LOADER must be wrk or flowload"
for s in $SCENARIOS; do
	case $s in
	introspect | introspect-opaque | introspect-cc | introspect-cc-opaque | introspect-refresh | code | refresh | login | saml | saml-enc) ;;
	*) die "unknown scenario $s" ;;
	esac
done
check_stores

# ---------------------------------------------------------------------------
# Cleanup: every process started here is recorded and stopped on exit.
PIDS=()
WORK=""
cleanup() {
	local rc=$? pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	pg_drop_all
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	fi
	if [[ $OP_ADAPTER == redis && -n ${OP_REDIS_PREFIX:-} ]]; then
		# oidc-provider's keys of this run (refresh tokens would stay 30 days).
		(cd "$OP_DIR" && REDIS_URL=$REDIS_URL PREFIX=$OP_REDIS_PREFIX timeout 60 node -e '
			const Redis = require("ioredis");
			const r = new Redis(process.env.REDIS_URL);
			const s = r.scanStream({ match: process.env.PREFIX + "*", count: 1000 });
			s.on("data", (keys) => { if (keys.length) { s.pause(); r.unlink(...keys).then(() => s.resume()); } });
			s.on("end", () => r.quit());') || log "could not delete the oidc-provider keys under $OP_REDIS_PREFIX"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_ready() {
	local url=$1 pid=$2 name=$3 deadline code
	deadline=$(($(now_ms) + READY_TIMEOUT * 1000))
	while :; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
		[[ $code == 200 ]] && return 0
		kill -0 "$pid" 2>/dev/null || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name exited before it was ready"; }
		(($(now_ms) < deadline)) || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name not ready after ${READY_TIMEOUT}s"; }
		sleep 0.01
	done
}

randsecret() { node -p 'require("crypto").randomBytes(24).toString("base64url")'; }

ROWS=()
WARNINGS=()
FAILED=0
OTHER_WARN_PCT=10

# add_row ROW: keep a result row (run.sh's columns) and check it.
add_row() {
	local row=$1 label other steal non2xx req
	label=$(cut -d'|' -f1 <<<"$row")
	req=$(cut -d'|' -f3 <<<"$row")
	non2xx=$(cut -d'|' -f4 <<<"$row")
	other=$(cut -d'|' -f12 <<<"$row")
	steal=$(cut -d'|' -f13 <<<"$row")
	if ((other > OTHER_WARN_PCT || steal > OTHER_WARN_PCT)); then
		log "$label: WARNING other processes used ${other}%, the hypervisor stole ${steal}% of the machine"
		WARNINGS+=("$label: other processes ${other}%, steal ${steal}%")
	fi
	if ((non2xx > 0 || req == 0)); then
		FAILED=1
		log "$label: $non2xx failed of $req"
	fi
	ROWS+=("$row")
}

# wrk_load LABEL URL PIDS BASIC BODY [PROXY_PID [DB]]: introspection with wrk
# and token.lua, a response without "active":true counting as failed. PIDS
# (replicas) are summed; the proxy and DB's backends have their own columns.
wrk_load() {
	local label=$1 url=$2 basic=$4 body=$5 proxy=${6:-} db=${7:-} t0 t1 m0 m1 s0 s1 c0 c1 result
	local -a pids
	read -r -a pids <<<"$3"
	local p0=0 p1=0 d0=0 d1=0 dbd="0 0"
	local wrk_args=(-t"$THREADS" -c"$CONNECTIONS" --timeout 5s -s "$BENCH_DIR/token.lua" "$url")
	local wlog=$LOGS/wrk-${label//[^A-Za-z0-9+_-]/_}
	export BENCH_BASIC=$basic BENCH_BODY=$body BENCH_EXPECT='"active":true'
	if ((WARMUP_S > 0)); then
		bg_wait "$wlog-warmup.txt" timeout $((WARMUP_S + 30)) wrk -d"$WARMUP" "${wrk_args[@]}" ||
			die "$label: warm-up wrk failed: $(tail -n 5 "$wlog-warmup.txt")"
	fi
	log "$label: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
	local watch="" wfile=$LOGS/db-watch.txt
	if [[ -n $db ]]; then
		d0=$(db_snap "$db")
		: >"$wfile"
		db_watch "$db" "$wfile" &
		watch=$!
		PIDS+=("$watch")
	fi
	if [[ -n $proxy ]]; then p0=$(cpu_ticks "$proxy"); fi
	t0=$(sum_ticks "${pids[@]}")
	m0=$(machine_ticks)
	s0=$(steal_ticks)
	c0=$(children_ticks)
	bg_wait "$wlog.txt" timeout $((DURATION_S + 30)) wrk -d"$DURATION" "${wrk_args[@]}" ||
		die "$label: wrk failed: $(tail -n 5 "$wlog.txt")"
	t1=$(sum_ticks "${pids[@]}")
	m1=$(machine_ticks)
	s1=$(steal_ticks)
	c1=$(children_ticks)
	if [[ -n $proxy ]]; then p1=$(cpu_ticks "$proxy"); fi
	if [[ -n $db ]]; then
		stop_pid "$watch"
		d1=$(db_snap "$db")
		dbd=$(db_delta "$d0" "$d1" "$wfile")
		if [[ ${dbd% *} == 0 ]]; then
			log "$label: WARNING no CPU of database $db's backends was seen: its DB columns read 0"
			WARNINGS+=("$label: no PostgreSQL backend CPU seen, DB columns unreliable")
		fi
	fi
	result=$(grep '^BENCH_RESULT ' "$wlog.txt") || die "$label: no BENCH_RESULT from wrk"
	grep '^BENCH_FIRST_BAD' "$wlog.txt" >&2 || true
	local -A r=()
	local kv
	for kv in ${result#BENCH_RESULT }; do r[${kv%%=*}]=${kv#*=}; done
	add_row "$(awk -v label="$label" -v req="${r[requests]}" -v dur_us="${r[duration_us]}" -v non2xx="${r[non2xx]}" \
		-v sock=$((r[connect] + r[read] + r[write] + r[timeout])) -v p50="${r[p50_us]}" -v p99="${r[p99_us]}" \
		-v ticks=$((t1 - t0)) -v hz="$HZ" -v rss="$(sum_rss "${pids[@]}")" -v wrk=$((c1 - c0)) \
		-v machine=$((m1 - m0)) -v steal=$((s1 - s0)) -v ncpu="$NCPU" -v proxy=$((p1 - p0)) \
		-v dbticks="${dbd% *}" -v dbrows="${dbd#* }" 'BEGIN {
		dur = dur_us / 1e6; cpu = ticks / hz; all = hz * dur * ncpu
		other = (machine - ticks - wrk - proxy - dbticks) / all * 100
		if (other < 0) other = 0
		printf "%s|%.0f|%d|%d|%d|%.2f|%.2f|%.2f|%.1f|%.0f|%.2f|%.0f|%.0f|%.2f|%.2f|%.2f\n", label, (dur > 0 ? req / dur : 0), req,
			non2xx, sock, p50 / 1000, p99 / 1000, cpu, (req > 0 ? cpu * 1e6 / req : 0), rss / 1024, wrk / hz,
			other, steal / all * 100, dbticks / hz, (req > 0 ? dbrows / req : 0), proxy / hz
	}')"
}

# ---------------------------------------------------------------------------
# Servers.
# (start_target and the targets' T_* tables are in lib.sh.)
GH_BIN=$OUT/gatehouse
FL_BIN=$OUT/flowload
LB_BIN=$OUT/lb
OP_PID=""
declare -A G=() # TARGET:NAME -> the target's issuer, client IDs and secrets

# setup_target T: start T; through the CLI, tenant bench (ES256), its apps
# and users.
setup_target() {
	local t=$1 j
	start_target "$t"
	j=$(ghc "$t" tenant create bench --signing-alg ES256 -o json) || die "$t: tenant create failed"
	G[$t:ISSUER]=$(json_get issuer <<<"$j")
	j=$(ghc "$t" app create --tenant bench --type web --name web --first-party --redirect-uri "$REDIRECT" --scope api -o json) ||
		die "$t: app create web failed"
	G[$t:WEB_ID]=$(json_get client_id <<<"$j")
	G[$t:WEB_SECRET]=$(json_get client_secret <<<"$j")
	j=$(ghc "$t" app create --tenant bench --type web --name webo --first-party --redirect-uri "$REDIRECT" --scope api \
		--access-token-format opaque -o json) || die "$t: app create webo failed"
	G[$t:WEBO_ID]=$(json_get client_id <<<"$j")
	G[$t:WEBO_SECRET]=$(json_get client_secret <<<"$j")
	j=$(ghc "$t" app create --tenant bench --type s2s --name bencho --scope api --access-token-format opaque -o json) ||
		die "$t: app create bencho failed"
	G[$t:CCO_ID]=$(json_get client_id <<<"$j")
	G[$t:CCO_SECRET]=$(json_get client_secret <<<"$j")
	j=$(ghc "$t" app create --tenant bench --type s2s --name rs -o json) || die "$t: app create rs failed"
	G[$t:RS_ID]=$(json_get client_id <<<"$j")
	G[$t:RS_SECRET]=$(json_get client_secret <<<"$j")
	local sp=$WORK/sp-$t.json spe=$WORK/spe-$t.json cert
	cert=$(openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=bench-sp -days 2 -keyout /dev/null 2>/dev/null | awk '{printf "%s\\n", $0}')
	printf '{"saml":{"entity_id":"urn:bench:sp","acs_urls":["https://sp.bench.example/acs"]}}' >"$sp"
	printf '{"saml":{"entity_id":"urn:bench:spe","acs_urls":["https://spe.bench.example/acs"],"certificate":"%s","encrypt_assertion":true}}' "$cert" >"$spe"
	ghc "$t" app create --tenant bench --type web --protocol saml --name sp --file "$sp" -o json >/dev/null || die "$t: app create sp failed"
	ghc "$t" app create --tenant bench --type web --protocol saml --name spe --file "$spe" -o json >/dev/null || die "$t: app create spe failed"
	j=$(ghc "$t" app create --tenant bench --type s2s --name bench --scope api -o json) || die "$t: app create bench failed"
	G[$t:CC_ID]=$(json_get client_id <<<"$j")
	G[$t:CC_SECRET]=$(json_get client_secret <<<"$j")
	# alice for the set-up; alice0… for the login workers, one each: the
	# brute-force limiter throttles concurrent attempts on one username.
	G[$t:PASSWORD]=$(randsecret)
	local u
	for u in alice $(seq -f 'alice%g' 0 $((LOGIN_WORKERS - 1))); do
		printf '%s\n' "${G[$t:PASSWORD]}" | ghc "$t" user create --tenant bench --username "$u" --email "$u@example.com" \
			--password-stdin -o json >/dev/null || die "$t: user create $u failed"
	done
}

start_op() {
	OP_PORT=$(free_port)
	OP_CC_ID=bench OP_CC_SECRET=$(randsecret)
	OP_WEB_ID=web OP_WEB_SECRET=$(randsecret)
	OP_RS_ID=rs OP_RS_SECRET=$(randsecret)
	OP_MINT=$(randsecret)
	OP_REDIS_PREFIX="gatehouse-bench:$(randsecret):"
	OP_PORT=$OP_PORT OP_CLIENT_ID=$OP_CC_ID OP_CLIENT_SECRET=$OP_CC_SECRET OP_FLOW=1 \
		OP_WEB_CLIENT_ID=$OP_WEB_ID OP_WEB_CLIENT_SECRET=$OP_WEB_SECRET OP_WEB_REDIRECT=$REDIRECT \
		OP_RS_CLIENT_ID=$OP_RS_ID OP_RS_CLIENT_SECRET=$OP_RS_SECRET OP_MINT_SECRET=$OP_MINT NODE_ENV=production \
		OP_ADAPTER=$OP_ADAPTER OP_REDIS_URL=$REDIS_URL OP_REDIS_PREFIX=$OP_REDIS_PREFIX \
		node "$OP_DIR/server.mjs" >>"$LOGS/oidc-provider.log" 2>&1 &
	OP_PID=$!
	PIDS+=("$OP_PID")
	wait_ready "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration" "$OP_PID" oidc-provider
}

# flow_args SERVER: FL_ARGS = the load driver's flags for SERVER (a Gatehouse
# target or oidc-provider); its secrets are exported as FLOW_* (the
# environment, not the process list).
flow_args() {
	local t=$1
	if [[ $t == gatehouse* ]]; then
		export FLOW_CLIENT_SECRET=${G[$t:WEB_SECRET]} FLOW_RS_SECRET=${G[$t:RS_SECRET]} FLOW_CC_SECRET=${G[$t:CC_SECRET]} \
			FLOW_PASSWORD=${G[$t:PASSWORD]} FLOW_MINT_SECRET='' FLOW_OPAQUE_SECRET=${G[$t:WEBO_SECRET]} \
			FLOW_CC_OPAQUE_SECRET=${G[$t:CCO_SECRET]}
		local pidlist=${T_PIDS[$t]}
		FL_ARGS=(-target gatehouse -issuer "${G[$t:ISSUER]}" -client-id "${G[$t:WEB_ID]}" -redirect-uri "$REDIRECT"
			-rs-id "${G[$t:RS_ID]}" -cc-id "${G[$t:CC_ID]}" -opaque-client-id "${G[$t:WEBO_ID]}" -cc-opaque-id "${G[$t:CCO_ID]}"
			-username alice -pid "${pidlist// /,}")
		if [[ -n ${T_PROXY[$t]} ]]; then FL_ARGS+=(-proxy-pid "${T_PROXY[$t]}"); fi
		if [[ -n ${T_DB[$t]} ]]; then FL_ARGS+=(-db-probe "$(pg_probe_cmd "${T_DB[$t]}")"); fi
	else
		export FLOW_CLIENT_SECRET=$OP_WEB_SECRET FLOW_RS_SECRET=$OP_RS_SECRET FLOW_CC_SECRET=$OP_CC_SECRET \
			FLOW_PASSWORD='' FLOW_MINT_SECRET=$OP_MINT FLOW_OPAQUE_SECRET='' FLOW_CC_OPAQUE_SECRET=''
		FL_ARGS=(-target oidc-provider -issuer "http://127.0.0.1:$OP_PORT" -client-id "$OP_WEB_ID" -redirect-uri "$REDIRECT"
			-rs-id "$OP_RS_ID" -cc-id "$OP_CC_ID" -pid "$OP_PID")
	fi
}

# flowload SERVER ARGS...: run the load driver in the foreground (set-up
# steps that take a second).
flowload() {
	flow_args "$1"
	shift
	timeout 120 "$FL_BIN" "${FL_ARGS[@]}" "$@"
}

# run_flowload LABEL SERVER ARGS...: one measured flowload run -> a row.
run_flowload() {
	local label=$1 server=$2 flog row
	shift 2
	flog=$LOGS/flowload-${label//[^A-Za-z0-9+_-]/_}.txt
	log "$label: flowload $*"
	flow_args "$server"
	bg_wait "$flog" timeout $((WARMUP_S + DURATION_S + 120)) "$FL_BIN" "${FL_ARGS[@]}" -label "$label" \
		-duration "${DURATION_S}s" -warmup "${WARMUP_S}s" "$@" || die "$label: flowload failed: $(tail -n 5 "$flog")"
	sed -n '/^    /p' "$flog" >&2
	grep '^FLOW_FIRST_BAD' "$flog" >&2 || true
	row=$(sed -n 's/^FLOW_RESULT //p' "$flog")
	[[ -n $row ]] || die "$label: no FLOW_RESULT: $(tail -n 5 "$flog")"
	add_row "$row"
}

# introspection tokens of each server, from flowload -scenario tokens.
declare -A TOKEN=()
get_tokens() {
	local server=$1 out name value
	out=$(flowload "$server" -scenario tokens) || die "$server: could not get tokens to introspect"
	while read -r _ name value; do TOKEN[$server:$name]=$value; done < <(grep '^FLOW_TOKEN ' <<<"$out")
}

# scenario SCENARIO SERVER LABEL
scenario() {
	local sc=$1 server=$2 label=$3 url basic body
	case $sc in
	introspect*)
		if [[ $INTROSPECT_LOADER == flowload ]]; then
			run_flowload "$label" "$server" -scenario "$sc" -workers "$WORKERS"
			return
		fi
		get_tokens "$server"
		case $sc in
		introspect) body="token=${TOKEN[$server:access]}" ;;
		introspect-opaque) body="token=${TOKEN[$server:access-opaque]}" ;;
		introspect-cc) body="token=${TOKEN[$server:cc]}" ;;
		introspect-cc-opaque) body="token=${TOKEN[$server:cc-opaque]}" ;;
		introspect-refresh) body="token=${TOKEN[$server:refresh]}&token_type_hint=refresh_token" ;;
		esac
		if [[ $server == gatehouse* ]]; then
			url=${G[$server:ISSUER]}/oauth/introspect basic=$(basic_auth "${G[$server:RS_ID]}" "${G[$server:RS_SECRET]}")
			wrk_load "$label" "$url" "${T_PIDS[$server]}" "$basic" "$body" "${T_PROXY[$server]}" "${T_DB[$server]}"
		else
			url=http://127.0.0.1:$OP_PORT/token/introspection basic=$(basic_auth "$OP_RS_ID" "$OP_RS_SECRET")
			wrk_load "$label" "$url" "$OP_PID" "$basic" "$body"
		fi
		;;
	code) run_flowload "$label" "$server" -scenario code -workers "$WORKERS" -codes "$CODES" ;;
	refresh) run_flowload "$label" "$server" -scenario refresh -workers "$WORKERS" ;;
	login) run_flowload "$label" "$server" -scenario login -workers "$LOGIN_WORKERS" -users "$LOGIN_WORKERS" ;;
	saml) run_flowload "$label" "$server" -scenario saml -workers "$WORKERS" -saml-sp urn:bench:sp ;;
	saml-enc) run_flowload "$label" "$server" -scenario saml -workers "$WORKERS" -saml-sp urn:bench:spe ;;
	esac
}

# ---------------------------------------------------------------------------
install_tools
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-flow.XXXXXX")
LOGS=$OUT/flow-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

INFO=()
INFO+=("machine: $NCPU cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)")
INFO+=("runs: ${DURATION} measured after ${WARMUP} warm-up; wrk -t$THREADS -c$CONNECTIONS (introspection); flowload $WORKERS workers (code, refresh), $LOGIN_WORKERS (login)")

log "building gatehouse and bench/flowload"
(cd "$ROOT" && go build -o "$GH_BIN" ./cmd/gatehouse && go build -o "$FL_BIN" ./bench/flowload) || die "go build failed"
SERVER_LIST=()
if want gatehouse; then
	INFO+=("gatehouse $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?'), $(go version | awk '{ print $3 }'), tenant ES256, log level info")
	for t in "${TARGETS[@]}"; do
		setup_target "$t"
		INFO+=("$(target_info "$t")")
		log "$t on ${T_URL[$t]}; checking every scenario once"
		flowload "$t" -scenario check || die "$t: check failed"
		SERVER_LIST+=("$t")
	done
fi
if want oidc-provider; then
	start_op
	INFO+=("oidc-provider $(node -p 'require(process.argv[1]).version' "$OP_DIR/node_modules/oidc-provider/package.json") on node $(node --version), $OP_ADAPTER adapter, one process")
	log "oidc-provider on 127.0.0.1:$OP_PORT; checking every scenario once"
	flowload oidc-provider -scenario check || die "oidc-provider: check failed"
	SERVER_LIST+=(oidc-provider)
fi

declare -A NRUN=()
for ((round = 1; round <= ROUNDS; round++)); do
	for sc in $SCENARIOS; do
		for server in "${SERVER_LIST[@]}"; do
			[[ ($sc == login || $sc == saml*) && $server == oidc-provider ]] && continue
			key="$sc $server"
			NRUN[$key]=$((${NRUN[$key]:-0} + 1))
			label=$key
			((ROUNDS > 1)) && label="$key #${NRUN[$key]}"
			scenario "$sc" "$server" "$label"
		done
	done
done

# The password hash alone, in this process, with the servers idle.
ARGON2=""
if [[ " $SCENARIOS " == *" login "* ]] && want gatehouse; then
	log "timing argon2id (user.DefaultParams) alone"
	ARGON2=$("$FL_BIN" -scenario argon2 -issuer x -argon2-n 15 | sed -n 's/^FLOW_ARGON2 //p')
	log "argon2id: $ARGON2"
fi

for pid in "${PIDS[@]}"; do stop_pid "$pid"; done

GO_OUT=""
if [[ $GO_BENCH == 1 ]]; then
	log "go test -bench (servers stopped)"
	GO_OUT=$LOGS/go-bench.txt
	bg_wait "$GO_OUT" timeout 900 go -C "$ROOT" test -run '^$' -bench 'CodeExchange|Refresh|Introspection|LoginFlow|PasswordVerify|ClientCredentials/ES256' \
		-benchmem -benchtime "$GO_BENCHTIME" ./internal/oidc/ || die "go test -bench failed: $(tail -n 20 "$GO_OUT")"
fi

# ---------------------------------------------------------------------------
report() {
	local line
	echo
	echo "User flows: Gatehouse vs oidc-provider ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
	for line in "${INFO[@]}"; do echo "  $line"; done
	echo
	{
		echo "scenario server|ops/s|ops|failed|socket errs|p50 ms|p99 ms|CPU s|CPU us/op|RSS MiB|load CPU s|other %|steal %|DB CPU s|DB rows/op|proxy CPU s"
		printf '%s\n' "${ROWS[@]}"
	} | awk -F'|' '{ printf "%-32s", $1; for (i = 2; i <= NF; i++) printf " %11s", $i; print "" }'
	if ((${#WARNINGS[@]} > 0)); then
		echo
		echo "WARNING: the machine was not quiet (compare medians, or rerun):"
		for line in "${WARNINGS[@]}"; do echo "  $line"; done
	fi
	echo
	# Medians per scenario and server; per core = 1e6 / CPU us per op, of
	# Gatehouse's processes alone and with its PostgreSQL backends and proxy.
	printf '%s\n' "${ROWS[@]}" | awk -F'|' -v argon2="$ARGON2" '
		function median(list,   v, n, i, j, t) {
			n = split(list, v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		{
			name = $1; sub(/ #[0-9]+$/, "", name)
			sc = name; sub(/ [^ ]+$/, "", sc); srv = name; sub(/^.* /, "", srv)
			if (!(sc in seen)) { order[++n] = sc; seen[sc] = 1 }
			if (!((sc, srv) in runs)) { ns[sc]++; srvs[sc, ns[sc]] = srv }
			q = ($3 > 0 ? $3 : 1)
			rs[sc, srv] = rs[sc, srv] " " $2; cpu[sc, srv] = cpu[sc, srv] " " $9; runs[sc, srv]++
			all[sc, srv] = all[sc, srv] " " ($8 + $14 + $16) * 1e6 / q
			db[sc, srv] = db[sc, srv] " " $14 * 1e6 / q; rows[sc, srv] = rows[sc, srv] " " $15; px[sc, srv] = px[sc, srv] " " $16 * 1e6 / q
		}
		END {
			a = 0
			if (match(argon2, /cpu_ms=[0-9.]+/)) a = substr(argon2, RSTART + 7, RLENGTH - 7) + 0
			for (i = 1; i <= n; i++) {
				sc = order[i]; o = (sc SUBSEP "oidc-provider"); g = (sc SUBSEP "gatehouse")
				if (o in runs) { orr = median(rs[o]); oc = median(cpu[o]) }
				if (g in runs) gc = median(cpu[g])
				for (k = 1; k <= ns[sc]; k++) {
					srv = srvs[sc, k]; x = (sc SUBSEP srv)
					r = median(rs[x]); c = median(cpu[x]); t = median(all[x])
					line = sprintf("%-20s %-14s %7.0f/s %8.1f us CPU = %6.0f/s per core", sc, srv, r, c, (c > 0 ? 1e6 / c : 0))
					if (srv ~ /^gatehouse-pg/) {
						line = line sprintf(" | PostgreSQL %.1f us, %.2f rows written/op", median(db[x]), median(rows[x]))
						if (median(px[x]) > 0) line = line sprintf(", proxy %.1f us", median(px[x]))
						line = line sprintf(", all together %.1f us = %.0f/s per core", t, (t > 0 ? 1e6 / t : 0))
						if ((g in runs) && c > 0 && t > 0) line = line sprintf(" | per core vs SQLite %.2fx (with PostgreSQL %.2fx)", gc / c, gc / t)
					}
					if (srv != "oidc-provider" && (o in runs) && orr > 0 && c > 0)
						line = line sprintf(" | vs oidc-provider %.2fx req/s, oidc-provider uses %.2fx the CPU", r / orr, oc / c)
					if (sc == "login" && c > 0 && a > 0)
						line = line sprintf(" | argon2id alone %.1f ms CPU -> limit %.1f/s per core; the flow reaches %.0f%% of it", a, 1000 / a, (1e6 / c) / (1000 / a) * 100)
					print line " (medians of " runs[x] " run(s))"
				}
			}
		}'
	if [[ -n $ARGON2 ]]; then echo "argon2id verify alone (flowload, servers idle): $ARGON2"; fi
	if [[ -n $GO_OUT ]]; then
		echo
		echo "go test -run '^\$' -bench ... -benchmem -benchtime $GO_BENCHTIME ./internal/oidc/ (servers stopped):"
		grep -E '^(Benchmark|cpu:)' "$GO_OUT" | sed 's/^/  /'
	fi
}
report | tee "$OUT/flow-results.txt"
((FAILED == 0)) || die "some requests failed (logs in $LOGS)"
