#!/bin/bash
# netpoll-fifo.sh OUTDIR: write OUTDIR/overlay.json, a `go build -overlay`
# file that makes Go's netpoller hand ready goroutines to the scheduler in
# the order the kernel reported their events (FIFO), and print its path.
#
# Why: runtime.netpoll (runtime/netpoll_epoll.go) walks epoll_wait's events
# in order but pushes each woken goroutine onto a gList, which is a stack;
# the scheduler then runs the batch newest event first. When lbd is busy a
# poll returns tens of events, and the connection that became ready first
# waits for all the others: (a) seed's p99 was 1.17-1.34x HAProxy's, whose
# event loop serves events in order. Walking the events backwards gives the
# kernel's order; nothing else changes. See docs/proxy.md "Scheduling order".
#
# The copy is made from the toolchain that builds, so it always matches its
# Go version. When the loop, toRun or gList.push no longer look as expected (a Go
# release changed them), it prints nothing and says why on stderr: the build
# goes on with the stock runtime. internal/build's TestNetpollFIFO checks
# the order a binary built with the overlay really gets.
# OUTDIR must be outside the module's packages (the Makefile uses
# bin/.netpoll-fifo: go ignores dot directories), or `go vet ./...` would
# try to compile the runtime copy as a package of lbd.
set -euo pipefail
GO=${GO:-go}
out=${1:?usage: netpoll-fifo.sh OUTDIR}
skip() { echo "netpoll-fifo: $*; building with the stock runtime" >&2; exit 0; }

goos=$("$GO" env GOOS)
[ "$goos" = linux ] || skip "not a linux build"
root=$("$GO" env GOROOT)
src=$root/src/runtime/netpoll_epoll.go
poll=$root/src/runtime/netpoll.go
proc=$root/src/runtime/proc.go
[ -r "$src" ] && [ -r "$poll" ] && [ -r "$proc" ] || skip "no runtime sources under $root"
loop=$'\tfor i := int32(0); i < n; i++ {'
[ "$(grep -cxF "$loop" "$src")" = 1 ] || skip "the event loop in $src is not the expected one"
grep -qF 'delta += netpollready(&toRun, pd, mode)' "$src" || skip "netpoll does not collect into toRun"
# toRun must be a gList that netpollready pushes onto: were it a queue
# (gQueue.pushBack), the stock order would already be the kernel's and
# the reversed walk would make it newest first.
grep -qxF $'\tvar toRun gList' "$src" || skip "netpoll's toRun in $src is not a gList"
grep -qF 'func netpollready(toRun *gList, ' "$poll" && grep -qF 'toRun.push(' "$poll" &&
	! grep -qF 'toRun.pushBack(' "$poll" || skip "netpollready in $poll does not push onto a gList"
# gList.push must put the goroutine at the head (a stack), or reversing the
# walk would make the order LIFO instead of FIFO.
grep -A2 -F 'func (l *gList) push(gp *g) {' "$proc" | grep -qF 'gp.schedlink = l.head' ||
	skip "gList.push in $proc is not a stack push"

mkdir -p "$out"
out=$(cd "$out" && pwd)
sed "s|^$loop\$|\tfor i := n - 1; i >= 0; i-- { // lbd (scripts/netpoll-fifo.sh): the kernel's order once toRun.push has stacked them|" \
	"$src" >"$out/netpoll_epoll.go"
json() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; } # a JSON string
printf '{"Replace": {%s: %s}}\n' "$(json "$src")" "$(json "$out/netpoll_epoll.go")" >"$out/overlay.json"
echo "$out/overlay.json"
