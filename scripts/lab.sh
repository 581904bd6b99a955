# shellcheck shell=bash
# lab.sh — sourced by scripts/demo.sh and bench/failover.sh. Builds an L2
# lab of network namespaces on a private bridge (the bridge lives in its
# own namespace; nothing touches the host's network) and tears it down.
#
#   lab_up PREFIX node=addr/len ...   e.g. lab_up lbdemo1234 lb1=10.10.0.10/24 client=10.10.0.50/24
#   lab_exec NODE cmd ...             run inside NODE
#   lab_down                          delete every namespace (idempotent)
# Each node gets eth0 with its address; LAB_PREFIX and LAB_NODES are set.

LAB_PREFIX=""
LAB_NODES=()

lab_up() {
	LAB_PREFIX=$1; shift
	ip netns add "$LAB_PREFIX-sw"
	ip -n "$LAB_PREFIX-sw" link add br0 type bridge mcast_snooping 0
	ip -n "$LAB_PREFIX-sw" link set br0 up
	local i=0 spec n a
	for spec in "$@"; do
		n=${spec%%=*}; a=${spec#*=}
		ip netns add "$LAB_PREFIX-$n"
		LAB_NODES+=("$n")
		ip link add "${LAB_PREFIX}v$i" type veth peer name "${LAB_PREFIX}p$i"
		ip link set "${LAB_PREFIX}v$i" netns "$LAB_PREFIX-$n"
		ip link set "${LAB_PREFIX}p$i" netns "$LAB_PREFIX-sw"
		ip -n "$LAB_PREFIX-sw" link set "${LAB_PREFIX}p$i" master br0 up
		ip -n "$LAB_PREFIX-$n" link set "${LAB_PREFIX}v$i" name eth0
		ip -n "$LAB_PREFIX-$n" addr add "$a" dev eth0
		ip -n "$LAB_PREFIX-$n" link set eth0 up
		ip -n "$LAB_PREFIX-$n" link set lo up
		i=$((i+1))
	done
}

lab_exec() { local n=$1; shift; ip netns exec "$LAB_PREFIX-$n" "$@"; }

# lab_down kills every process still inside the lab's namespaces (a process
# would outlive its deleted namespace), then deletes them.
lab_down() {
	local n pids
	for n in "${LAB_NODES[@]}" sw; do
		pids=$(ip netns pids "$LAB_PREFIX-$n" 2>/dev/null || true)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	done
	sleep 0.1
	for n in "${LAB_NODES[@]}" sw; do ip netns del "$LAB_PREFIX-$n" 2>/dev/null || true; done
	LAB_NODES=()
}
