// Package upgrade moves a running lbd to a new binary without closing its
// listening sockets (a binary upgrade, as HAProxy's -sf or nginx's USR2).
//
// cloudflare/tableflip starts the new process, waits for it to say it is
// ready (or kills it after a timeout) and tells the old one to exit. The
// sockets themselves do not go through tableflip's Fds, which keep every
// socket ever registered open for the life of the process (a bind removed
// by a reload would stay bound): at each upgrade the old process sends the
// listeners it has open at that moment over a SOCK_SEQPACKET socketpair
// with SCM_RIGHTS, keyed like the proxy's binds ("tcp4|10.0.0.1:80",
// "unix|/run/lbd/lbd.sock"). The same link then carries the new process's
// PID back and, once it is ready, the old process's last words: the VRRP
// states it detached from, so the new one resumes them.
package upgrade
