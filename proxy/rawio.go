//go:build !race

package proxy

import (
	"syscall"
	"unsafe"
)

// The forwarding path reads and writes its non-blocking sockets with raw
// system calls (syscall.RawSyscall), not syscall.Read/Write.
//
// syscall.Read and Write tell the Go scheduler that the goroutine enters a
// system call (entersyscall). That wakes the runtime's monitor thread
// (sysmon) when it sleeps, and a call that lasts longer than one of its
// 20 us ticks while other goroutines are runnable - a write on loopback
// runs the receiver's TCP processing inline, so it often does - makes
// sysmon hand the processor to another thread; the goroutine that made the
// call then waits in the global run queue. With GOMAXPROCS=1 this cost
// lbd about twice HAProxy's context switches and a p99 latency 1.2-1.6x
// HAProxy's (docs/proxy.md, "Raw system calls").
//
// A non-blocking socket call never waits (EAGAIN instead), so it needs
// none of that bookkeeping. These helpers are only called with a file
// descriptor held by the caller: inside a RawConn.Read or RawConn.Write
// callback, which keeps the descriptor from being closed and reused.
//
// Race-detector builds use syscall.Read and Write instead (rawio_race.go):
// those tell the detector that a write to a descriptor happens before a
// read of it, which tests rely on (a test writes to a socket, then reads
// state the proxy set after reading it).

// sysRead reads a non-blocking socket with recvfrom(2) (no address),
// and sysWrite writes it with sendto(2) and MSG_NOSIGNAL: both reach the
// socket layer directly, where read(2) and write(2) first go through the
// VFS (the file position lock, rw_verify_area, the iterator wrappers):
// about 0.9 us of kernel time per request in bench case (a), as perf
// counted it in vfs_read, vfs_write, fdget_pos and sock_read_iter/
// sock_write_iter (mode tcp's copy already used recvmsg and sendto,
// tcpraw.go). MSG_NOSIGNAL: a write to a connection the peer reset fails
// with EPIPE without raising SIGPIPE. A descriptor that is not a socket
// (ENOTSOCK) is read and written with read(2) and write(2).
func sysRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	if e == syscall.ENOTSOCK {
		r, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	}
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// sysWrite: see sysRead.
func sysWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	if e == syscall.ENOTSOCK {
		r, _, e = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	}
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
