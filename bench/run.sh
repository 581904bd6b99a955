#!/usr/bin/env bash
# bench/run.sh: lbd against HAProxy on loopback, same load, one table.
# Usage: make bench   (or bench/run.sh after `make build`). See bench/README.md.
#
# Two nginx backends (one worker each) and the load generator share
# BENCH_LOAD_CPU; the proxy under test runs alone on BENCH_PROXY_CPU with
# one thread (HAProxy nbthread 1; lbd global.threads 1 and GOMAXPROCS=1).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${BENCH_DURATION:-10}        # seconds per measured wrk run
WARMUP=${BENCH_WARMUP:-2}             # seconds of wrk before each measurement
CONNS=${BENCH_CONNS:-50}              # wrk connections
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000} # connections for (d)
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
CASES=${BENCH_CASES:-"seed keepalive tcp idle"}
PROXIES=${BENCH_PROXIES:-"haproxy lbd"}
LBD=${LBD:-$ROOT/bin/lbd}
GO=${GO:-go}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for c in haproxy nginx wrk taskset ss "$GO"; do
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
		die "$c not found (make bench installs haproxy, nginx, wrk as root; taskset/ss: util-linux, iproute2)"
done
export PATH=$PATH:/usr/sbin
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "BENCH_DURATION must be 1..120"
[ "$IDLE_CONNS" -ge 1 ] && [ "$IDLE_CONNS" -le 50000 ] || die "BENCH_IDLE_CONNS must be 1..50000"
if [ "$(nproc)" -lt 2 ]; then
	log "only one CPU: proxy and load share CPU 0, numbers are not comparable with 2-CPU runs"
	PROXY_CPU=0 LOAD_CPU=0
fi

# The run happens in its own process group (setsid) under this supervisor:
# on exit, Ctrl-C or SIGTERM the supervisor kills the whole group (proxies,
# nginx, wrk, idleconns) and removes the temp dir, whatever state the run
# is in.
if [ -z "${LBD_BENCH_TMP:-}" ]; then
	LBD_BENCH_TMP=$(mktemp -d /tmp/lbd-bench.XXXXXX)
	export LBD_BENCH_TMP
	chmod 755 "$LBD_BENCH_TMP" # nginx workers (nobody) read the docroot
	setsid "$0" "$@" &
	child=$!
	stop() {
		kill -TERM -- "-$child" 2>/dev/null || :
		wait "$child" 2>/dev/null || :
		sleep 0.2
		kill -KILL -- "-$child" 2>/dev/null || :
		rm -rf "$LBD_BENCH_TMP"
	}
	trap 'stop; exit 130' INT TERM
	rc=0
	wait "$child" || rc=$?
	stop
	exit "$rc"
fi
TMP=$LBD_BENCH_TMP
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || :; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Raise our fd limit so the proxies (lbd inherits it) and wrk have room.
# Containers may cap the hard limit (20000 here): HAProxy gets the same
# limit through ulimit-n so both proxies run with the same fd budget.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || :
# HAProxy refuses to start unless ulimit-n >= 2 * maxconn + a few, so a
# low hard limit caps maxconn, and (d) then uses fewer connections.
NOFILE=$(ulimit -n)
MAXCONN=$(((NOFILE - 100) / 2))
[ "$MAXCONN" -le 12000 ] || MAXCONN=12000
if [ "$IDLE_CONNS" -gt $((MAXCONN - 200)) ]; then
	log "fd limit $NOFILE: (d) uses $((MAXCONN - 200)) connections instead of $IDLE_CONNS"
	IDLE_CONNS=$((MAXCONN - 200))
fi
[ "$IDLE_CONNS" -ge 100 ] || die "fd limit $NOFILE too low"
CLK_TCK=$(getconf CLK_TCK)

