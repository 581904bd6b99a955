#!/usr/bin/env bash
# bench/run.sh: lbd against HAProxy on loopback, same load, one table.
# Usage: make bench   (or bench/run.sh after `make build`). See bench/README.md.
#   PAIRS=7 CASES="keepalive tcp" bench/run.sh     fewer cases
#   SIDES="lbd lbd" bench/run.sh                   A/A calibration (resolution)
#   SIDES="lbd lbd" LBD_A=old/lbd LBD=new/lbd bench/run.sh   A/B of two lbd builds (ratios new/old)
#   CASES=all PAIRS=1 BENCH_DURATION=2 bench/run.sh  every case, one short pair (validation)
#   CASES="seed-cap keepalive-cap tcp-cap https-cap b1k-cap" bench/run.sh   proxy-bound: each proxy in a CPU
#                                                  cgroup (BENCH_PROXY_QUOTA % of one CPU; root)
#
# Two nginx backends (one worker each) and the load generator share
# BENCH_LOAD_CPU; the proxies under test run on BENCH_PROXY_CPU with one
# thread (HAProxy nbthread 1; lbd global.threads 1 and GOMAXPROCS=1). Each
# case starts both sides, warms both up, then measures them alternately in
# PAIRS short pairs and reports the median and spread of the per-pair ratios.
# The -cap cases run the same configs with each proxy in its own CPU cgroup
# (BENCH_PROXY_QUOTA % of one CPU), so that the proxy, not the load side,
# sets the pace and req/s is capacity at a fixed CPU budget.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${BENCH_DURATION:-5}         # seconds per measured wrk run (one side of a pair)
SLICES=${BENCH_SLICES:-$DURATION}     # each side's run cut in SLICES alternating slices (default: 1 s each; see README)
WARMUP=${BENCH_WARMUP:-3}             # seconds of wrk on each side before the first pair
PAIRS=${PAIRS:-${BENCH_PAIRS:-7}}     # alternating pairs per case
CONNS=${BENCH_CONNS:-50}              # wrk connections
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000} # connections for (d)
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
CASES=${CASES:-${BENCH_CASES:-"seed keepalive tcp idle"}}
ALL_CASES="seed keepalive tcp idle burst https tls-close tls-resume h2 idle-tls rules b1k b5k seed-cap keepalive-cap tcp-cap https-cap b1k-cap tls-srv"
QUOTA=${BENCH_PROXY_QUOTA:-40}        # -cap cases: each proxy's CPU budget, % of one CPU
CG_PERIOD=${BENCH_PROXY_PERIOD_US:-10000} # -cap cases: CFS period (us); short, so throttling gaps stay short
[ "$CASES" != all ] || CASES=$ALL_CASES
SIDES=${SIDES:-${BENCH_SIDES:-"haproxy lbd"}} # A B: ratios are B/A
LBD=${LBD:-$ROOT/bin/lbd}
GO=${GO:-go}
SYSCALLS=${BENCH_SYSCALLS:-0} # 1: after each wrk case's pairs, 3 more runs per side counted by perf (system calls per request)

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# BENCH_SYSCALLS=1: the events perf counts in the proxy's threads.
SYS_EVENTS=raw_syscalls:sys_enter,context-switches
for e in epoll_wait epoll_pwait read recvfrom recvmsg write writev sendto sendmsg; do SYS_EVENTS+=",syscalls:sys_enter_$e"; done
if [ "$SYSCALLS" != 0 ]; then
	command -v perf >/dev/null || die "BENCH_SYSCALLS=1 needs perf (apt-get install linux-perf)"
	# A missing tracepoint or a perf_event_paranoid refusal: say so now,
	# not after the first case's pairs.
	perf stat -x, -e "$SYS_EVENTS" -o /dev/null -- true 2>&1 >/dev/null | head -c 300 >&2 ||
		die "BENCH_SYSCALLS=1: perf stat cannot count $SYS_EVENTS (run as root; a kernel with syscall tracepoints)"
fi
for c in haproxy nginx wrk taskset ss "$GO"; do
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
		die "$c not found (make bench installs haproxy, nginx, wrk as root; taskset/ss: util-linux, iproute2)"
done
export PATH=$PATH:/usr/sbin
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "BENCH_DURATION must be 1..120"
[ "$SLICES" -ge 1 ] && [ $((DURATION % SLICES)) -eq 0 ] || die "BENCH_SLICES must be 1.. and divide BENCH_DURATION ($DURATION)"
[ "$WARMUP" -ge 0 ] && [ "$WARMUP" -le 60 ] || die "BENCH_WARMUP must be 0..60"
[ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 50 ] || die "PAIRS must be 1..50"
read -r SIDE_A SIDE_B extra <<<"$SIDES"
[ -n "${SIDE_B:-}" ] && [ -z "${extra:-}" ] || die "SIDES must name two proxies, e.g. \"haproxy lbd\" or \"lbd lbd\""
for p in $SIDE_A $SIDE_B; do case $p in haproxy | lbd) ;; *) die "SIDES: unknown proxy $p (haproxy, lbd)" ;; esac; done
[ "$IDLE_CONNS" -ge 1 ] && [ "$IDLE_CONNS" -le 50000 ] || die "BENCH_IDLE_CONNS must be 1..50000"
[[ $QUOTA =~ ^[0-9]+$ ]] && [ "$QUOTA" -ge 5 ] && [ "$QUOTA" -le 100 ] || die "BENCH_PROXY_QUOTA must be 5..100 (% of one CPU)"
[[ $CG_PERIOD =~ ^[0-9]+$ ]] && [ "$CG_PERIOD" -ge 1000 ] && [ "$CG_PERIOD" -le 1000000 ] ||
	die "BENCH_PROXY_PERIOD_US must be 1000..1000000"
[ $((CG_PERIOD * QUOTA / 100)) -ge 1000 ] || die "BENCH_PROXY_QUOTA % of BENCH_PROXY_PERIOD_US must be at least 1000 us (the kernel's minimum quota)"
TLS=
for c in $CASES; do
	case " $ALL_CASES " in *" $c "*) ;; *) die "CASES: unknown case $c (all, or some of: $ALL_CASES)" ;; esac
	case ${c%-cap} in https | tls-close | tls-resume | h2 | idle-tls | tls-srv) TLS=1 ;; esac
done
if [ -n "$TLS" ]; then
	for c in openssl curl; do command -v "$c" >/dev/null 2>&1 || die "$c not found (TLS cases)"; done
