//go:build !race

package proxy

import (
	"syscall"
	"unsafe"
)

// The mode tcp copy (rawPipe in io.go) reads with recvmsg(2) and the
// TCP_INQ socket option, and writes with sendto(2) (sysWrite, rawio.go).
//
// With TCP_INQ set, every recvmsg also returns (in a control message) how
// many bytes are still queued on the socket after the read, and the
// kernel reports 1 there when the queue is empty but the peer's FIN has
// arrived. A short read with 0 still queued therefore proves that the
// socket is drained and not at end of stream: the copy can wait for the
// next readiness edge at once, without the extra read that returns EAGAIN
// (anything that arrives after the read raises an edge of its own). Without
// it the copy must read until EAGAIN, because a FIN queued together with
// the last data raises no edge of its own (see rawPipe.step). That extra
// read was one of three system calls per message and direction; HAProxy
// makes two (it sees the FIN in the epoll event, EPOLLRDHUP, which Go's
// poller does not pass on).
//
// sendto and recvmsg reach the socket layer directly; read and write go
// through the VFS first (file position lock, rw_verify_area), which cost
// about 2% of the proxy's CPU in mode tcp (perf, docs/proxy.md).
//
// Race-detector builds use read/write (tcpraw_race.go), like rawio.go.

// tcpInq is TCP_INQ (and TCP_CM_INQ, the control message's type).
const tcpInq = 36

// inqRecv holds recvmsg's arguments so that a read allocates nothing.
type inqRecv struct {
	iov  syscall.Iovec
	msg  syscall.Msghdr
	cbuf [3]uint64 // one control message with an int32: 16 + 4 bytes, 8-aligned
	on   bool      // TCP_INQ is set on the socket
}

// enable sets TCP_INQ on fd; a socket that is not TCP keeps on false and
// the copy reads until EAGAIN.
func (r *inqRecv) enable(fd int) {
	r.on = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, tcpInq, 1) == nil
}

// recv reads into p (len(p) > 0). inq is what TCP_INQ reports still
// queued after the read (1 or more at a FIN), or -1 when unknown.
func (r *inqRecv) recv(fd int, p []byte) (n, inq int, err error) {
	if !r.on {
		n, err = sysRead(fd, p)
		return n, -1, err
	}
	r.iov.Base = &p[0]
	r.iov.SetLen(len(p))
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
	r.msg.Control = (*byte)(unsafe.Pointer(&r.cbuf[0]))
	r.msg.SetControllen(int(unsafe.Sizeof(r.cbuf)))
	r.msg.Flags = 0
	v, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.msg)), 0)
	r.iov.Base = nil
	if e != 0 {
		return -1, -1, e
	}
	inq = -1
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&r.cbuf[0]))
	if r.msg.Controllen >= syscall.SizeofCmsghdr+4 && h.Level == syscall.IPPROTO_TCP && h.Type == tcpInq {
		inq = int(*(*int32)(unsafe.Pointer(uintptr(unsafe.Pointer(&r.cbuf[0])) + syscall.SizeofCmsghdr)))
	}
	return int(v), inq, nil
}

// inqOn tells whether TCP_INQ is in use (tests).
func (r *inqRecv) inqOn() bool { return r.on }
