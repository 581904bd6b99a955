// Package vrrp implements the Virtual Router Redundancy Protocol that moves
// lbd's floating VIPs between two nodes: VRRPv3 (RFC 5798) for IPv4 and IPv6
// and VRRPv2 (RFC 3768) with optional simple-password authentication, wire
// compatible with keepalived.
//
// The package has four layers:
//
//   - the codec (Packet, Parse, Decode, Packet.Marshal), pure and fuzzed;
//   - the state machine (Machine), pure and clock-free: it takes a time and
//     an Event and returns Actions as data plus its next timer deadline;
//   - the transport (Conn), raw IP protocol 112 sockets behind a small
//     interface (Dial opens a real one);
//   - the driver (Node), which runs one instance from an InstanceConfig: it
//     reads adverts, feeds the Machine, executes its Actions through
//     vip.Manager and vip.Announcer, runs notify commands (notify.go) and the
//     GARP schedule (garp.go), and keeps the counters of its Status.
//
// InstanceConfig is trusted: lbd's config loader fills the defaults and
// checks the ranges; the package imports nothing of lbd's internals.
//
// # Privileges
//
// Dial needs CAP_NET_RAW (raw sockets); vip.Manager needs CAP_NET_ADMIN.
// Everything else runs unprivileged, and the tests use fakes.
//
// User-visible behaviour is documented in docs/vrrp.md.
package vrrp
