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

rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }

children_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"; }
