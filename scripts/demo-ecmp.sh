#!/usr/bin/env bash
# make demo-ecmp: two active lbd nodes behind a router with ECMP. Builds,
# inside throw-away network namespaces never connected to the host's network:
#
#   client 198.51.100.2 ── router 198.51.100.1 | 10.10.0.1 (BIRD 2, ECMP) ──┐
#   lb1 10.10.0.10 ──┤ bridge    both announce VIP 203.0.113.10/32 over BGP
#   lb2 10.10.0.20 ──┤           (AS 65001 -> router AS 65000)
#   web01/web02/static01 10.10.0.11-13
#
# Both lbd nodes run packaging/lbd.yaml with the vrrp section replaced by a
# bgp one. The demo shows the two next hops, sends traffic that lands on
# both nodes, stops lb1 gracefully (withdraw, drain, close) while a client
# keeps asking, then cleans everything up (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "make demo-ecmp needs root (network namespaces): sudo make demo-ecmp" >&2; exit 1; }
command -v bird >/dev/null || { echo "bird not found: apt-get install bird2 (make demo-ecmp installs it)" >&2; exit 1; }

. scripts/lab.sh
P="lbecmp$(printf '%04x' $((RANDOM % 65536)))"   # unique per run
RUN=$(mktemp -d "/tmp/$P.XXXX")
VIP=203.0.113.10
declare -A ADDR=([lb1]=10.10.0.10 [lb2]=10.10.0.20 [web01]=10.10.0.11 [web02]=10.10.0.12 [static01]=10.10.0.13)
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
lbctl() { local n=$1; shift; bin/lbctl --socket "$RUN/$n.sock" "$@"; }
hops() { inns router ip route show "$VIP" | grep -c nexthop || true; }
requests() { lbctl "$1" status --json | grep -m1 '"requests"' | tr -dc 0-9; }

say "building the lab ($P-*: router lb1 lb2 web01 web02 static01, client behind the router)"
go build -o "$RUN/demo" ./internal/lab/demo
lab_up "$P" router=10.10.0.1/24 lb1=10.10.0.10/24 lb2=10.10.0.20/24 web01=10.10.0.11/24 web02=10.10.0.12/24 static01=10.10.0.13/24
ip netns add "$P-client"
LAB_NODES+=(client)
ip -n "$P-router" link add rc0 type veth peer name eth0 netns "$P-client"
ip -n "$P-router" addr add 198.51.100.1/24 dev rc0
ip -n "$P-router" link set rc0 up
ip -n "$P-client" addr add 198.51.100.2/24 dev eth0
ip -n "$P-client" link set eth0 up
ip -n "$P-client" link set lo up
ip -n "$P-client" route add default via 198.51.100.1
inns router sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1

say "starting BIRD 2 on the router: eBGP with lb1 and lb2, merge paths (ECMP)"
cat >"$RUN/bird.conf" <<BIRD
router id 10.10.0.1;
protocol device { scan time 1; }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
template bgp lbd {
  local 10.10.0.1 as 65000;
  ipv4 { import all; export none; };
  hold time 3; keepalive time 1; connect retry time 1; passive on; graceful restart on;
}
protocol bgp lb1 from lbd { neighbor 10.10.0.10 as 65001; }
protocol bgp lb2 from lbd { neighbor 10.10.0.20 as 65001; }
BIRD
inns router bird -f -c "$RUN/bird.conf" -s "$RUN/bird.ctl" -P "$RUN/bird.pid" >"$RUN/bird.log" 2>&1 &
PIDS+=($!)

say "starting three demo backends"
for n in web01 web02 static01; do
	ip netns exec "$P-$n" "$RUN/demo" backend -listen "${ADDR[$n]}:80" -name "$n" >"$RUN/$n.log" 2>&1 &
	PIDS+=($!)
done

say "starting lbd on lb1 and lb2: packaging/lbd.yaml with a bgp section instead of vrrp"
for n in lb1 lb2; do
	inns "$n" ip route add 198.51.100.0/24 via 10.10.0.1
	awk '/^vrrp:/{skip=1; next} /^[a-z]/{skip=0} !skip' packaging/lbd.yaml |
		sed -e "s#/run/lbd/lbd.sock#$RUN/$n.sock#" >"$RUN/$n.yaml"
	cat >>"$RUN/$n.yaml" <<YAML
bgp:
  asn: 65001
  router_id: ${ADDR[$n]}
  prefixes: [$VIP/32]
  drain: 2s
  graceful_restart: 10s
  neighbors:
    - {address: 10.10.0.1, asn: 65000, hold_time: 3s, keepalive: 1s, connect_retry: 1s}
YAML
	bin/lbd check -c "$RUN/$n.yaml" >/dev/null
	ip netns exec "$P-$n" bin/lbd run -c "$RUN/$n.yaml" >"$RUN/$n.log" 2>&1 &  # $! is lbd itself
	PIDS+=($!)
done
LB1_PID=${PIDS[-2]}

for _ in $(seq 1 100); do [ "$(hops)" = 2 ] && break; sleep 0.1; done
say "the router's view: two BGP paths, one ECMP route with $(hops) next hops"
birdc -s "$RUN/bird.ctl" show route for "$VIP"
inns router ip route show "$VIP"

say "lbctl status on lb1"
lbctl lb1 status

say "traffic from the client (a new connection per request: the router hashes each one)"
inns client "$RUN/demo" client -url "http://$VIP/" -for 1.05s -every 10ms | tail -n 1
echo "requests served: lb1 $(requests lb1), lb2 $(requests lb2)"

say "graceful stop of lb1 (SIGTERM: withdraw, drain 2s, close) while the client sends a request every 10 ms"
inns client "$RUN/demo" client -url "http://$VIP/" -for 5s -every 10ms >"$RUN/client.out" 2>&1 &
CLIENT=$!
sleep 1
B1=$(requests lb2)
kill -TERM "$LB1_PID"
STOPPED=$(date +%s.%N)
for _ in $(seq 1 300); do [ "$(hops)" = 0 ] && break; sleep 0.01; done
TOOK=$(awk -v a="$STOPPED" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
wait "$CLIENT" || true
grep -v "ok=" "$RUN/client.out" || true
echo "the router had one next hop left ${TOOK}s after SIGTERM:"
inns router ip route show "$VIP"
echo "lb2 served $(( $(requests lb2) - B1 )) requests after the stop began"
echo "(requests that start after the withdraw never fail; one in flight at the route switch can: docs/scale-out.md)"

say "lbctl status on lb2 (the survivor)"
lbctl lb2 status
