#!/usr/bin/env bash
# Token-endpoint load benchmark: Gatehouse vs node oidc-provider.
#
# Both servers issue ES256-signed JWT access tokens for one s2s client with the
# client_credentials grant and client_secret_basic. Each is loaded with wrk in
# turn (the other idle) on 127.0.0.1 only; its CPU time is read from
# /proc/PID/stat before and after. Gatehouse runs on SQLite and/or on
# PostgreSQL with one or more replicas (BENCH_STORES, BENCH_REPLICAS), all in
# the same run. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DURATION      wrk duration per measured run            (15s)
#   BENCH_CONNECTIONS   wrk connections                          (32)
#   BENCH_THREADS       wrk threads                              (2)
#   BENCH_WARMUP        unmeasured wrk run before each one, 0=off (3s)
#   BENCH_SERVERS       which to load: "gatehouse oidc-provider" (both)
#   BENCH_ROUNDS        alternate the servers this many times;   (1)
#                       the summary takes each one's median
#   BENCH_TENANTS       seed this many extra tenants first        (0)
#   BENCH_APPS          seed this many extra s2s apps first       (0)
#   BENCH_SEED_WORKERS  parallel admin API requests when seeding  (4)
#   BENCH_KEEP          1 = keep the temp Gatehouse data dir      (0)
#   BENCH_GATEHOUSE_ARGS  extra `gatehouse serve` arguments, e.g.
#                       "--debug-listen 127.0.0.1:6060" to profile
#                       (every Gatehouse process gets them: a fixed
#                       port suits one target of one replica)       ()
#   BENCH_STORES        Gatehouse's stores: "sqlite", "postgres"  (sqlite)
#                       or both ("sqlite postgres"), in one run
#   BENCH_REPLICAS      replica counts on PostgreSQL, each its    (1 3)
#                       own target: "gatehouse-pg1" (one process),
#                       "gatehouse-pg3" (three behind bench/lb, a
#                       round-robin reverse proxy on loopback)
#
# PostgreSQL is the one at 127.0.0.1:5432, user postgres, trust auth: each
# target gets a fresh database gatehouse_bench_<pid>_<replicas>, dropped on
# exit. The replicas' CPU is summed; PostgreSQL's backends for that database
# and the proxy are reported in their own columns.
#
# Logs and wrk output go to bench/out/logs/, the table to bench/out/results.txt.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT=$BENCH_DIR/out
OP_DIR=$BENCH_DIR/oidc-provider

DURATION=${BENCH_DURATION:-15s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-3s}
SERVERS=${BENCH_SERVERS:-gatehouse oidc-provider}
ROUNDS=${BENCH_ROUNDS:-1}
TENANTS=${BENCH_TENANTS:-0}
APPS=${BENCH_APPS:-0}
SEED_WORKERS=${BENCH_SEED_WORKERS:-4}
KEEP=${BENCH_KEEP:-0}
STORES=${BENCH_STORES:-sqlite}
REPLICAS=${BENCH_REPLICAS:-1 3}
SCOPE=api
BODY="grant_type=client_credentials&scope=$SCOPE"
READY_TIMEOUT=60 # seconds a server gets to answer its readiness check

# Duration like 15s, 2m, 1h or plain seconds -> seconds.
secs() {
	case $1 in
	*ms) echo 1 ;;
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	*) echo "$1" ;;
	esac
}

want() { [[ " $SERVERS " == *" $1 "* ]]; }
want gatehouse || want oidc-provider || die "BENCH_SERVERS names neither gatehouse nor oidc-provider"
[[ $CONNECTIONS =~ ^[0-9]+$ && $THREADS =~ ^[0-9]+$ && $TENANTS =~ ^[0-9]+$ && $APPS =~ ^[0-9]+$ && $ROUNDS =~ ^[0-9]+$ ]] ||
	die "BENCH_CONNECTIONS, BENCH_THREADS, BENCH_ROUNDS, BENCH_TENANTS, BENCH_APPS must be integers"
((ROUNDS >= 1 && ROUNDS <= 20)) || die "BENCH_ROUNDS must be 1..20"
((CONNECTIONS >= THREADS)) || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"
DURATION_S=$(secs "$DURATION")
((DURATION_S >= 1 && DURATION_S <= 600)) || die "BENCH_DURATION must be 1s..10m"
check_stores

