// Package pair is the link between the two lbd nodes of a pair: mutual TLS
// 1.3 over TCP carrying HTTP/1.1, each node identified by a self-signed
// ECDSA P-256 certificate whose SHA-256 fingerprint the other node pins (no
// CA). Over it each node sends its presence (version, uptime, VRRP states,
// server health, config file hash) every interval, and serves its config
// file for `lbctl config diff`. Nothing it does is on the VRRP path: the
// link runs in its own goroutines, every call has a deadline, and callers
// only read a snapshot (Status).
package pair
