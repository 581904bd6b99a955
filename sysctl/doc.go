// Package sysctl applies the kernel and process tuning lbd needs: the
// table of sysctl settings selected by Options (ip_nonlocal_bind so a
// backup node can bind the VIP before it holds it, ip_forward, fs.file-max,
// nf_conntrack_max) and the process RLIMIT_NOFILE sized from maxconn.
//
// # Raise only
//
// Limits (fs.file-max, nf_conntrack_max, RLIMIT_NOFILE) are only ever
// raised: a configured minimum below the current value is a no-op reported
// as unchanged. Flags (ip_forward, ip_nonlocal_bind) are set to 1 when
// enabled in the config and left alone when disabled; lbd never writes 0.
//
// # Errors are warnings
//
// A key the kernel does not have (the nf_conntrack module is not loaded,
// IPv6 is disabled) or a read-only /proc/sys (a container) yields a
// Result with Warning set and naming the key; Apply never
// fails, so lbd starts anyway and the operator sees why in the log and in
// `lbctl status`.
//
// # Side effects behind interfaces
//
// State reads and writes keys: Proc is the /proc/sys implementation (rooted
// at a configurable directory so tests use a temp dir) and Fake an in-memory
// one whose String renders `net.ipv4.ip_forward = 1` lines. Rlimit reads
// and raises RLIMIT_NOFILE: ProcessRlimit for the real process, FakeRlimit
// for tests.
//
// net.* keys are per network namespace: a thread inside a namespace reads
// and writes that namespace's /proc/sys/net. fs.file-max and
// nf_conntrack_max are host-global. Writing needs CAP_SYS_ADMIN (root).
package sysctl