# ---------------------------------------------------------------------------
# Cleanup: every process we start is recorded here and stopped on exit.
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
		if [[ $KEEP == 1 ]]; then
			log "kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_ready URL PID NAME: poll until URL answers 200; fail if PID dies.
wait_ready() {
	local url=$1 pid=$2 name=$3 deadline code
	deadline=$(($(now_ms) + READY_TIMEOUT * 1000))
	while :; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
		[[ $code == 200 ]] && return 0
		kill -0 "$pid" 2>/dev/null || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name exited before it was ready"; }
		(($(now_ms) < deadline)) || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name not ready after ${READY_TIMEOUT}s ($url -> $code)"; }
		sleep 0.01
	done
}

# check_token NAME URL BASIC: one token request must give 200 and an ES256 JWT.
check_token() {
	local name=$1 url=$2 basic=$3 resp code body
	resp=$(curl -s --max-time 10 -w '\n%{http_code}' -H "Authorization: Basic $basic" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data "$BODY" "$url") ||
		die "$name: token request to $url failed"
	code=${resp##*$'\n'}
	body=${resp%$'\n'*}
	[[ $code == 200 ]] || die "$name: token endpoint $url answered $code: $body"
	node -e 'const r = JSON.parse(process.argv[1]);
const parts = String(r.access_token || "").split(".");
if (parts.length !== 3) { console.error("access_token is not a JWT"); process.exit(1); }
const dec = p => JSON.parse(Buffer.from(p, "base64url"));
const h = dec(parts[0]), c = dec(parts[1]);
if (h.alg !== "ES256") { console.error("JWT alg is " + h.alg + ", want ES256"); process.exit(1); }
console.error("    " + process.argv[2] + ": 200, JWT header " + JSON.stringify(h) + " claims " + JSON.stringify(c));' \
		"$body" "$name" || die "$name: bad token response: $body"
}

# ---------------------------------------------------------------------------
# Load: load LABEL URL PIDS BASIC [PROXY_PID [DB]] -> one row in the results.
# PIDS (space-separated: replicas) are summed; the proxy's CPU and that of
# DB's PostgreSQL backends go to their own columns.
ROWS=()
WARNINGS=()
GH_FAILED=0
OTHER_WARN_PCT=10 # warn when other processes or steal took more than this % of all cores
load() {
	local label=$1 url=$2 basic=$4 proxy=${5:-} db=${6:-} t0 t1 m0 m1 s0 s1 c0 c1 out result
	local -a pids
	read -r -a pids <<<"$3"
	local p0=0 p1=0 d0="0" d1="0" dbd="0 0"
	local wrk_args=(-t"$THREADS" -c"$CONNECTIONS" --timeout 5s -s "$BENCH_DIR/token.lua" "$url")
	local wlog=${label// #/-}
	wlog=$LOGS/wrk-${wlog//[^A-Za-z0-9+_-]/_}
	export BENCH_BASIC=$basic BENCH_BODY=$BODY
	if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
		log "$label: warm-up $WARMUP"
		bg_wait "$wlog-warmup.txt" timeout $(($(secs "$WARMUP") + 30)) wrk -d"$WARMUP" "${wrk_args[@]}" ||
			die "$label: warm-up wrk failed: $(tail -n 5 "$wlog-warmup.txt")"
	fi
	log "$label: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $url"
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
	sed 's/^/    /' "$wlog.txt" >&2
	result=$(grep '^BENCH_RESULT ' "$wlog.txt") || die "$label: no BENCH_RESULT from wrk"
	local -A r=()
	local kv
	for kv in ${result#BENCH_RESULT }; do r[${kv%%=*}]=${kv#*=}; done
	out=$(awk -v label="$label" -v req="${r[requests]}" -v dur_us="${r[duration_us]}" -v non2xx="${r[non2xx]}" \
		-v sock=$((r[connect] + r[read] + r[write] + r[timeout])) -v p50="${r[p50_us]}" -v p99="${r[p99_us]}" \
		-v ticks=$((t1 - t0)) -v hz="$HZ" -v rss="$(sum_rss "${pids[@]}")" -v wrk=$((c1 - c0)) \
		-v machine=$((m1 - m0)) -v steal=$((s1 - s0)) -v ncpu="$NCPU" -v proxy=$((p1 - p0)) \
		-v dbticks="${dbd% *}" -v dbrows="${dbd#* }" 'BEGIN {
		dur = dur_us / 1e6; cpu = ticks / hz; all = hz * dur * ncpu
		# Shares of all cores: used by neither the server, its database, its
		# proxy nor wrk (including the kernel'"'"'s loopback networking), and
		# taken by the hypervisor.
		other = (machine - ticks - wrk - proxy - dbticks) / all * 100
		if (other < 0) other = 0
		printf "%s|%.0f|%d|%d|%d|%.2f|%.2f|%.2f|%.1f|%.0f|%.2f|%.0f|%.0f|%.2f|%.2f|%.2f\n", label, (dur > 0 ? req / dur : 0), req,
			non2xx, sock, p50 / 1000, p99 / 1000, cpu, (req > 0 ? cpu * 1e6 / req : 0), rss / 1024, wrk / hz,
			other, steal / all * 100, dbticks / hz, (req > 0 ? dbrows / req : 0), proxy / hz
	}')
	local other steal
	other=$(cut -d'|' -f12 <<<"$out")
	steal=$(cut -d'|' -f13 <<<"$out")
	if ((other > OTHER_WARN_PCT || steal > OTHER_WARN_PCT)); then
		log "$label: WARNING other processes used ${other}%, the hypervisor stole ${steal}% of the machine during the run"
		WARNINGS+=("$label: other processes ${other}%, steal ${steal}%")
	fi
	ROWS+=("$out")
	if [[ $label == gatehouse* ]]; then
		local non2xx req
		non2xx=$(cut -d'|' -f4 <<<"$out")
		req=$(cut -d'|' -f3 <<<"$out")
		if ((non2xx > 0 || req == 0)); then
			GH_FAILED=1
			log "$label: $non2xx non-2xx of $req requests: $(grep '^BENCH_FIRST_BAD' "$wlog.txt" || true)"
		fi
	fi
}

# ---------------------------------------------------------------------------
# Gatehouse.
# (start_target and the targets' T_* tables are in lib.sh.)
GH_BIN=$OUT/gatehouse
LB_BIN=$OUT/lb
read -r -a GH_EXTRA_ARGS <<<"${BENCH_GATEHOUSE_ARGS:-}"
declare -A T_TOKEN_URL=() T_BASIC=()

# setup_target T: start T, create tenant bench (ES256) and the s2s app bench
# through the CLI, check one token.
setup_target() {
	local t=$1 tenant_json issuer app_json id secret
	start_target "$t"
	log "$t on ${T_URL[$t]} (first replica ready in ${T_STARTUP_MS[$t]} ms)"
	tenant_json=$(ghc "$t" tenant create bench --signing-alg ES256 -o json) || die "$t: tenant create failed"
	issuer=$(json_get issuer <<<"$tenant_json") || die "$t: no issuer in: $tenant_json"
	app_json=$(ghc "$t" app create --tenant bench --type s2s --name bench --scope "$SCOPE" -o json) || die "$t: app create failed"
	id=$(json_get client_id <<<"$app_json") || die "$t: no client_id in: $app_json"
	secret=$(json_get client_secret <<<"$app_json") || die "$t: no client_secret in: $app_json"
	T_TOKEN_URL[$t]=${issuer%/}/oauth/token
	T_BASIC[$t]=$(basic_auth "$id" "$secret")
	check_token "$t" "${T_TOKEN_URL[$t]}" "${T_BASIC[$t]}"
	INFO+=("$(target_info "$t")")
}

# ---------------------------------------------------------------------------
install_tools
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
LOGS=$OUT/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
log "work dir $WORK"

INFO=()
INFO+=("machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)")
INFO+=("load average at start: $(cut -d" " -f1-3 /proc/loadavg)")
INFO+=("wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), POST $BODY, client_secret_basic, ES256 JWT access tokens")

if want gatehouse; then
	log "building gatehouse"
	(cd "$ROOT" && go build -o "$GH_BIN" ./cmd/gatehouse) || die "go build ./cmd/gatehouse failed"
	INFO+=("gatehouse $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?'), $(go version | awk '{ print $3 }')")
	for t in "${TARGETS[@]}"; do setup_target "$t"; done
fi

if want oidc-provider; then
	OP_PORT=$(free_port)
	OP_ID=bench
	OP_SECRET=$(node -p 'require("crypto").randomBytes(32).toString("base64url")')
	OP_PORT=$OP_PORT OP_CLIENT_ID=$OP_ID OP_CLIENT_SECRET=$OP_SECRET NODE_ENV=production \
		node "$OP_DIR/server.mjs" >>"$LOGS/oidc-provider.log" 2>&1 &
	OP_PID=$!
	PIDS+=("$OP_PID")
	wait_ready "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration" "$OP_PID" oidc-provider
	op_version=$(node -p 'require(process.argv[1]).version' "$OP_DIR/node_modules/oidc-provider/package.json")
	INFO+=("oidc-provider $op_version on node $(node --version), in-memory adapter, one process")
	OP_BASIC=$(basic_auth "$OP_ID" "$OP_SECRET")
	OP_TOKEN_URL=http://127.0.0.1:$OP_PORT/token
	check_token oidc-provider "$OP_TOKEN_URL" "$OP_BASIC"
fi

# rounds SUFFIX: BENCH_ROUNDS times, load each Gatehouse target of
# ROUND_TARGETS (labelled TARGET+SUFFIX), then oidc-provider, one at a time
# (the others idle), so that slow drifts of the machine (steal, neighbours)
# hit all alike.
declare -A NRUN=()
LABEL=""
next_label() { # next_label NAME: LABEL=NAME, or "NAME #N" when servers are loaded more than once
	NRUN[$1]=$((${NRUN[$1]:-0} + 1))
	LABEL=$1
	if ((ROUNDS > 1 || TENANTS > 0)); then LABEL="$1 #${NRUN[$1]}"; fi
}
rounds() {
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		if want gatehouse; then
			for t in "${ROUND_TARGETS[@]}"; do
				next_label "$t$1"
				load "$LABEL" "${T_TOKEN_URL[$t]}" "${T_PIDS[$t]}" "${T_BASIC[$t]}" "${T_PROXY[$t]}" "${T_DB[$t]}"
			done
		fi
		if want oidc-provider; then
			next_label oidc-provider
			load "$LABEL" "$OP_TOKEN_URL" "$OP_PID" "$OP_BASIC"
		fi
	done
}
ROUND_TARGETS=("${TARGETS[@]}")
rounds ""

# The many-tenants figure, on SQLite only.
if want gatehouse && ((TENANTS > 0 || APPS > 0)); then
	want_store sqlite || die "BENCH_TENANTS and BENCH_APPS need sqlite in BENCH_STORES"
	((TENANTS > 0)) || die "BENCH_APPS needs BENCH_TENANTS > 0"
	log "seeding $TENANTS tenants and $APPS apps (admin API, $SEED_WORKERS workers)"
	(cd "$ROOT" && go build -o "$OUT/seed" ./bench/seed) || die "go build ./bench/seed failed"
	t0=$(now_ms)
	bg_wait "$LOGS/seed.log" "$OUT/seed" -data-dir "${T_DATA[gatehouse]}" -tenants "$TENANTS" -apps "$APPS" \
		-workers "$SEED_WORKERS" || die "seeding failed: $(tail -n 5 "$LOGS/seed.log")"
	seed_ms=$(($(now_ms) - t0))
	log "$(grep '^seeded ' "$LOGS/seed.log")"
	INFO+=("seeded $TENANTS tenants + $APPS apps through the admin API in $(awk -v ms="$seed_ms" 'BEGIN { printf "%.1f", ms / 1000 }') s")

	log "restarting gatehouse with the seeded data"
	stop_pid "${T_PIDS[gatehouse]}"
	start_target gatehouse
	INFO+=("gatehouse restart with $((TENANTS + 1)) tenants, $((APPS + 1)) apps to /healthz 200: ${T_STARTUP_MS[gatehouse]} ms")
	log "gatehouse ready in ${T_STARTUP_MS[gatehouse]} ms"
	check_token gatehouse "${T_TOKEN_URL[gatehouse]}" "${T_BASIC[gatehouse]}"
	ROUND_TARGETS=(gatehouse)
	rounds "+${TENANTS}t"
fi

# ---------------------------------------------------------------------------
# Report.
report() {
	local line
	echo
	echo "Token endpoint, client_credentials ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
	for line in "${INFO[@]}"; do echo "  $line"; done
	echo
	{
		echo "server|req/s|requests|non-2xx|socket errs|p50 ms|p99 ms|CPU s|CPU us/req|RSS MiB|wrk CPU s|other %|steal %|DB CPU s|DB rows/req|proxy CPU s"
		printf '%s\n' "${ROWS[@]}"
	} | awk -F'|' '{ printf "%-22s", $1; for (i = 2; i <= NF; i++) printf " %11s", $i; print "" }'
	if ((${#WARNINGS[@]} > 0)); then
		echo
		echo "WARNING: the machine was not quiet: contention skews req/s and latency most, CPU us/req less; rerun on a quiet machine:"
		for line in "${WARNINGS[@]}"; do echo "  $line"; done
	fi
	# Medians over the rounds of each server (label without " #N"). Per core:
	# requests per CPU-second (1e6 / CPU us per request), of Gatehouse's
	# processes alone, and with its PostgreSQL backends and proxy added.
	printf '%s\n' "${ROWS[@]}" | awk -F'|' '
		function median(list,   v, n, i, j, t) {
			n = split(list, v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		{
			name = $1; sub(/ #[0-9]+$/, "", name)
			if (!(name in rs)) order[++n] = name
			rs[name] = rs[name] " " $2; cpu[name] = cpu[name] " " $9; runs[name]++
			q = ($3 > 0 ? $3 : 1)
			all[name] = all[name] " " ($8 + $14 + $16) * 1e6 / q
			db[name] = db[name] " " $14 * 1e6 / q; rows[name] = rows[name] " " $15; px[name] = px[name] " " $16 * 1e6 / q
		}
		END {
			if (n == 0) exit
			print ""
			for (i = 1; i <= n; i++) {
				nm = order[i]; mrs[nm] = median(rs[nm]); mcpu[nm] = median(cpu[nm]); mall[nm] = median(all[nm])
				printf "%-22s median of %d run(s): %.0f req/s, %.1f CPU us/req = %.0f req per CPU-second", nm, runs[nm], mrs[nm], mcpu[nm], (mcpu[nm] > 0 ? 1e6 / mcpu[nm] : 0)
				if (nm ~ /^gatehouse-pg/) {
					printf "; PostgreSQL %.1f us/req, %.2f rows written/req", median(db[nm]), median(rows[nm])
					if (median(px[nm]) > 0) printf ", proxy %.1f us/req", median(px[nm])
					printf "; all together %.1f us/req = %.0f req per CPU-second", mall[nm], (mall[nm] > 0 ? 1e6 / mall[nm] : 0)
				}
				print ""
			}
			o = "oidc-provider"
			if (o in mrs) for (i = 1; i <= n; i++) {
				nm = order[i]
				if (nm == o) continue
				printf "%s / oidc-provider: req/s %.2fx", nm, (mrs[o] > 0 ? mrs[nm] / mrs[o] : 0)
				printf ", CPU per request %.2fx (oidc-provider uses %.1fx the CPU per token)\n",
					(mcpu[o] > 0 ? mcpu[nm] / mcpu[o] : 0), (mcpu[nm] > 0 ? mcpu[o] / mcpu[nm] : 0)
			}
			s = "gatehouse"
			if (s in mrs) for (i = 1; i <= n; i++) {
				nm = order[i]
				if (nm !~ /^gatehouse-pg/ || mcpu[nm] <= 0 || mall[nm] <= 0) continue
				printf "%s / gatehouse (SQLite) per core: %.2fx with Gatehouse'"'"'s CPU alone, %.2fx with PostgreSQL'"'"'s and the proxy'"'"'s added (target: within 20%%, >= 0.80x)\n",
					nm, mcpu[s] / mcpu[nm], mcpu[s] / mall[nm]
			}
		}'
}
report | tee "$OUT/results.txt"
((GH_FAILED == 0)) || die "Gatehouse answered non-2xx (logs in $LOGS)"
