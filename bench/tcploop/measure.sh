#!/bin/bash
# Measure CPU per request in bench case (c) (mode tcp, wrk -c50 keep-alive
# through the proxy to two nginx serving 1 KB) for several proxies, in
# alternating rounds. Adapted from the lead's ad-hoc /work/prof/stat.sh.
#
# usage: bench/tcploop/measure.sh SIDE... (run as root, under
#        flock /tmp/lbd-bench.lock when others measure too)
# SIDE: haproxy | lbd | gor | gor0 | loop | loopspin | loopblock | loopblock2 | loopblockspin | loopraw
#   (gor = -engine goroutines -idle 1m, gor0 = the same with -idle 0,
#    loop = -engine loop -wait park, loopspin = -spin 1, loopblock = -wait block, loopblockspin = -wait block -spin 1,
#    loopblock2 = -wait block with GOMAXPROCS=2 (still on CPU 0),
#    loopraw = -wait raw)
# env: ROUNDS (5), DUR (5 s measured), WARM (2 s), LBD (bin/lbd),
#      TCPLOOP (built from bench/tcploop with the netpoll overlay), OUT (results file)
# Each measured run prints one line: side, round, requests, req/s, then per
# request: the proxy's task-clock (perf stat -p: all its threads, us),
# CPU 0's task-clock (perf stat -a -C 0: includes whatever else runs there),
# the proxy's user and sys time (/proc ticks, 10 ms resolution), its system
# calls and context switches (perf stat -p); and the 1-minute load average.
set -u
ulimit -n 20000
here=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-5} DUR=${DUR:-5} WARM=${WARM:-2}
LBD=${LBD:-$here/bin/lbd}
OUT=${OUT:-/dev/null}
T=$(mktemp -d /tmp/tcploop.XXXX)
TCPLOOP=${TCPLOOP:-$T/tcploop}
if [ ! -x "$TCPLOOP" ]; then
	ov=$here/bin/.netpoll-fifo/overlay.json; set_ov=()
	[ -f "$ov" ] && set_ov=(-overlay "$ov")
	(cd "$here" && go build -trimpath "${set_ov[@]}" -o "$TCPLOOP" ./bench/tcploop) || exit 1
fi
BE1=28081 BE2=28082 FE=28090
cleanup() { [ -n "${LP:-}" ] && kill $LP 2>/dev/null; kill $(cat $T/n1/nginx.pid $T/n2/nginx.pid 2>/dev/null) 2>/dev/null; wait 2>/dev/null; rm -rf $T; }
trap cleanup EXIT
mkdir -p $T/www; head -c 1024 /dev/zero | tr '\0' x > $T/www/index.html; chmod -R a+rX $T
for i in 1 2; do p=$((28080+i)); mkdir -p $T/n$i/tmp
	sed -e "s#@PORT@#$p#g" -e "s#@PREFIX@#$T/n$i#g" -e "s#@ROOT@#$T/www#g" $here/bench/conf/nginx.conf > $T/n$i/nginx.conf
	taskset -c 1 nginx -p $T/n$i -e $T/n$i/error.log -c $T/n$i/nginx.conf & done
R="s#@FE@#$FE#g; s#@BE1@#$BE1#g; s#@BE2@#$BE2#g; s#@MAXCONN@#8000#g; s#@TMP@#$T#g; s#@NOFILE@#20000#g"
sed -e "$R" $here/bench/conf/lbd-tcp.yaml > $T/lbd.yaml
sed -e "$R" $here/bench/conf/haproxy-tcp.cfg > $T/h.cfg
B=127.0.0.1:$BE1,127.0.0.1:$BE2
start() {
	case $1 in
	haproxy) taskset -c 0 haproxy -db -f $T/h.cfg > $T/p.log 2>&1 & ;;
	lbd) GOMAXPROCS=1 taskset -c 0 $LBD run -c $T/lbd.yaml > $T/p.log 2>&1 & ;;
	gor) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine goroutines -idle 1m -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	gor0) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine goroutines -idle 0 -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	loop) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine loop -wait park -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	loopspin) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine loop -wait park -spin 1 -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	loopraw) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine loop -wait raw -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	loopblockspin) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine loop -wait block -spin 1 -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	loopblock2) GOMAXPROCS=2 taskset -c 0 $TCPLOOP -engine loop -wait block -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	loopblock) GOMAXPROCS=1 taskset -c 0 $TCPLOOP -engine loop -wait block -listen 127.0.0.1:$FE -backends $B > $T/p.log 2>&1 & ;;
	*) echo "unknown side $1" >&2; exit 2 ;;
	esac
	LP=$!
}
# utime+stime ticks of all threads of a process
ticks() { awk '{u+=$14; s+=$15} END{print u, s}' /proc/$1/task/*/stat; }
one() { # side round
	start $1
	for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$FE/ && break; sleep 0.1; done
	taskset -c 1 wrk -t1 -c50 -d${WARM}s http://127.0.0.1:$FE/ >/dev/null
	read u0 s0 < <(ticks $LP)
	perf stat -x, -e 'task-clock,context-switches,raw_syscalls:sys_enter' -p $LP -o $T/stat.txt -- sleep $DUR &
	PP=$!
	perf stat -x, -e task-clock -a -C 0 -o $T/cpu0.txt -- sleep $DUR &
	P0=$!
	taskset -c 1 wrk -t1 -c50 -d${DUR}s http://127.0.0.1:$FE/ > $T/wrk.txt
	wait $PP $P0
	read u1 s1 < <(ticks $LP)
	kill $LP; wait $LP 2>/dev/null; LP=
	n=$(awk '/requests in/{print $1}' $T/wrk.txt)
	rps=$(awk '/Requests\/sec/{print $2}' $T/wrk.txt)
	err=$(grep -c 'Non-2xx\|Socket errors' $T/wrk.txt)
	la=$(cut -d' ' -f1 /proc/loadavg)
	c0=$(awk -F, '$3=="task-clock"{print $1}' $T/cpu0.txt)
	awk -F, -v c0=$c0 -v side=$1 -v r=$2 -v n=$n -v rps=$rps -v du=$((u1-u0)) -v ds=$((s1-s0)) -v la=$la -v err=$err '
		$3=="task-clock"{tc=$1} $3=="context-switches"{cs=$1} $3=="raw_syscalls:sys_enter"{sc=$1}
		END{printf "%-9s %d reqs=%d rps=%.0f cpu_us=%.3f cpu0_us=%.3f user_us=%.3f sys_us=%.3f sysc=%.3f cs=%.3f load=%s err=%d\n",
			side, r, n, rps, tc*1000/n, c0*1000/n, du*1e4/n, ds*1e4/n, sc/n, cs/n, la, err}' $T/stat.txt
}
for r in $(seq $ROUNDS); do
	sides=("$@")
	if [ $((r % 2)) = 0 ]; then # reverse the order every other round
		rev=(); for ((i=${#sides[@]}-1; i>=0; i--)); do rev+=("${sides[i]}"); done; sides=("${rev[@]}")
	fi
	for s in "${sides[@]}"; do one $s $r | tee -a $OUT; done
done
