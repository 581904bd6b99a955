// Package loadclient holds what the bench's own load clients
// (bench/idleconns, bench/kaspread) share: the loopback-only guard on the
// address they are pointed at, and raising their own descriptor limit.
package loadclient
