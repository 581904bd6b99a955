// Package logs formats and ships lbd's logs: HAProxy-compatible access-log
// lines (option httplog / tcplog) and the syslog transport (RFC 3164 over UDP
// or a unix socket, or stdout) behind a bounded, non-blocking queue.
package logs
