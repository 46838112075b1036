# shellcheck shell=bash disable=SC2034 # the T_* tables and PG_* settings are read by the sourcing scripts
# Shared by bench/run.sh and bench/flow.sh (sourced): logging, process
# bookkeeping, tool installation, ports, JSON, and CPU accounting from /proc.
# The functions use the sourcing script's globals (PIDS, OP_DIR, …).

log() { printf '==> %s\n' "$*" >&2; }

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

# bg_wait LOG CMD...: run CMD in the background, output to LOG, and wait.
bg_wait() {
	local logf=$1 pid rc=0
	shift
	"$@" >"$logf" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	forget_pid "$pid"
	return "$rc"
}

stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

install_tools() {
	command -v curl >/dev/null || die "curl is required"
	command -v node >/dev/null || die "node (>= 20) is required"
	command -v npm >/dev/null || die "npm is required"
	if ! command -v wrk >/dev/null; then
		log "installing wrk (apt-get)"
		local sudo=()
		((EUID == 0)) || sudo=(sudo)
		export DEBIAN_FRONTEND=noninteractive
		"${sudo[@]}" apt-get install -y -qq wrk >/dev/null ||
			{ "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq wrk >/dev/null; } ||
			die "could not install wrk"
	fi
	if want oidc-provider; then
		local pinned have
		pinned=$(node -p 'require(process.argv[1]).dependencies["oidc-provider"]' "$OP_DIR/package.json")
		have=$(node -p 'try { require(process.argv[1]).version } catch { "" }' \
			"$OP_DIR/node_modules/oidc-provider/package.json")
		if [[ $have != "$pinned" ]]; then
			log "installing oidc-provider@$pinned (npm ci)"
			(cd "$OP_DIR" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
		fi
	fi
}

free_port() {
	node -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

json_get() {
	node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  const v = JSON.parse(s)[process.argv[1]];
  if (v === undefined || v === null) process.exit(3);
  console.log(v);
});' "$1"
}

basic_auth() {
	node -e 'const f = s => encodeURIComponent(s).replace(/%20/g, "+");
console.log(Buffer.from(f(process.argv[1]) + ":" + f(process.argv[2])).toString("base64"));' "$1" "$2"
}

# cpu_ticks PID: utime+stime of the whole process (all threads). Fields
# after "pid (comm) ": $1 is state (field 3), so utime (14) is $12, stime (15) $13.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }

children_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"; }

# ---------------------------------------------------------------------------
# Gatehouse targets: one per store and replica count (BENCH_STORES,
# BENCH_REPLICAS). "gatehouse" is one process on SQLite; "gatehouse-pgN" is N
# replicas on a fresh PostgreSQL database (gatehouse_bench_PID_N, dropped at
# exit), sharing one master key and one --public-url; with N > 1 behind
# bench/lb, a round-robin reverse proxy on loopback. Per target T:
# T_URL[T] (the URL clients use), T_PIDS[T] (the replicas, space-separated),
# T_PROXY[T] (the proxy's PID or empty), T_DB[T] (the database or empty),
# T_DATA[T] (the first replica's data directory, where admin.json is).
# The sourcing script sets STORES, REPLICAS, GH_BIN, LB_BIN, WORK, LOGS,
# ROOT, OUT and GH_EXTRA_ARGS (an array) and defines wait_ready.
PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
PG_DBS=()
declare -A T_URL=() T_PIDS=() T_PROXY=() T_DB=() T_DATA=() T_PORT=() T_STARTUP_MS=()
TARGETS=()

want_store() { [[ " $STORES " == *" $1 "* ]]; }

# check_stores: validate BENCH_STORES / BENCH_REPLICAS and set TARGETS.
check_stores() {
	local s r
	for s in $STORES; do
		case $s in sqlite | postgres) ;; *) die "BENCH_STORES: unknown store $s (want sqlite and/or postgres)" ;; esac
	done
	[[ -n ${STORES// /} ]] || die "BENCH_STORES is empty"
	TARGETS=()
	want_store sqlite && TARGETS+=(gatehouse)
	if want_store postgres; then
		for r in $REPLICAS; do
			[[ $r =~ ^[1-9]$ ]] || die "BENCH_REPLICAS: $r is not a replica count 1..9"
			TARGETS+=("gatehouse-pg$r")
		done
		[[ -n ${REPLICAS// /} ]] || die "BENCH_REPLICAS is empty"
	fi
}

install_pg_client() {
	command -v psql >/dev/null && command -v createdb >/dev/null && command -v dropdb >/dev/null && return 0
	log "installing postgresql-client (apt-get)"
	local sudo=()
	((EUID == 0)) || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get install -y -qq postgresql-client >/dev/null ||
		{ "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq postgresql-client >/dev/null; } ||
		die "could not install postgresql-client"
}

pg_psql() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -X -q -v ON_ERROR_STOP=1 "$@"; }

# pg_create DB: a fresh database, remembered for pg_drop_all first (a
# signal during createdb must still drop it).
pg_create() {
	PG_DBS+=("$1")
	createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$1" || die "createdb $1 failed (PostgreSQL at $PG_HOST:$PG_PORT, user $PG_USER)"
}

# pg_drop_all: drop this run's databases (cleanup, after the servers stopped).
pg_drop_all() {
	local db
	for db in "${PG_DBS[@]}"; do
		timeout 30 dropdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" --if-exists --force "$db" ||
			log "could not drop database $db"
	done
	PG_DBS=()
}

pg_dsn() { echo "postgres://$PG_USER@$PG_HOST:$PG_PORT/$1?sslmode=disable"; }

# pg_probe_cmd DB: a command printing "ROWS PID...": the rows inserted,
# updated and deleted so far in DB (pg_stat_database, which backends flush
# about once a second under load; 0 until its first flush: a fresh database
# has no row there yet) and the PIDs of DB's backends.
pg_probe_cmd() {
	printf "psql -h %s -p %s -U %s -X -At -d %s -c %q" "$PG_HOST" "$PG_PORT" "$PG_USER" "$1" \
		"SELECT coalesce((SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()), 0) || ' ' || coalesce(string_agg(pid::text, ' '), '') FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
}

# db_snap DB: "ROWS PID:TICKS ..." now.
db_snap() {
	local out rows pids p
	out=$(sh -c "$(pg_probe_cmd "$1")") || die "could not read the statistics of database $1"
	read -r rows pids <<<"$out"
	printf '%s' "$rows"
	for p in $pids; do
		if [[ -r /proc/$p/stat ]]; then printf ' %s:%s' "$p" "$(cpu_ticks "$p")"; fi
	done
	echo
}

# db_watch DB FILE: append a db_snap to FILE every 0.25 s, until killed. wrk
# stops with requests in flight; their cancelled queries make the driver
# close those connections, and a backend that exits takes its CPU time with
# it: its last sample keeps it.
db_watch() {
	while :; do
		db_snap "$1" >>"$2"
		sleep 0.25
	done
}

# db_delta BEFORE AFTER [SAMPLES]: "TICKS ROWS" between two db_snap, each
# backend at the last value seen (AFTER or a db_watch sample): one that
# started in between counts from zero, one that ended keeps its last sample.
db_delta() {
	awk -v a="$1" -v b="$2" '
		function seen(line,   f, n, i, kv) {
			n = split(line, f, " ")
			for (i = 2; i <= n; i++) { split(f[i], kv, ":"); if (kv[2] + 0 > last[kv[1]] + 0) last[kv[1]] = kv[2] }
		}
		{ seen($0) }
		END {
			na = split(a, x, " "); nb = split(b, y, " ")
			for (i = 2; i <= na; i++) { split(x[i], kv, ":"); t0[kv[1]] = kv[2] }
			seen(b)
			for (p in last) ticks += last[p] - t0[p]
			print ticks + 0, y[1] - x[1]
		}' "${3:-/dev/null}"
}

# sum_ticks PID...: CPU ticks of the processes together; sum_rss: their peaks (KiB).
sum_ticks() {
	local t=0 p
	for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
sum_rss() {
	local t=0 p
	for p in "$@"; do t=$((t + $(rss_kib "$p"))); done
	echo "$t"
}

ghc() { # ghc TARGET ARGS...: the CLI against TARGET
	local t=$1
	shift
	"$GH_BIN" --data-dir "${T_DATA[$t]}" "$@"
}

build_lb() {
	[[ -x $LB_BIN ]] && return 0
	(cd "$ROOT" && go build -o "$LB_BIN" ./bench/lb) || die "go build ./bench/lb failed"
}

# start_target T: start T's processes (on T's existing data if started before),
# wait until each answers /healthz, time the first replica's start.
start_target() {
	local t=$1 n i port ports=() pids=() pub lbport t0 dsn key name
	if [[ $t == gatehouse ]]; then
		T_DATA[$t]=$WORK/gatehouse-data
		mkdir -p "${T_DATA[$t]}"
		port=${T_PORT[$t]:-$(free_port)}
		T_PORT[$t]=$port
		T_URL[$t]=http://127.0.0.1:$port
		t0=$(now_ms)
		# Metrics have a listener of their own (default 127.0.0.1:9464,
		# which another server here may hold): a free port.
		"$GH_BIN" serve --data-dir "${T_DATA[$t]}" --listen "127.0.0.1:$port" --public-url "${T_URL[$t]}" \
			--metrics-listen "127.0.0.1:$(free_port)" "${GH_EXTRA_ARGS[@]+"${GH_EXTRA_ARGS[@]}"}" >>"$LOGS/gatehouse.log" 2>&1 &
		T_PIDS[$t]=$!
		PIDS+=("$!")
		wait_ready "${T_URL[$t]}/healthz" "$!" gatehouse
		T_STARTUP_MS[$t]=$(($(now_ms) - t0))
		T_PROXY[$t]="" T_DB[$t]=""
		return 0
	fi
	n=${t#gatehouse-pg}
	T_DB[$t]=gatehouse_bench_$$_$n
	pg_create "${T_DB[$t]}"
	dsn=$(pg_dsn "${T_DB[$t]}")
	key=$(head -c 32 /dev/urandom | base64)
	for ((i = 1; i <= n; i++)); do ports+=("$(free_port)"); done
	local proxy_args=()
	if ((n > 1)); then
		lbport=$(free_port)
		pub=http://127.0.0.1:$lbport
		proxy_args=(--trusted-proxies 127.0.0.1)
	else
		pub=http://127.0.0.1:${ports[0]}
	fi
	T_URL[$t]=$pub
	T_DATA[$t]=$WORK/$t-r1
	for ((i = 1; i <= n; i++)); do
		name=$t-r$i
		mkdir -p "$WORK/$name"
		t0=$(now_ms)
		GATEHOUSE_MASTER_KEY=$key "$GH_BIN" serve --database "$dsn" --data-dir "$WORK/$name" \
			--listen "127.0.0.1:${ports[i - 1]}" --metrics-listen "127.0.0.1:$(free_port)" --public-url "$pub" "${proxy_args[@]+"${proxy_args[@]}"}" \
			"${GH_EXTRA_ARGS[@]+"${GH_EXTRA_ARGS[@]}"}" >>"$LOGS/$name.log" 2>&1 &
		pids+=("$!")
		PIDS+=("$!")
		# The first replica migrates and creates the system tenant and admin.json.
		wait_ready "http://127.0.0.1:${ports[i - 1]}/healthz" "$!" "$name"
		((i > 1)) || T_STARTUP_MS[$t]=$(($(now_ms) - t0))
	done
	T_PIDS[$t]="${pids[*]}"
	T_PROXY[$t]=""
	if ((n > 1)); then
		build_lb
		local backends
		backends=$(printf '127.0.0.1:%s,' "${ports[@]}")
		"$LB_BIN" -listen "127.0.0.1:$lbport" -backends "${backends%,}" >>"$LOGS/$t-lb.log" 2>&1 &
		T_PROXY[$t]=$!
		PIDS+=("$!")
		wait_ready "$pub/healthz" "$!" "$t-lb"
	fi
	[[ -s ${T_DATA[$t]}/admin.json ]] || die "$t: the first replica did not write ${T_DATA[$t]}/admin.json"
}

# target_info T: one line for the run's header.
target_info() {
	local t=$1
	if [[ $t == gatehouse ]]; then
		echo "$t: SQLite, one process; first start to /healthz 200: ${T_STARTUP_MS[$t]} ms"
	else
		local n=${t#gatehouse-pg}
		echo "$t: PostgreSQL $(pg_psql -At -d "${T_DB[$t]}" -c 'SHOW server_version') on $PG_HOST:$PG_PORT (database ${T_DB[$t]}), $n replica(s)$( ((n > 1)) && echo " behind bench/lb (round robin)"), default pool; first replica's start (migrations) to /healthz 200: ${T_STARTUP_MS[$t]} ms"
	fi
}