fi
case " $CASES " in *" h2 "*) command -v h2load >/dev/null 2>&1 || die "h2load not found (case h2: apt-get install nghttp2-client)" ;; esac
if [ "$(nproc)" -lt 2 ]; then
	log "only one CPU: proxy and load share CPU 0, numbers are not comparable with 2-CPU runs"
	PROXY_CPU=0 LOAD_CPU=0
fi

# cg_remove FILE: removes the cgroups listed in FILE (the -cap cases' own,
# one path a line) once their processes are gone.
cg_remove() {
	local d i
	[ -f "$1" ] || return 0
	while read -r d; do
		case ${d##*/} in lbd-bench-*) ;; *) continue ;; esac # only ours
		for i in $(seq 1 30); do
			[ -d "$d" ] || break
			rmdir "$d" 2>/dev/null && break
			sleep 0.1
		done
		[ ! -d "$d" ] || log "could not remove cgroup $d (processes left in it? rmdir it once they are gone)"
	done <"$1"
}

# The run happens in its own process group (setsid) under this supervisor:
# on exit, Ctrl-C or SIGTERM the supervisor kills the whole group (proxies,
# nginx, wrk, idleconns), removes the -cap cases' cgroups and the temp dir,
# whatever state the run is in.
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
		cg_remove "$LBD_BENCH_TMP/cgroups"
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
# The proxies run copies of the lbd binaries made here: the resident
# file pages of a binary (part of its RSS) depend on how the file was
# written (the same build measured 27 MiB RssFile straight from go build
# and 20 MiB once copied with cp), so every run maps a plain copy.
LBD_SRC=$LBD LBD_A_SRC=${LBD_A:-}
if [ -x "$LBD" ]; then cp "$LBD" "$TMP/lbd-bin-b" && LBD=$TMP/lbd-bin-b; fi
if [ -n "${LBD_A:-}" ] && [ -x "$LBD_A" ]; then cp "$LBD_A" "$TMP/lbd-bin-a" && LBD_A=$TMP/lbd-bin-a; fi
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || :; done
	cg_remove "$TMP/cgroups"
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
		port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 3)) &&
			port_free $((p + 11)) && port_free $((p + 12)) &&
			{ echo "$p"; return; }
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
# Side A listens on FE, side B on FE_B: both run during a case.
FE=$BASE BE1=$((BASE + 1)) BE2=$((BASE + 2)) FE_B=$((BASE + 3))
SBE1=$((BASE + 11)) SBE2=$((BASE + 12)) # the nginx backends' HTTPS listeners (tls-srv; with TLS cases only)

render() { # template output [extra sed args]; FE and DIR (sockets) may be set by the caller
	local tpl=$1 out=$2
	shift 2
	sed -e "s#@FE@#${RFE:-$FE}#g" -e "s#@BE1@#$BE1#g" -e "s#@BE2@#$BE2#g" -e "s#@SBE1@#$SBE1#g" -e "s#@SBE2@#$SBE2#g" -e "s#@TMP@#${RDIR:-$TMP}#g" \
		-e "s#@NOFILE@#$NOFILE#g" -e "s#@MAXCONN@#$MAXCONN#g" -e "s#@CERT@#$TMP/cert.pem#g" "$@" "$tpl" >"$out"
}

# ---- the cases ----------------------------------------------------------------
# conf_of case: the config pair bench/conf/{haproxy-X.cfg,lbd-X.yaml} a case runs.
conf_of() {
	case $1 in
	*-cap) conf_of "${1%-cap}" ;;
	tls-close) echo tlsfull ;; tls-srv) echo tlssrv ;; https | tls-resume | h2 | idle-tls) echo https ;; b1k | b5k | idle | burst) echo keepalive ;; *) echo "$1" ;;
	esac
}
# is_cap case: the case runs each proxy in a CPU-limited cgroup.
is_cap() { case $1 in *-cap) return 0 ;; *) return 1 ;; esac; }
# conns_of case: client connections of the load.
conns_of() {
	case ${1%-cap} in b1k) echo 1000 ;; b5k) echo 5000 ;; *) echo "$CONNS" ;; esac
}
# load side case seconds [--latency]: the case's load generator against one
# side, output on stdout. wrk for all but h2 (h2load, 10 streams per connection).
load() {
	local side=$1 case=$2 secs=$3 lat=${4:-} url="http://127.0.0.1:${PORT[$1]}/" c
	c=$(conns_of "$case")
	case ${case%-cap} in
	https) url="https://127.0.0.1:${PORT[$side]}/" ;;
	tls-close | tls-resume)
		# wrk reuses its SSL object, so it resumes the session when the
		# proxy allows it: tls-close runs a config that does not.
		taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${secs}s" -H 'Connection: close' $lat "https://127.0.0.1:${PORT[$side]}/"
		return
		;;
	h2)
		taskset -c "$LOAD_CPU" h2load -t1 -c"$c" -m10 -D"$secs" "https://127.0.0.1:${PORT[$side]}/"
		return
		;;
	b1k | b5k)
		taskset -c "$LOAD_CPU" wrk -t4 -c"$c" -d"${secs}s" $lat "$url"
		return
		;;
	esac
	taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${secs}s" $lat "$url"
}

# ---- backends -------------------------------------------------------------
if [ -n "$TLS" ]; then
	# One ECDSA P-256 certificate for both proxies (key and certificate in one PEM).
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$TMP/key.pem" -out "$TMP/crt.pem" >"$TMP/openssl.log" 2>&1 ||
		die "openssl could not make the certificate: $(tail -c 300 "$TMP/openssl.log")"
	cat "$TMP/crt.pem" "$TMP/key.pem" >"$TMP/cert.pem"
fi
mkdir -p "$TMP/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$TMP/www/index.html" # small static file
echo OK >"$TMP/www/health_check.php"
chmod -R a+rX "$TMP/www"
for i in 1 2; do
	port=$((BASE + i))
	mkdir -p "$TMP/nginx$i/tmp" "$TMP/nginx$i/logs"
	# With the TLS cases, each nginx also serves HTTPS (the tls-srv case's servers).
	ssl=
	[ -z "$TLS" ] || ssl="listen 127.0.0.1:$((BASE + 10 + i)) ssl reuseport; ssl_certificate $TMP/cert.pem; ssl_certificate_key $TMP/cert.pem;"
	render bench/conf/nginx.conf "$TMP/nginx$i/nginx.conf" \
		-e "s#@PORT@#$port#g" -e "s#@PREFIX@#$TMP/nginx$i#g" -e "s#@ROOT@#$TMP/www#g" -e "s#@SSL_LISTEN@#$ssl#g"
	taskset -c "$LOAD_CPU" nginx -p "$TMP/nginx$i" -e "$TMP/nginx$i/error.log" -c "$TMP/nginx$i/nginx.conf" \
		>"$TMP/nginx$i/out.log" 2>&1 &
	PIDS+=($!)
	wait_port "$port" $! 5 || die "nginx $i did not start: $(tail -3 "$TMP/nginx$i/error.log" "$TMP/nginx$i/out.log" 2>/dev/null)"
