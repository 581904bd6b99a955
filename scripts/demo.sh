#!/usr/bin/env bash
# make demo: the two-node lab. Builds, inside throw-away network namespaces
# that are never connected to the host's network:
#
#   client 10.10.0.50 ──┐
#   lb1    10.10.0.10 ──┤  bridge   VIP 10.10.0.100 (VRRP VRID 51)
#   lb2    10.10.0.20 ──┤  (own     web01 10.10.0.11, web02 10.10.0.12,
#   web01/web02/static ─┘  netns)   static01 10.10.0.13
#
# Both lbd nodes run packaging/lbd.yaml (lb2 with priority 100). The demo
# sends traffic through the VIP, kills the master with SIGKILL while a client
# keeps asking, prints the takeover the client saw, then cleans everything up
# (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces): sudo make demo" >&2; exit 1; }

. scripts/lab.sh
P="lbdemo$(printf '%04x' $((RANDOM % 65536)))"   # unique per run
RUN=$(mktemp -d "/tmp/$P.XXXX")
declare -A ADDR=([lb1]=10.10.0.10 [lb2]=10.10.0.20 [web01]=10.10.0.11 [web02]=10.10.0.12 [static01]=10.10.0.13 [client]=10.10.0.50)
PIDS=()

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	lab_down
	rm -rf "$RUN"
	echo "demo: cleaned up namespaces $P-*"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
inns() { lab_exec "$@"; }

say "building the lab ($P-*: lb1 lb2 web01 web02 static01 client)"
go build -o "$RUN/demo" ./internal/lab/demo
lab_up "$P" lb1=10.10.0.10/24 lb2=10.10.0.20/24 web01=10.10.0.11/24 web02=10.10.0.12/24 static01=10.10.0.13/24 client=10.10.0.50/24

say "starting three demo backends"
for n in web01 web02 static01; do
	ip netns exec "$P-$n" "$RUN/demo" backend -listen "${ADDR[$n]}:80" -name "$n" >"$RUN/$n.log" 2>&1 &
	PIDS+=($!)
done

say "starting lbd on lb1 (priority 101) and lb2 (priority 100) with packaging/lbd.yaml"
for n in lb1 lb2; do
	prio=101; [ "$n" = lb2 ] && prio=100
	sed -e "s/priority: 101/priority: $prio/" \
	    -e "s#/run/lbd/lbd.sock#$RUN/$n.sock#" \
	    packaging/lbd.yaml >"$RUN/$n.yaml"
	bin/lbd check -c "$RUN/$n.yaml" >/dev/null
	ip netns exec "$P-$n" bin/lbd run -c "$RUN/$n.yaml" >"$RUN/$n.log" 2>&1 &  # $! is lbd itself
	PIDS+=($!)
done
LB1_PID=${PIDS[-2]}

state() { bin/lbctl --socket "$RUN/$1.sock" status --json 2>/dev/null | grep -m1 '"state": "\(MASTER\|BACKUP\|INIT\|FAULT\)"' | sed 's/.*"state": "\([A-Z]*\)".*/\1/'; }
for _ in $(seq 1 100); do
	[ "$(state lb1)" = MASTER ] && [ "$(state lb2)" = BACKUP ] && break
	sleep 0.1
done
echo "lb1: $(state lb1)   lb2: $(state lb2)"

say "lbctl status on lb1"
bin/lbctl --socket "$RUN/lb1.sock" status

say "traffic through the VIP from the client namespace"
inns client "$RUN/demo" client -url http://10.10.0.100/ -for 1.05s -every 100ms | tail -n 2
echo "(static content goes to the static backend by ACL:)"
inns client "$RUN/demo" client -url http://10.10.0.100/images/logo.png -for 0.25s -every 100ms | tail -n 1

say "killing the master (SIGKILL lb1) while the client sends a request every 10 ms"
inns client "$RUN/demo" client -url http://10.10.0.100/ -for 6s -every 10ms >"$RUN/client.out" 2>&1 &
CLIENT=$!
sleep 1.5
kill -9 "$LB1_PID"
KILLED=$(date +%s.%N)
for _ in $(seq 1 500); do [ "$(state lb2)" = MASTER ] && break; sleep 0.01; done
TOOK=$(awk -v a="$KILLED" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
wait "$CLIENT" || true
cat "$RUN/client.out"
echo "lb2 reports MASTER ${TOOK}s after the kill (Master_Down_Interval at 100ms VRRPv3 adverts, priority 100: 0.3s + 0.061s)"
grep -q "longest outage seen by the client: [0-9.]*ms$" "$RUN/client.out" && echo "client outage under one second" || echo "demo: WARNING: the client saw an outage of a second or more"

say "lbctl status on lb2 (the survivor)"
bin/lbctl --socket "$RUN/lb2.sock" status