port_free() { [ -z "$(ss -Hatn "sport = :$1" 2>/dev/null)" ]; }
# Ports are picked below the kernel's ephemeral range: a port there can be
# the local end of one of the many client connections a run makes, and a
# listener cannot bind it then ("nginx N did not start", now and then).
read -r EPH_LO _ </proc/sys/net/ipv4/ip_local_port_range
PORT_HI=$((EPH_LO > 12003 ? EPH_LO - 3 : 45000))
pick_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((10000 + RANDOM % (PORT_HI - 10000)))
		port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && { echo "$p"; return; }
	done
	die "no free port found"
}
wait_port() { # port pid seconds
	local i
	for i in $(seq 1 $(($3 * 20))); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
BASE=$(pick_port)
FE=$BASE BE1=$((BASE + 1)) BE2=$((BASE + 2))

render() { # template output [extra sed args]
	local tpl=$1 out=$2
	shift 2
	sed -e "s#@FE@#$FE#g" -e "s#@BE1@#$BE1#g" -e "s#@BE2@#$BE2#g" -e "s#@TMP@#$TMP#g" \
		-e "s#@NOFILE@#$NOFILE#g" -e "s#@MAXCONN@#$MAXCONN#g" "$@" "$tpl" >"$out"
}

# ---- backends -------------------------------------------------------------
mkdir -p "$TMP/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$TMP/www/index.html" # small static file
echo OK >"$TMP/www/health_check.php"
chmod -R a+rX "$TMP/www"
for i in 1 2; do
	port=$((BASE + i))
	mkdir -p "$TMP/nginx$i/tmp" "$TMP/nginx$i/logs"
	render bench/conf/nginx.conf "$TMP/nginx$i/nginx.conf" \
		-e "s#@PORT@#$port#g" -e "s#@PREFIX@#$TMP/nginx$i#g" -e "s#@ROOT@#$TMP/www#g"
	taskset -c "$LOAD_CPU" nginx -p "$TMP/nginx$i" -e "$TMP/nginx$i/error.log" -c "$TMP/nginx$i/nginx.conf" \
		>"$TMP/nginx$i/out.log" 2>&1 &
	PIDS+=($!)
	wait_port "$port" $! 5 || die "nginx $i did not start: $(tail -3 "$TMP/nginx$i/error.log" "$TMP/nginx$i/out.log" 2>/dev/null)"
done
log "backends up on 127.0.0.1:$BE1 and :$BE2, proxies on :$FE, proxy CPU $PROXY_CPU, load CPU $LOAD_CPU"

log "building bench/idleconns"
"$GO" build -o "$TMP/idleconns" ./bench/idleconns

# ---- proxies ----------------------------------------------------------------
PROXY_PID=
START_ERR=
start_proxy() { # proxy case
	local proxy=$1 case=$2 out="$TMP/$1-$2"
	START_ERR= PROXY_PID=
	case $proxy in
	haproxy)
		render "bench/conf/haproxy-$case.cfg" "$out.cfg"
		if ! haproxy -c -q -f "$out.cfg" >"$out.check" 2>&1; then
			START_ERR="haproxy -c failed: $(head -c 300 "$out.check" | tr '\n' ' ')"
			return 1
		fi
		taskset -c "$PROXY_CPU" haproxy -db -f "$out.cfg" >"$out.log" 2>&1 &
		;;
	lbd)
		if [ ! -x "$LBD" ]; then
			START_ERR="$LBD not built (make build)"
			return 1
		fi
		render "bench/conf/lbd-$case.yaml" "$out.yaml"
		if ! "$LBD" check -c "$out.yaml" >"$out.check" 2>&1; then
			START_ERR="lbd check failed: $(head -c 300 "$out.check" | tr '\n' ' ')"
			return 1
		fi
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$LBD" run -c "$out.yaml" >"$out.log" 2>&1 &
		;;
	esac
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	if ! wait_port "$FE" "$PROXY_PID" 10; then
		START_ERR="no listener on 127.0.0.1:$FE after 10s; log: $(tail -c 240 "$out.log" | tr '\n' ' ')"
		stop_proxy
		return 1
	fi
	sleep 0.5 # first health checks
}
stop_proxy() {
	[ -n "$PROXY_PID" ] || return 0
	kill "$PROXY_PID" 2>/dev/null || :
	wait "$PROXY_PID" 2>/dev/null || :
	PROXY_PID=
	local i
	for i in $(seq 1 100); do port_free "$FE" && return 0; sleep 0.05; done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
to_ms() { # wrk latency like 812.00us, 1.23ms, 2.01s
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print "-" }'
}

declare -A R # R[case,proxy,metric]
run_load() { # proxy case
	local proxy=$1 case=$2 out="$TMP/$1-$2.wrk" c0 c1
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "http://127.0.0.1:$FE/" >/dev/null 2>&1 || :
	c0=$(cpu_ticks "$PROXY_PID")
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$FE/" >"$out" 2>&1 || :
	c1=$(cpu_ticks "$PROXY_PID")
	local reqs rps p50 p99 errs
	reqs=$(awk '/requests in/ {print $1; exit}' "$out")
	rps=$(awk '/^Requests\/sec:/ {print $2; exit}' "$out")
	p50=$(awk '$1 == "50%" {print $2; exit}' "$out")
	p99=$(awk '$1 == "99%" {print $2; exit}' "$out")
	errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF}
		/Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
	if [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
		R[$case,$proxy,err]="wrk got no responses: $(tail -c 200 "$out" | tr '\n' ' ')"
		return
	fi
	R[$case,$proxy,rps]=$rps
	R[$case,$proxy,p50]=$(to_ms "$p50")
	R[$case,$proxy,p99]=$(to_ms "$p99")
	R[$case,$proxy,cpu]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN {printf "%.3f", t / hz * 100000 / n}')
	R[$case,$proxy,rss]=$(awk -v k="$(rss_kb "$PROXY_PID")" 'BEGIN {printf "%.1f", k / 1024}')
	R[$case,$proxy,errs]=$errs
}

