package main

import (
	"syscall"
	"unsafe"
)

// Raw socket calls shared by both engines, copied from lbd's mode tcp copy
// (proxy/tcpraw.go): recvmsg(2) with TCP_INQ, so that a short read with
// nothing left queued proves the socket drained without a read that returns
// EAGAIN, and sendto(2) with MSG_NOSIGNAL.

const tcpInq = 36 // TCP_INQ and TCP_CM_INQ

// inqRecv holds recvmsg's arguments so that a read allocates nothing.
type inqRecv struct {
	iov  syscall.Iovec
	msg  syscall.Msghdr
	cbuf [3]uint64
	on   bool
}

func (r *inqRecv) enable(fd int) {
	r.on = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, tcpInq, 1) == nil
}

// recv reads into p (len(p) > 0); inq is what is still queued after the
// read (1 or more at a FIN), -1 when unknown.
func (r *inqRecv) recv(fd int, p []byte) (n, inq int, err error) {
	if !r.on {
		v, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != 0 {
			return -1, -1, e
		}
		return int(v), -1, nil
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

// sysSend is send(2) with MSG_NOSIGNAL on a non-blocking socket.
func sysSend(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
