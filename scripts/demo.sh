#!/usr/bin/env bash
# make demo: the two-node lab. Builds, inside throw-away network namespaces
# that are never connected to the host's network:
#
#   client 10.10.0.50 ──┐
#   lb1    10.10.0.10 ──┤  bridge   VIP 10.10.0.100 (VRRP VRID 51)
#   lb2    10.10.0.20 ──┤  (own     web01 10.10.0.11, web02 10.10.0.12,
#   web01/web02/static ─┘  netns)   static01 10.10.0.13, web03 10.10.0.14
#
# Both lbd nodes run packaging/lbd.yaml (lb2 with priority 100) with a pair
# section, paired with lbctl pair init/join. The demo shows the pair view,
# adds web03 on lb1 only and pushes it to lb2 (lbctl config push), sends
# traffic through the VIP, kills the master with SIGKILL while a client
# keeps asking (lb2 then serves web03 too), prints the takeover the client
# saw, then cleans everything up (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces): sudo make demo" >&2; exit 1; }

. scripts/lab.sh
P="lbdemo$(printf '%04x' $((RANDOM % 65536)))"   # unique per run
RUN=$(mktemp -d "/tmp/$P.XXXX")
declare -A ADDR=([lb1]=10.10.0.10 [lb2]=10.10.0.20 [web01]=10.10.0.11 [web02]=10.10.0.12 [static01]=10.10.0.13 [web03]=10.10.0.14 [client]=10.10.0.50)
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

say "building the lab ($P-*: lb1 lb2 web01 web02 static01 web03 client)"
go build -o "$RUN/demo" ./internal/lab/demo
lab_up "$P" lb1=10.10.0.10/24 lb2=10.10.0.20/24 web01=10.10.0.11/24 web02=10.10.0.12/24 static01=10.10.0.13/24 web03=10.10.0.14/24 client=10.10.0.50/24

say "starting four demo backends (web03 is in no config yet)"
for n in web01 web02 static01 web03; do
	ip netns exec "$P-$n" "$RUN/demo" backend -listen "${ADDR[$n]}:80" -name "$n" >"$RUN/$n.log" 2>&1 &
	PIDS+=($!)
done

say "starting lbd on lb1 (priority 101) and lb2 (priority 100) with packaging/lbd.yaml"
for n in lb1 lb2; do
	prio=101; [ "$n" = lb2 ] && prio=100
	sed -e "s/priority: 101/priority: $prio/" \
	    -e "s#/run/lbd/lbd.sock#$RUN/$n.sock#" \
	    packaging/lbd.yaml >"$RUN/$n.yaml"
	printf 'pair:\n  listen: %s:7946\n  state_dir: %s\n  interval: 200ms\n' "${ADDR[$n]}" "$RUN/$n" >>"$RUN/$n.yaml"
	bin/lbd check -c "$RUN/$n.yaml" >/dev/null
	ip netns exec "$P-$n" bin/lbd run -c "$RUN/$n.yaml" >"$RUN/$n.log" 2>&1 &  # $! is lbd itself
	PIDS+=($!)
done
LB1_PID=${PIDS[-2]}

say "pairing the nodes: lbctl pair init on lb1, lbctl pair join on lb2 and on lb1"
T1=$(bin/lbctl pair init --config "$RUN/lb1.yaml" 2>/dev/null)
T2=$(bin/lbctl pair join --config "$RUN/lb2.yaml" "$T1" 2>/dev/null)
bin/lbctl pair join --config "$RUN/lb1.yaml" "$T2" >/dev/null 2>&1
echo "lb1: $T1"
echo "lb2: $T2"

state() { bin/lbctl --socket "$RUN/$1.sock" status --json 2>/dev/null | grep -m1 '"state": "\(MASTER\|BACKUP\|INIT\|FAULT\)"' | sed 's/.*"state": "\([A-Z]*\)".*/\1/'; }
for _ in $(seq 1 100); do
	[ "$(state lb1)" = MASTER ] && [ "$(state lb2)" = BACKUP ] && break
	sleep 0.1
done
echo "lb1: $(state lb1)   lb2: $(state lb2)"

linkup() { bin/lbctl --socket "$RUN/$1.sock" status --json 2>/dev/null | grep -q '"link": "up"'; }
for _ in $(seq 1 100); do linkup lb1 && linkup lb2 && break; sleep 0.1; done

say "lbctl status on lb1: this node, and lb2 in the PAIR section"
bin/lbctl --socket "$RUN/lb1.sock" status

say "configure one node: add web03 to lb1's file, lbctl reload, lbctl config push"
sed -i 's#^  - name: static$#      - name: web03\n        address: 10.10.0.14:80\n        check: true\n        cookie: s3\n  - name: static#' "$RUN/lb1.yaml"
bin/lbctl --socket "$RUN/lb1.sock" reload
bin/lbctl --socket "$RUN/lb1.sock" config push
bin/lbctl --socket "$RUN/lb1.sock" config diff && echo "(lbctl config diff: nothing differs)"

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

grep -q "web03" "$RUN/client.out" && echo "lb2 served web03, which was configured on lb1 only and pushed" || echo "demo: WARNING: lb2 did not serve web03"

say "lbctl status on lb2 (the survivor)"
bin/lbctl --socket "$RUN/lb2.sock" status
