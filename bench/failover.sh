#!/usr/bin/env bash
# bench/failover.sh — client-observed VRRP takeover, lbd vs keepalived, in one
# run on the same namespace lab (make bench runs it; root). For each of
# {lbd, keepalived} x {1s, 100ms adverts} x {crash (the master node dies:
# all its processes SIGKILLed, its link down), graceful
# (SIGTERM)}: two LB nodes (priorities 101/100) hold VIP 10.10.0.100, a client
# namespace sends one HTTP request to the VIP every 10 ms, the master is
# stopped, and the longest gap without a good answer is the takeover time.
# keepalived nodes answer HTTP with the demo backend bound on :80; lbd nodes
# proxy to a backend namespace. Every loop is bounded; everything is cleaned
# up on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/failover.sh needs root (network namespaces)" >&2; exit 1; }
command -v keepalived >/dev/null || { echo "keepalived missing: apt-get install keepalived (make bench does)" >&2; exit 1; }
. scripts/lab.sh

RUN=$(mktemp -d /tmp/lbdfo.XXXX)
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	lab_down
	rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

go build -o "$RUN/demo" ./internal/lab/demo
[ -x bin/lbd ] || { echo "bin/lbd missing: make build" >&2; exit 1; }

lbd_conf() { # name prio interval
	cat <<EOF2
global: {control_socket: $RUN/$1.sock}
sysctl: {apply: false}
vrrp:
  instances:
    - {name: VI_1, interface: eth0, virtual_router_id: 51, priority: $2, advert_interval: $3, vips: [{address: 10.10.0.100/24}]}
frontends:
  - {name: web, bind: ["*:80"], default_backend: app}
backends:
  - name: app
    servers: [{name: web01, address: "10.10.0.11:80"}]
EOF2
}

ka_conf() { # prio interval(seconds, e.g. 1 or 0.1)
	cat <<EOF2
global_defs {
    router_id lb$1
    vrrp_version 3
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $1
    advert_int $2
    virtual_ipaddress { 10.10.0.100/24 }
}
EOF2
}

NODE_PID=""
start_node() { # impl node prio interval; sets NODE_PID
	local impl=$1 n=$2 prio=$3 iv=$4
	if [ "$impl" = lbd ]; then
		lbd_conf "$n" "$prio" "$iv" >"$RUN/$n.yaml"
		ip netns exec "$LAB_PREFIX-$n" bin/lbd run -c "$RUN/$n.yaml" >"$RUN/$n.log" 2>&1 &
		PIDS+=($!); disown
	else
		local secs=${iv%ms}; [ "$iv" != "$secs" ] && secs=$(awk -v m="$secs" 'BEGIN{print m/1000}') || secs=${iv%s}
		ka_conf "$prio" "$secs" >"$RUN/$n.conf"
		rm -f "$RUN/$n.ka.pid" "$RUN/$n.vrrp.pid" # keepalived refuses a pid file left by the last run
		ip netns exec "$LAB_PREFIX-$n" "$RUN/demo" backend -listen :80 -name "$n" >/dev/null 2>&1 &
		PIDS+=($!); disown
		ip netns exec "$LAB_PREFIX-$n" keepalived --dont-fork --log-console --vrrp --use-file "$RUN/$n.conf" \
			--pid "$RUN/$n.ka.pid" --vrrp_pid "$RUN/$n.vrrp.pid" >"$RUN/$n.log" 2>&1 &
		PIDS+=($!); disown
	fi
	NODE_PID=${PIDS[-1]}
}

holds_vip() { lab_exec "$1" ip -4 addr show dev eth0 | grep -q "10.10.0.100/"; }

# one IMPL INTERVAL MODE -> prints the client's longest outage
one() {
	local impl=$1 iv=$2 mode=$3 p
	p="lbfo$(printf '%04x' $((RANDOM % 65536)))"
	lab_up "$p" lb1=10.10.0.10/24 lb2=10.10.0.20/24 web01=10.10.0.11/24 client=10.10.0.50/24
	ip netns exec "$p-web01" "$RUN/demo" backend -listen :80 -name web01 >/dev/null 2>&1 &
	PIDS+=($!); disown
	local m b
	start_node "$impl" lb1 101 "$iv"; m=$NODE_PID
	sleep 0.2
	start_node "$impl" lb2 100 "$iv"; b=$NODE_PID
	local i
	for i in $(seq 1 150); do holds_vip lb1 && ! holds_vip lb2 && break; sleep 0.1; done
	holds_vip lb1 || { echo "n/a (lb1 never became master)"; lab_down; return; }
	sleep 1.5 # settle: GARPs sent, adverts flowing
	# 40 ms per request: fine resolution, far above the lab's sub-ms RTT.
	lab_exec client "$RUN/demo" client -url http://10.10.0.100/ -for 7s -every 10ms -timeout 40ms >"$RUN/client.out" 2>&1 &
	local c=$!
	sleep 1
	if [ "$mode" = crash ]; then
		# Node death: every process on lb1 is killed at once and its link goes
		# down, so neither its VRRP daemon nor its HTTP server nor its kernel
		# (ARP for the VIP) answers any more. Same for both implementations.
		kill -9 $(ip netns pids "$LAB_PREFIX-lb1") 2>/dev/null
		ip -n "$LAB_PREFIX-lb1" link set eth0 down
	else
		kill -TERM "$m" # graceful: the VRRP daemon hands over (priority 0)
	fi
	wait "$c" || true
	lab_down # kills whatever still runs in the lab
	sed -n 's/.*longest outage seen by the client: //p' "$RUN/client.out"
}

REPS=${REPS:-3}
median() { tr ' ' '\n' | grep -v '^$' | grep -v 'n/a' | sort -g | awk '{a[NR]=$1} END{if(NR==0){print "n/a"} else {printf "%.3fs", a[int((NR+1)/2)]}}'; }
# secs turns "3.02s"/"344ms"/"0s" into seconds; anything else (a failed run) into n/a.
secs() { awk '{v=$1; if (v ~ /^[0-9.]+ms$/) {sub(/ms$/,"",v); print v/1000} else if (v ~ /^[0-9.]+µs$/) {print 0} else if (v ~ /^[0-9.]+s$/) {sub(/s$/,"",v); print v+0} else {print "n/a"}}'; }
printf '%-11s %-7s %-9s %-10s %s\n' IMPL ADVERT MODE MEDIAN "RUNS (client-observed takeover, $REPS runs)"
for iv in 1s 100ms; do
	for mode in crash graceful; do
		for impl in lbd keepalived; do
			runs=""
			for _ in $(seq 1 "$REPS"); do runs="$runs $(one "$impl" "$iv" "$mode" | secs)"; done
			printf '%-11s %-7s %-9s %-10s %s\n' "$impl" "$iv" "$mode" "$(echo "$runs" | median)" "$runs"
		done
	done
done
echo "RFC 5798 at priority 100: Master_Down_Interval 3.609s (1s adverts) / 0.361s (100ms); Skew_Time 0.609s / 0.061s."
echo "A crash is seen after Master_Down_Interval minus the time since the last advert; a graceful stop after Skew_Time."
