// Package runtimeapi serves HAProxy's runtime API text protocol (the
// "stats socket" commands: show stat, show info, disable server, set weight
// ...) so that socat one-liners, hatop, Ansible's haproxy module and
// prometheus-haproxy-exporter's unix: mode work against lbd unchanged.
//
// It shares lbd's control socket with lbctl's JSON-over-HTTP API: Sniff
// tells the two apart by the first bytes of each connection (an HTTP
// request starts with an upper-case method token, runtime API commands are
// lower case) and hands the HTTP connections to the control server.
//
// Files: backend.go (what the daemon provides, levels), session.go
// (connection loop, prompt mode, limits), parse.go (line
// splitting), commands.go (the command table, help, unknown commands),
// admin.go (server changes and weights), show_stat.go, show_info.go,
// show_servers.go, show_misc.go (output formats), sniff.go (protocol
// detection on the shared socket). Every change goes through Backend, the
// same daemon calls as `lbctl server ...`.
package runtimeapi