run_idle() { # proxy
	local proxy=$1 out="$TMP/$1-idle.out" r0 r1 held i ipid
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$FE/" >/dev/null 2>&1 || :
	sleep 1
	r0=$(rss_kb "$PROXY_PID")
	taskset -c "$LOAD_CPU" "$TMP/idleconns" -addr "127.0.0.1:$FE" -n "$IDLE_CONNS" -hold 120s \
		>"$out" 2>&1 &
	ipid=$!
	PIDS+=("$ipid")
	for i in $(seq 1 1200); do # up to 60 s
		grep -q '^ready' "$out" 2>/dev/null && break
		kill -0 "$ipid" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q '^ready' "$out"; then
		R[idle,$proxy,err]="idleconns failed: $(tail -c 200 "$out" | tr '\n' ' ')"
		kill "$ipid" 2>/dev/null || :
		wait "$ipid" 2>/dev/null || :
		return
	fi
	sleep 2 # let the proxy settle (GC, timers)
	r1=$(rss_kb "$PROXY_PID")
	held=$(ss -Htn state established "sport = :$FE" | wc -l)
	kill "$ipid" 2>/dev/null || :
	wait "$ipid" 2>/dev/null || :
	R[idle,$proxy,kbconn]=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" 'BEGIN {printf "%.2f", (b - a) / n}')
	R[idle,$proxy,held]=$held
	R[idle,$proxy,rss]=$(awk -v k="$r1" 'BEGIN {printf "%.1f", k / 1024}')
}

case_cfg() { case $1 in idle) echo keepalive ;; *) echo "$1" ;; esac; }

for case in $CASES; do
	for proxy in $PROXIES; do
		log "case $case: $proxy"
		if ! start_proxy "$proxy" "$(case_cfg "$case")"; then
			R[$case,$proxy,err]=$START_ERR
			log "  $START_ERR"
			continue
		fi
		if [ "$case" = idle ]; then run_idle "$proxy"; else run_load "$proxy" "$case"; fi
		stop_proxy
	done
done

# ---- the table ----------------------------------------------------------------
label() {
	case $1 in
	seed) echo "(a) seed" ;; keepalive) echo "(b) keep-alive" ;; tcp) echo "(c) tcp" ;;
	idle) echo "(d) idle ${IDLE_CONNS}" ;; *) echo "$1" ;;
	esac
}
ratio() { # a b -> a/b
	if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != "-" ] && [ "$1" != "-" ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2fx", a / b }'
	else echo "-"; fi
}
lbdver=$("$LBD" version 2>/dev/null | head -1 || :)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "# $(haproxy -v | head -1 | cut -d' ' -f1-3); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); ${lbdver:-lbd not built}"
echo "# load average before: $LOADAVG (other work on the machine skews the numbers)"
echo "# wrk -t1 -c$CONNS -d${DURATION}s --latency (after ${WARMUP}s warm-up); proxy on CPU $PROXY_CPU, nginx x2 + wrk on CPU $LOAD_CPU"
fmt='%-15s %-12s %10s %9s %9s %11s %9s %7s\n'
printf "$fmt" case proxy "req/s" "p50 ms" "p99 ms" "cpu s/100k" "RSS MiB" errors
for case in $CASES; do
	if [ "$case" = idle ]; then
		for proxy in $PROXIES; do
			if [ -n "${R[idle,$proxy,err]:-}" ]; then
				printf '%-15s %-12s %s\n' "$(label idle)" "$proxy" "not measured (${R[idle,$proxy,err]})"
			else
				printf '%-15s %-12s %s KB per idle connection (%s held, RSS %s MiB)\n' "$(label idle)" "$proxy" \
					"${R[idle,$proxy,kbconn]}" "${R[idle,$proxy,held]}" "${R[idle,$proxy,rss]}"
			fi
		done
		printf '%-15s %-12s %s\n' "$(label idle)" "lbd/haproxy" \
			"$(ratio "${R[idle,lbd,kbconn]:-}" "${R[idle,haproxy,kbconn]:-}") KB per connection"
		continue
	fi
	for proxy in $PROXIES; do
		if [ -n "${R[$case,$proxy,err]:-}" ]; then
			printf '%-15s %-12s %s\n' "$(label "$case")" "$proxy" "not measured (${R[$case,$proxy,err]})"
			continue
		fi
		printf "$fmt" "$(label "$case")" "$proxy" "${R[$case,$proxy,rps]}" "${R[$case,$proxy,p50]}" \
			"${R[$case,$proxy,p99]}" "${R[$case,$proxy,cpu]}" "${R[$case,$proxy,rss]}" "${R[$case,$proxy,errs]}"
	done
	r=()
	for m in rps p50 p99 cpu rss; do r+=("$(ratio "${R[$case,lbd,$m]:-}" "${R[$case,haproxy,$m]:-}")"); done
	printf "$fmt" "$(label "$case")" "lbd/haproxy" "${r[@]}" ""
done