done
log "backends up on 127.0.0.1:$BE1 and :$BE2, proxies on :$FE ($SIDE_A) and :$FE_B ($SIDE_B), proxy CPU $PROXY_CPU, load CPU $LOAD_CPU"

log "building bench/idleconns"
"$GO" build -o "$TMP/idleconns" ./bench/idleconns

# ---- CPU cgroups for the -cap cases --------------------------------------------
# One child cgroup per side, named after this run's temp dir, each limited
# to QUOTA % of one CPU in periods of CG_PERIOD us (cgroup v1: cpu.cfs_*;
# v2: cpu.max). Only children are created: the root cgroup, the parent's
# settings and every sysctl stay as they are. They are removed on exit
# (cleanup, and the supervisor's stop), also after a failure.
declare -A CG=()
CG_ERR=
cg_setup() {
	local base own v d side q=$((CG_PERIOD * QUOTA / 100))
	if [ "$(id -u)" -ne 0 ]; then
		CG_ERR="needs root to create a CPU cgroup: run bench/run.sh as root"
		return 1
	fi
	if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		v=1 # cgroup v1: a child of our own cpu cgroup
		own=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/self/cgroup)
		base=/sys/fs/cgroup/cpu${own%/}
		[ -n "$own" ] && [ -d "$base" ] || base=/sys/fs/cgroup/cpu
	elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		v=2 # cgroup v2: a child of the nearest of our cgroup and its parent that hands out cpu
		own=$(awk -F: '$1 == "0" {print $3; exit}' /proc/self/cgroup)
		base=/sys/fs/cgroup${own%/}
		[ -n "$own" ] && [ -d "$base" ] || base=/sys/fs/cgroup
		if ! grep -qw cpu "$base/cgroup.subtree_control" 2>/dev/null && [ "$base" != /sys/fs/cgroup ]; then
			base=${base%/*}
		fi
		if ! grep -qw cpu "$base/cgroup.subtree_control" 2>/dev/null; then
			CG_ERR="cgroup v2 without the cpu controller for children of $base (the bench does not enable it: echo +cpu >$base/cgroup.subtree_control)"
			return 1
		fi
	else
		CG_ERR="no cgroup cpu controller (neither /sys/fs/cgroup/cpu nor cgroup v2 at /sys/fs/cgroup): mount one"
		return 1
	fi
	for side in a b; do
		d=$base/lbd-bench-${TMP##*.}-$$-$side
		echo "$d" >>"$TMP/cgroups" # first: an exit right after mkdir still removes it
		if ! mkdir "$d" 2>"$TMP/cgroup.err"; then
			CG_ERR="cannot create cgroup $d: $(head -c 200 "$TMP/cgroup.err")"
			return 1
		fi
		if [ "$v" = 1 ]; then
			echo "$CG_PERIOD" >"$d/cpu.cfs_period_us" && echo "$q" >"$d/cpu.cfs_quota_us"
		else
			echo "$q $CG_PERIOD" >"$d/cpu.max"
		fi 2>"$TMP/cgroup.err" || {
			CG_ERR="cannot set the CPU quota of $d: $(head -c 200 "$TMP/cgroup.err")"
			return 1
		}
		CG[$side]=$d
	done
	log "-cap cases: cgroup v$v ${CG[a]} and ${CG[b]}, $q us of CPU per $CG_PERIOD us each"
}
# cg_stat side: "periods throttled-periods" of the side's cgroup so far.
cg_stat() { awk '$1 == "nr_periods" {p = $2} $1 == "nr_throttled" {t = $2} END {print p + 0, t + 0}' "${CG[$1]}/cpu.stat"; }
for c in $CASES; do
	if is_cap "$c"; then
		cg_setup || log "-cap cases not measured: $CG_ERR"
		break
	fi
done

# ---- proxies ----------------------------------------------------------------
# The two sides of a pair: a and b. Each listens on its own port and keeps
# its sockets in its own directory, so the same proxy can be both (A/A).
declare -A NAME=([a]=$SIDE_A [b]=$SIDE_B) PORT=([a]=$FE [b]=$FE_B) LABEL=([a]=$SIDE_A [b]=$SIDE_B) PID=()
if [ "$SIDE_A" = "$SIDE_B" ]; then LABEL=([a]="$SIDE_A-A" [b]="$SIDE_B-B"); fi
START_ERR=
start_proxy() { # side case [cgroup]: the proxy runs in the cgroup's directory when given
	local side=$1 case=$2 cg=${3:-} proxy=${NAME[$1]} dir="$TMP/side-$1" out pre=()
	out="$dir/$proxy-$case"
	mkdir -p "$dir"
	START_ERR= PID[$side]=
	# Joins the cgroup, then execs the proxy: every thread it starts is in it.
	[ -z "$cg" ] || pre=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg")
	case $proxy in
	haproxy)
		RFE=${PORT[$side]} RDIR=$dir render "bench/conf/haproxy-$case.cfg" "$out.cfg"
		if ! haproxy -c -q -f "$out.cfg" >"$out.check" 2>&1; then
			START_ERR="haproxy -c failed: $(head -c 300 "$out.check" | tr '\n' ' ')"
			return 1
		fi
		taskset -c "$PROXY_CPU" ${pre[@]+"${pre[@]}"} haproxy -db -f "$out.cfg" >"$out.log" 2>&1 &
		;;
	lbd)
		local bin=$LBD
		[ "$side" = a ] && bin=${LBD_A:-$LBD} # A/B of two builds: LBD_A on side A
		if [ ! -x "$bin" ]; then
			START_ERR="$bin not built (make build)"
			return 1
		fi
		RFE=${PORT[$side]} RDIR=$dir render "bench/conf/lbd-$case.yaml" "$out.yaml"
		if ! "$bin" check -c "$out.yaml" >"$out.check" 2>&1; then
			START_ERR="lbd check failed: $(head -c 300 "$out.check" | tr '\n' ' ')"
			if grep -q 'unknown key "\(http_request\|stick_table\|http_response\)"' "$out.check"; then
				START_ERR="lbd does not support http_request rules yet (branch rules; lbd check: unknown key http_request)"
			fi
			return 1
		fi
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" ${pre[@]+"${pre[@]}"} "$bin" run -c "$out.yaml" >"$out.log" 2>&1 &
		;;
	esac
	PID[$side]=$!
	PIDS+=("${PID[$side]}")
	if ! wait_port "${PORT[$side]}" "${PID[$side]}" 10; then
		START_ERR="no listener on 127.0.0.1:${PORT[$side]} after 10s; log: $(tail -c 240 "$out.log" | tr '\n' ' ')"
		stop_proxy "$side"
		return 1
	fi
	if [ -n "$cg" ] && ! grep -qx "${PID[$side]}" "$cg/cgroup.procs"; then
		START_ERR="$proxy (pid ${PID[$side]}) is not in cgroup $cg"
		stop_proxy "$side"
		return 1
	fi
	sleep 0.5 # first health checks
}
stop_proxy() { # side
	local side=$1 i
	[ -n "${PID[$side]:-}" ] || return 0
	kill "${PID[$side]}" 2>/dev/null || :
	wait "${PID[$side]}" 2>/dev/null || :
	PID[$side]=
	for i in $(seq 1 100); do port_free "${PORT[$side]}" && return 0; sleep 0.05; done
}

# cpu_ns pid: CPU nanoseconds of all the process's threads (schedstat's
# run time: exact, where /proc/PID/stat's utime + stime come in 10 ms ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{n += $1} END {printf "%.0f\n", n}'; } # %.0f: mawk clips %d at 2^31
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# load_ticks: "busy total" clock ticks of the load CPU so far (/proc/stat;
# busy = user nice system irq softirq steal, total adds idle and iowait).
load_ticks() {
	awk -v c="cpu$LOAD_CPU" '$1 == c {b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6; exit}' /proc/stat
}
to_ms() { # wrk latency like 812.00us, 1.23ms, 2.01s
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print "-" }'
}

declare -A ERR # ERR[case,side]: why a side was not measured
# slices_of case: (b1k) and (b5k) open thousands of connections per wrk
# run, a ramp that 1 s slices would be mostly made of: one slice.
slices_of() { case ${1%-cap} in b1k | b5k) echo 1 ;; *) echo "$SLICES" ;; esac; }

# measure side case pair slice: one measured wrk run of one slice;
# appends "pair reqs rps p50 p99 cpu-ns rss-kB errors wall-ns load-busy
# load-total" (the last two in clock ticks of the load CPU) to
# $TMP/res/case.side.raw, or nothing when wrk got no responses.
measure() {
	local side=$1 case=$2 pair=$3 slice=$4 out="$TMP/res/$2.$1.$3.$4.wrk" c0 c1 t0 t1 l0 l1 pid=${PID[$1]}
	read -r -a l0 <<<"$(load_ticks)"
	t0=$(date +%s%N)
	c0=$(cpu_ns "$pid")
	load "$side" "$case" "$((DURATION / $(slices_of "$case")))" --latency >"$out" 2>&1 || :
	c1=$(cpu_ns "$pid")
	t1=$(date +%s%N)
	read -r -a l1 <<<"$(load_ticks)"
	local reqs rps p50 p99 errs
	if [ "$case" = h2 ]; then
		# h2load has no percentiles: the mean time for request goes in
		# the p50 column (the table calls it "mean ms"), p99 is 0.
		reqs=$(awk '/^requests:/ {print $8; exit}' "$out")
		rps=$(awk '/^finished in/ {print $4; exit}' "$out")
		p50=$(awk '/^time for request:/ {print $6; exit}' "$out")
		p99=0s
		errs=$(awk '/^requests:/ {n += $10 + $12 + $14} /^status codes:/ {n += $7 + $9} END {print n + 0}' "$out")
	else
		reqs=$(awk '/requests in/ {print $1; exit}' "$out")
		rps=$(awk '/^Requests\/sec:/ {print $2; exit}' "$out")
		p50=$(awk '$1 == "50%" {print $2; exit}' "$out")
		p99=$(awk '$1 == "99%" {print $2; exit}' "$out")
		errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF}
			/Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
	fi
	if [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
		log "  $case pair $pair ${LABEL[$side]}: no responses: $(tail -c 200 "$out" | tr '\n' ' ')"
		return
	fi
	[ "$errs" -eq 0 ] || log "  $case pair $pair ${LABEL[$side]}: $(grep -E 'Socket errors|Non-2xx|^requests:|^status codes:' "$out" | tr '\n' ' ')"
	echo "$pair $reqs $rps $(to_ms "$p50") $(to_ms "$p99") $((c1 - c0)) $(rss_kb "$pid") $errs $((t1 - t0))" \
		"$((l1[0] - l0[0])) $((l1[1] - l0[1]))" >>"$TMP/res/$case.$side.raw"
}

# pair_line side case pair: folds the pair's slices into
# "pair rps p50 p99 cpu rss errors proxy-cpu% load-cpu%" in
# $TMP/res/case.side: req/s = all requests / all measured time, CPU
# s/100k = all CPU / all requests, p50 and p99 = the median of the slices'
# (one slice: wrk's own), RSS the last slice's, errors summed; proxy-cpu%
# = the proxy's CPU per wall second of its slices (100 = one CPU, wrk's
# start and end included), load-cpu% = how busy the load CPU was then.
pair_line() {
	local side=$1 case=$2 pair=$3 f="$TMP/res/$2.$1.raw"
	[ -f "$f" ] || return 0
	awk -v p="$pair" '$1 == p {n++; q += $2; t += $2 / $3; cpu += $6; rss = $7; e += $8; p50[n] = $4; p99[n] = $5
		w += $9; lb += $10; lt += $11}
	function med(a, n,  i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	END { if (n == 0 || q == 0) exit
		printf "%d %.2f %.3f %.3f %.3f %.1f %d %.1f %.1f\n", p, q / t, med(p50, n), med(p99, n), cpu / 1e9 * 100000 / q, rss / 1024, e,
			(w > 0 ? cpu / w * 100 : 0), (lt > 0 ? lb / lt * 100 : 0) }' \
		"$f" >>"$TMP/res/$case.$side"
}

# h2_check side: HTTP/2 is negotiated by ALPN on the side's TLS bind.
h2_check() {
	local v
	v=$(curl --http2 -k -s -o /dev/null --max-time 5 -w '%{http_version}' "https://127.0.0.1:${PORT[$1]}/" 2>/dev/null || :)
	[ "$v" = 2 ] && return 0
	START_ERR="${NAME[$1]} does not offer h2 yet (curl --http2 over TLS got HTTP/${v:-nothing}; 0: no answer)"
	return 1
}

# count_run side case round: one more run of the case's load with perf
# counting on the proxy CPU (perf stat -a -C: every thread the proxy has,
# also one Go starts during the count; perf stat -p misses those and read
# lbd's reads and writes 5% short) the system calls by kind and the context
# switches, less what the same CPU counted in the second before with the
# proxies idle (the neighbours), and /proc/PID/stat the user and system
# CPU; appends
# "round requests syscalls epoll reads writes switches user-us system-us
# segments" per request to $TMP/res/case.side.sys, segments being the TCP
# segments the host sent in the window (/proc/net/snmp OutSegs: the lab's
# every hop, both directions, as the host has no other traffic on
# loopback). A failed count is logged and left out.
count_run() {
	local side=$1 case=$2 round=$3 pid=${PID[$1]} out="$TMP/res/$2.$1.$3.perf" w="$TMP/res/$2.$1.$3.syswrk" t0 t1 s0 s1 ppid reqs
	local what="$2 ${LABEL[$1]} count $3"
	if ! t0=$(awk '{print $14, $15}' "/proc/$pid/stat" 2>/dev/null); then
		log "  $what: the proxy (pid $pid) is gone"
		return 0
	fi
	perf stat -a -C "$PROXY_CPU" -x, -e "$SYS_EVENTS" -o "$out.idle" -- sleep 1 >/dev/null 2>"$out.err" || : >"$out.idle"
	# The count's window holds the whole load run: it opens 0.2 s before
	# and closes about 0.8 s after (the proxy is idle then, as in the idle
	# second taken off).
	perf stat -a -C "$PROXY_CPU" -x, -e "$SYS_EVENTS" -o "$out" -- sleep "$((DURATION + 1))" >/dev/null 2>"$out.err" &
	ppid=$!
	sleep 0.2
	s0=$(out_segs)
	load "$side" "$case" "$DURATION" >"$w" 2>&1 || :
	s1=$(out_segs)
	if ! wait "$ppid" || [ ! -s "$out" ]; then
		log "  $what: perf stat failed: $(head -c 200 "$out.err" | tr '\n' ' ')"
		return 0
	fi
	if ! t1=$(awk '{print $14, $15}' "/proc/$pid/stat" 2>/dev/null); then
		log "  $what: the proxy (pid $pid) is gone"
		return 0
	fi
	if [ "$case" = h2 ]; then reqs=$(awk '/^requests:/ {print $8; exit}' "$w"); else reqs=$(awk '/requests in/ {print $1; exit}' "$w"); fi
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || return 0
	# The idle second's counts (file 1), scaled to the run, are taken off.
	awk -F, -v r="$round" -v n="$reqs" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v d="$((DURATION + 1))" -v segs="$((s1 - s0))" '
		$1 !~ /^[0-9]+$/ {next} {k = (FILENAME == ARGV[1]) ? -d : 1}
		$3 ~ /raw_syscalls/ {all += k * $1} $3 ~ /context-switches/ {cs += k * $1}
		$3 ~ /epoll/ {ep += k * $1} $3 ~ /_(read|recvfrom|recvmsg)$/ {rd += k * $1} $3 ~ /_(write|writev|sendto|sendmsg)$/ {wr += k * $1}
		END { split(t0, a, " "); split(t1, b, " ")
			printf "%d %d %.3f %.3f %.3f %.3f %.3f %.2f %.2f %.3f\n", r, n, all / n, ep / n, rd / n, wr / n, cs / n,
				(b[1] - a[1]) / hz * 1e6 / n, (b[2] - a[2]) / hz * 1e6 / n, segs / n }' "$out.idle" "$out" >>"$TMP/res/$case.$side.sys"
}

# out_segs: the TCP segments this host has sent (/proc/net/snmp OutSegs).
out_segs() {
	awk '$1 == "Tcp:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "OutSegs") c = i; h = 1; next } print $c; exit }' /proc/net/snmp
}

run_pairs() { # case
	local case=$1 side i need cg
	need=$(($(conns_of "$case") + 100))
	for side in a b; do
		if [ "$need" -gt "$MAXCONN" ]; then
			ERR[$case,$side]="fd limit $NOFILE allows maxconn $MAXCONN, $case needs $need"
			log "  ${ERR[$case,$side]}"
			continue
		fi
		if is_cap "$case" && [ -z "${CG[$side]:-}" ]; then
			ERR[$case,$side]=${CG_ERR:-no cgroup} # logged once by cg_setup
			continue
		fi
		log "case $case: starting ${LABEL[$side]} on :${PORT[$side]}"
		cg=
		! is_cap "$case" || cg=${CG[$side]}
		if ! start_proxy "$side" "$(conf_of "$case")" "$cg"; then
			ERR[$case,$side]=$START_ERR
			log "  $START_ERR"
		elif [ "$case" = h2 ] && ! h2_check "$side"; then
			ERR[$case,$side]=$START_ERR
			log "  $START_ERR"
		elif [ "$case" = rules ] && ! curl -s -D - -o /dev/null --max-time 5 "http://127.0.0.1:${PORT[$side]}/" |
			grep -qi '^strict-transport-security: max-age=63072000'; then
			# The rules must really run: the response rule's header is the witness.
			ERR[$case,$side]="the response carries no Strict-Transport-Security header: rules not applied"
			log "  ${ERR[$case,$side]}"
		fi
	done
	if [ -n "${ERR[$case,a]:-}${ERR[$case,b]:-}" ]; then
		stop_proxy a
		stop_proxy b
		return
	fi
	if [ "$WARMUP" -gt 0 ]; then
		for side in a b; do
			load "$side" "$case" "$WARMUP" >/dev/null 2>&1 || :
		done
	fi
	local st0a st0b
	if is_cap "$case"; then st0a=$(cg_stat a) st0b=$(cg_stat b); fi
	for i in $(seq 1 "$PAIRS"); do
		# The order alternates (A B, B A, A B, ...) so that neither side
		# always runs first and a slow drift of the machine cancels out.
		# With BENCH_SLICES > 1 each side's run is cut in slices that
		# alternate too (A B B A A B ...): both sides then sample the
		# same moments of the neighbours' load.
		for j in $(seq 1 "$(slices_of "$case")"); do
			if [ $(((i + j) % 2)) -eq 0 ]; then
				measure a "$case" "$i" "$j"
				measure b "$case" "$i" "$j"
			else
				measure b "$case" "$i" "$j"
				measure a "$case" "$i" "$j"
			fi
		done
		pair_line a "$case" "$i"
		pair_line b "$case" "$i"
		log "case $case: pair $i of $PAIRS done"
	done
	if is_cap "$case"; then # throttled periods while measuring: "periods throttled"
		echo "$st0a $(cg_stat a)" | awk '{print $3 - $1, $4 - $2}' >"$TMP/res/$case.a.thr"
		echo "$st0b $(cg_stat b)" | awk '{print $3 - $1, $4 - $2}' >"$TMP/res/$case.b.thr"
	fi
	if [ "$SYSCALLS" = 1 ]; then
		for i in 1 2 3; do
			if [ $((i % 2)) -eq 1 ]; then count_run a "$case" "$i"; count_run b "$case" "$i"; else count_run b "$case" "$i"; count_run a "$case" "$i"; fi
		done
		log "case $case: system calls counted"
	fi
	stop_proxy a
	stop_proxy b
}

# wait_ready out pid: waits up to 60 s until idleconns (pid) has printed
# "ready" in out; false if it did not (it failed or stopped).
wait_ready() {
	local i
	for i in $(seq 1 1200); do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	grep -q '^ready' "$1" 2>/dev/null
}

run_idle() { # side case (idle or idle-tls)
	local side=$1 case=$2 out="$TMP/res/$2.$1.out" r0 r1 held ipid pid=${PID[$1]} port=${PORT[$1]} scheme=http tls=
	[ "$case" = idle ] || scheme=https tls=-tls
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d1s "$scheme://127.0.0.1:$port/" >/dev/null 2>&1 || :
	sleep 1
	r0=$(rss_kb "$pid")
	taskset -c "$LOAD_CPU" "$TMP/idleconns" -addr "127.0.0.1:$port" -n "$IDLE_CONNS" -hold 120s $tls \
		>"$out" 2>&1 &
	ipid=$!
	PIDS+=("$ipid")
	if ! wait_ready "$out" "$ipid"; then
		ERR[$case,$side]="idleconns failed: $(tail -c 200 "$out" | tr '\n' ' ')"
		kill "$ipid" 2>/dev/null || :
		wait "$ipid" 2>/dev/null || :
		return
	fi
	sleep 2 # let the proxy settle (GC, timers)
	r1=$(rss_kb "$pid")
	held=$(ss -Htn state established "sport = :$port" | wc -l)
	kill "$ipid" 2>/dev/null || :
	wait "$ipid" 2>/dev/null || :
	awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" -v h="$held" 'BEGIN {printf "%.2f %d %.1f\n", (b - a) / n, h, b / 1024}' \
		>"$TMP/res/$case.$side"
}

# (d') burst: a fresh proxy per count; BURST_LO then BURST_HI keep-alive
# connections are opened, their first requests sent all at once
# (idleconns -burst), then they stay idle BURST_IDLE seconds before RSS is
# read. The row is the RSS slope between the two counts, so the proxy's
# fixed start-up memory cancels out.
BURST_LO=1000 BURST_HI=4000 BURST_IDLE=2.5
if [ "$BURST_HI" -gt $((MAXCONN - 200)) ]; then
	BURST_HI=$((MAXCONN - 200))
	BURST_LO=$((BURST_HI / 4))
fi
run_burst() { # side
	local side=$1 n out r ipid held rl=
	for n in $BURST_LO $BURST_HI; do
		out="$TMP/res/burst.$side.$n.out"
		if ! start_proxy "$side" keepalive; then
			ERR[burst,$side]=$START_ERR
			return
		fi
		taskset -c "$LOAD_CPU" "$TMP/idleconns" -addr "127.0.0.1:${PORT[$side]}" -n "$n" -burst -hold 120s >"$out" 2>&1 &
		ipid=$!
		PIDS+=("$ipid")
		if ! wait_ready "$out" "$ipid"; then
			ERR[burst,$side]="idleconns -burst -n $n failed: $(tail -c 200 "$out" | tr '\n' ' ')"
			kill "$ipid" 2>/dev/null || :
			wait "$ipid" 2>/dev/null || :
			stop_proxy "$side"
			return
		fi
		sleep "$BURST_IDLE"
		r=$(rss_kb "${PID[$side]}")
		held=$(ss -Htn state established "sport = :${PORT[$side]}" | wc -l)
		kill "$ipid" 2>/dev/null || :
		wait "$ipid" 2>/dev/null || :
		stop_proxy "$side"
		rl="$rl $r $held"
	done
	# KB per connection, then the RSS (MiB) and connections held at each count.
	echo "$rl" | awk -v lo="$BURST_LO" -v hi="$BURST_HI" \
		'{printf "%.2f %.1f %d %.1f %d\n", ($3 - $1) / (hi - lo), $1 / 1024, $2, $3 / 1024, $4}' >"$TMP/res/burst.$side"
}

mkdir -p "$TMP/res"
for case in $CASES; do
	if [ "$case" = burst ]; then
		for side in a b; do
			log "case burst: ${LABEL[$side]}, $BURST_LO then $BURST_HI connections"
			run_burst "$side"
			[ -z "${ERR[burst,$side]:-}" ] || log "  ${ERR[burst,$side]}"
		done
	elif [ "$case" = idle ] || [ "$case" = idle-tls ]; then
		# Memory per idle connection is steady from run to run: one
		# measurement per side, one side at a time.
		for side in a b; do
			log "case $case: ${LABEL[$side]}"
			if ! start_proxy "$side" "$(conf_of "$case")"; then
				ERR[$case,$side]=$START_ERR
				log "  $START_ERR"
				continue
			fi
			run_idle "$side" "$case"
			stop_proxy "$side"
		done
	else
		run_pairs "$case"
	fi
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ----------------------------------------------------------------
label() {
	case $1 in
	seed) echo "(a) seed" ;; keepalive) echo "(b) keep-alive" ;; tcp) echo "(c) tcp" ;;
	idle) echo "(d) idle ${IDLE_CONNS}" ;; burst) echo "(d') burst" ;; https) echo "(e) https" ;; tls-close) echo "(f) tls full" ;;
	tls-resume) echo "(f2) tls resumed" ;;
	h2) echo "(g) h2 tls" ;; idle-tls) echo "(h) idle tls ${IDLE_CONNS}" ;; rules) echo "(r) rules" ;;
	b1k) echo "(b1k) 1k conns" ;; b5k) echo "(b5k) 5k conns" ;;
	seed-cap) echo "(a-cap) seed" ;; keepalive-cap) echo "(b-cap) keep-alive" ;; tcp-cap) echo "(c-cap) tcp" ;; https-cap) echo "(e-cap) https" ;; b1k-cap) echo "(b1k-cap) 1k conns" ;; tls-srv) echo "(i) tls to servers" ;; *) echo "$1" ;;
	esac
}
# quantiles: numbers on stdin -> "median q1 q3 min max n" (linear
# interpolation between the sorted values, as R's type 7).
quantiles() {
	sort -g | awk '{v[n++] = $1}
	function q(p,  h, l) { h = (n - 1) * p; l = int(h); return l + 1 < n ? v[l] + (h - l) * (v[l + 1] - v[l]) : v[l] }
	END { if (n == 0) { print "- - - - - 0"; exit } printf "%.4f %.4f %.4f %.4f %.4f %d\n", q(0.5), q(0.25), q(0.75), v[0], v[n - 1], n }'
}
col() { # case side column(2..9) -> the values of all pairs
	awk -v c="$3" '{print $c}' "$TMP/res/$1.$2" 2>/dev/null
}
med1() { # case side column -> the median of the pairs, one decimal, or -
	col "$1" "$2" "$3" | quantiles | awk '{if ($1 == "-") print "-"; else printf "%.1f\n", $1}'
}
ratios() { # case column -> per-pair b/a for pairs both sides measured
	[ -f "$TMP/res/$1.a" ] && [ -f "$TMP/res/$1.b" ] || return 0
	awk -v c="$2" 'NR == FNR {a[$1] = $c; next} ($1 in a) && a[$1] + 0 > 0 {printf "%.4f\n", $c / a[$1]}' \
		"$TMP/res/$1.a" "$TMP/res/$1.b"
}
lbdver=$("$LBD" version 2>/dev/null | head -1 || :)
RLABEL="${LABEL[b]}/${LABEL[a]}"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "# $(haproxy -v | head -1 | cut -d' ' -f1-3); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); ${lbdver:-lbd not built}"
[ -n "${LBD_A:-}" ] && [ "$SIDE_A" = lbd ] && echo "# side A runs LBD_A=$LBD_A_SRC, side B LBD=$LBD_SRC"
echo "# load average before: $LOADAVG, after: $LOADAVG_END (other work on the machine skews the numbers)"
if awk -v a="${LOADAVG%% *}" -v b="${LOADAVG_END%% *}" -v n="$(nproc)" 'BEGIN {exit !(a > n / 2 || b > n / 2)}'; then
	echo "# BUSY MACHINE: load average above half the $(nproc) CPUs; see bench/README.md \"Resolution\" before reading small differences"
fi
[ "$SLICES" -gt 1 ] && echo "# each side's ${DURATION}s run is $SLICES alternating slices of $((DURATION / SLICES))s (BENCH_SLICES; b1k/b5k: one); p50 and p99 are the median of the slices'"
echo "# $PAIRS pair(s) per case of wrk -t1 -c$CONNS -d${DURATION}s --latency (b1k/b5k: -t4 -c1000/-c5000; h2: h2load -t1 -c$CONNS -m10 -D$DURATION), A=${LABEL[a]} B=${LABEL[b]} alternating (A B, B A, ...), after ${WARMUP}s warm-up of each; proxies on CPU $PROXY_CPU, nginx x2 + wrk on CPU $LOAD_CPU"
echo "# $RLABEL: median of the per-pair ratios [quartiles] (min-max); ${LABEL[a]} and ${LABEL[b]}: median of their runs"
for c in $CASES; do
	if is_cap "$c"; then
		echo "# -cap rows: the same configs with each proxy in its own cgroup limited to $QUOTA% of one CPU (quota $((CG_PERIOD * QUOTA / 100)) us per $CG_PERIOD us), so the proxy sets the pace and req/s is capacity at that CPU budget;"
		echo "#   proxy cpu %: its CPU per wall second, near $QUOTA when the quota binds; p50/p99 not shown: under throttling they mostly measure the throttling gaps (not comparable)"
		break
	fi
done
fmt='%-18s %-11s %11s %11s %8s %15s %15s %s\n'
printf "$fmt" case figure "${LABEL[a]}" "${LABEL[b]}" "$RLABEL" "quartiles" "min-max" ""
for case in $CASES; do
	if [ "$case" = burst ]; then
		for side in a b; do
			if [ -n "${ERR[burst,$side]:-}" ] || [ ! -f "$TMP/res/burst.$side" ]; then
				printf '%-18s %-11s %s\n' "$(label burst)" "${LABEL[$side]}" "not measured (${ERR[burst,$side]:-no result})"
			else
				read -r kb r1 h1 r2 h2 <"$TMP/res/burst.$side"
				printf '%-18s %-11s %s KB per connection, RSS slope %d to %d after a burst and %ss idle (RSS %s MiB, %s held; %s MiB, %s held)\n' \
					"$(label burst)" "${LABEL[$side]}" "$kb" "$BURST_LO" "$BURST_HI" "$BURST_IDLE" "$r1" "$h1" "$r2" "$h2"
			fi
		done
		if [ -f "$TMP/res/burst.a" ] && [ -f "$TMP/res/burst.b" ]; then
			printf '%-18s %-11s %s KB per connection\n' "$(label burst)" "$RLABEL" \
				"$(awk 'NR == 1 {a = $1} NR == 2 {if (a + 0 == 0) print "-"; else printf "%.2fx", $1 / a}' "$TMP/res/burst.a" "$TMP/res/burst.b")"
		fi
		continue
	fi
	if [ "$case" = idle ] || [ "$case" = idle-tls ]; then
		for side in a b; do
			if [ -n "${ERR[$case,$side]:-}" ] || [ ! -f "$TMP/res/$case.$side" ]; then
				printf '%-18s %-11s %s\n' "$(label "$case")" "${LABEL[$side]}" "not measured (${ERR[$case,$side]:-no result})"
			else
				read -r kb held rss <"$TMP/res/$case.$side"
				printf '%-18s %-11s %s KB per idle connection (%s held, RSS %s MiB)\n' "$(label "$case")" "${LABEL[$side]}" "$kb" "$held" "$rss"
			fi
		done
		if [ -f "$TMP/res/$case.a" ] && [ -f "$TMP/res/$case.b" ]; then
			printf '%-18s %-11s %s KB per connection\n' "$(label "$case")" "$RLABEL" \
				"$(awk 'NR == 1 {a = $1} NR == 2 {if (a + 0 == 0) print "-"; else printf "%.2fx", $1 / a}' "$TMP/res/$case.a" "$TMP/res/$case.b")"
		fi
		continue
	fi
	bad=
	for side in a b; do
		[ -z "${ERR[$case,$side]:-}" ] || {
			printf '%-18s %-11s %s\n' "$(label "$case")" "${LABEL[$side]}" "not measured (${ERR[$case,$side]})"
			bad=1
		}
	done
	[ -z "$bad" ] || continue
	metrics=("req/s:2" "p50 ms:3" "p99 ms:4" "cpu s/100k:5" "RSS MiB:6") short=("req/s:2" "p99:4" "cpu:5")
	if [ "$case" = h2 ]; then # h2load: mean time for request, no percentiles
		metrics=("req/s:2" "mean ms:3" "cpu s/100k:5" "RSS MiB:6") short=("req/s:2" "mean:3" "cpu:5")
	elif is_cap "$case"; then # latency under throttling measures the throttling
		metrics=("req/s:2" "cpu s/100k:5" "proxy cpu %:8" "RSS MiB:6") short=("req/s:2" "cpu:5")
	fi
	for m in "${metrics[@]}"; do
		c=${m##*:}
		read -r ma _ <<<"$(col "$case" a "$c" | quantiles)"
		read -r mb _ <<<"$(col "$case" b "$c" | quantiles)"
		read -r med q1 q3 lo hi n <<<"$(ratios "$case" "$c" | quantiles)"
		if [ "$n" -eq 0 ]; then
			printf "$fmt" "$(label "$case")" "${m%%:*}" "$ma" "$mb" - - - "(no complete pair)"
			continue
		fi
		printf "$fmt" "$(label "$case")" "${m%%:*}" "$(printf %.3f "$ma")" "$(printf %.3f "$mb")" \
			"$(printf %.3fx "$med")" "$(printf '%.3f-%.3f' "$q1" "$q3")" "$(printf '%.3f-%.3f' "$lo" "$hi")" \
			"$([ "$n" -eq "$PAIRS" ] || echo "($n of $PAIRS pairs)")"
	done
	ea=$(col "$case" a 7 | awk '{n += $1} END {print n + 0}')
	eb=$(col "$case" b 7 | awk '{n += $1} END {print n + 0}')
	printf "$fmt" "$(label "$case")" "errors" "$ea" "$eb" "" "" "" "(sum over the pairs)"
	for m in "${short[@]}"; do
		echo "#   $(label "$case") per-pair $RLABEL ${m%%:*}: $(ratios "$case" "${m##*:}" | awk '{printf "%s%.3f", (NR > 1 ? " " : ""), $1}')"
	done
	# Who set the pace: the proxy's CPU per wall second and the load CPU's
	# busy share, medians of the pairs (100 = one CPU).
	pa=$(med1 "$case" a 8) pb=$(med1 "$case" b 8) la=$(med1 "$case" a 9) lb=$(med1 "$case" b 9)
	thr=
	if is_cap "$case" && [ -f "$TMP/res/$case.a.thr" ] && [ -f "$TMP/res/$case.b.thr" ]; then
		thr=$(cat "$TMP/res/$case.a.thr" "$TMP/res/$case.b.thr" | awk -v a="${LABEL[a]}" -v b="${LABEL[b]}" -v per="$CG_PERIOD" \
			'{p[NR] = $1; t[NR] = $2} END {printf "; throttled in %.0f%% (%s) and %.0f%% (%s) of the %s us periods they ran", \
			(p[1] ? t[1] / p[1] * 100 : 0), a, (p[2] ? t[2] / p[2] * 100 : 0), b, per}')
	fi
	printf '#   %s CPU busy, %% of one CPU: proxy %s %s, %s %s; load CPU %s %s and %s%s\n' "$(label "$case")" \
		"${LABEL[a]}" "$pa" "${LABEL[b]}" "$pb" "$LOAD_CPU" "$la" "$lb" "$thr"
	if is_cap "$case"; then
		for side in a b; do
			v=$pa
			[ "$side" = a ] || v=$pb
			if awk -v v="$v" -v q="$QUOTA" 'BEGIN {exit !(v == "-" || v < 0.9 * q)}'; then
				echo "#   WARNING: $(label "$case"): ${LABEL[$side]} used $v% of one CPU against a $QUOTA% quota: the quota did not bind, req/s is not its capacity"
			fi
		done
	fi
done
if [ "$SYSCALLS" = 1 ]; then
	echo "# per request, BENCH_SYSCALLS=1: median of 3 more runs per side (perf stat on CPU $PROXY_CPU less its idle second; user and system CPU from /proc/PID/stat, in ${CLK_TCK} Hz ticks)"
	sfmt='%-18s %-11s %9s %7s %7s %7s %9s %9s %9s %8s %9s\n'
	printf "$sfmt" case side syscalls epoll reads writes switches "user us" "sys us" "sys share" segments
	for case in $CASES; do
		for side in a b; do
			[ -f "$TMP/res/$case.$side.sys" ] || continue
			awk -v c="$(label "$case")" -v s="${LABEL[$side]}" -v f="$sfmt" '
				{for (k = 3; k <= 10; k++) v[k, NR] = $k; n = NR}
				function med(k,  i, j, x, a) { for (i = 1; i <= n; i++) a[i] = v[k, i]
					for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
					return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
				END { u = med(8); y = med(9)
					printf f, c, s, sprintf("%.2f", med(3)), sprintf("%.2f", med(4)), sprintf("%.2f", med(5)), sprintf("%.2f", med(6)),
						sprintf("%.3f", med(7)), sprintf("%.2f", u), sprintf("%.2f", y), (u + y > 0 ? sprintf("%.0f%%", 100 * y / (u + y)) : "-"), sprintf("%.2f", med(10)) }' \
				"$TMP/res/$case.$side.sys"
		done
	done
fi
# BENCH_KEEP=DIR keeps the per-run figures (one line per run: pair req/s
# p50 p99 cpu-s/100k rss-MiB errors proxy-cpu% load-cpu%; files CASE.a and
# CASE.b) and wrk's output.
if [ -n "${BENCH_KEEP:-}" ]; then
	mkdir -p "$BENCH_KEEP" && cp -r "$TMP/res/." "$BENCH_KEEP/"
fi
