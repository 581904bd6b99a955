package main

import (
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loop engine: one goroutine owns an epoll instance in which every
// socket is registered: the listening socket (level-triggered) and, per
// session, the accepted client and the dialed server socket
// (edge-triggered EPOLLIN|EPOLLRDHUP, EPOLLOUT added only while a write is
// short). All sockets are created with raw system calls (socket, bind,
// listen, accept4, connect) and never enter Go's poller, so nothing is
// registered twice and no descriptor is taken out of Go's poller (which
// would cost an epoll_ctl DEL per socket). On each readiness the loop
// reads with recvmsg until the socket is drained and writes with sendto,
// as the goroutines engine does, but without a goroutine per direction.
//
// How the loop waits (-wait):
//   - park: the epoll descriptor is itself registered with Go's poller
//     (as proxy/idlepoll.go does); the goroutine calls epoll_wait with
//     timeout 0 inside RawConn.Read and parks there when nothing is ready.
//     -spin N: after a batch, up to N more epoll_wait(0) calls that find
//     nothing before parking.
//   - block: the goroutine blocks in epoll_wait itself (HAProxy's model:
//     one epoll_wait per batch and nothing else); Go's own poller then
//     has nothing registered. Through unix.EpollWait (Syscall6): the
//     runtime knows the thread is in a system call.
//   - raw: as block, through RawSyscall6: the runtime does not know the
//     thread blocks (no entersyscall/exitsyscall, no P handed off). Not
//     viable in a real program (a stop-the-world GC, timers and any other
//     goroutine wait until epoll_wait returns); a lower bound for the loop.
//
// No timeouts: lbd arms per-socket deadlines; here they would be a clock
// read per batch plus a timer wheel or heap on the sessions' last
// activity, scanned once per batch (see README.md).

// lside is one socket of a session.
type lside struct {
	fd      int
	peer    *lside
	s       *lsess
	in      inqRecv
	pend    []byte  // bytes from peer not yet written to fd
	pbuf    *[]byte // backs pend
	eof     bool    // fd has read its end of stream
	shut    bool    // SHUT_WR is due on fd once pend is written
	blocked bool    // reading fd waits for peer's pend to drain
	out     bool    // EPOLLOUT is registered on fd
}

type lsess struct {
	c, s       lside
	connecting bool
	closed     bool
}

type loop struct {
	epfd     int
	lfd      int
	backends []unix.SockaddrInet4
	rr       int
	byFD     []*lside
	evs      []unix.EpollEvent
	buf      []byte
	spin     int
}

const evIn = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

func serveLoop(listen string, backends []string, wait string, spin int) error {
	l := &loop{spin: spin, evs: make([]unix.EpollEvent, 256), buf: make([]byte, bufSize)}
	for _, b := range backends {
		ap, err := netip.ParseAddrPort(b)
		if err != nil || !ap.Addr().Is4() {
			return fmt.Errorf("backend %q: want an IPv4 address:port", b)
		}
		l.backends = append(l.backends, unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil || !ap.Addr().Is4() {
		return fmt.Errorf("listen %q: want an IPv4 address:port", listen)
	}
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fmt.Errorf("listen: bind: %w", err)
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	l.lfd = lfd
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	switch wait {
	case "block":
		empty := 0
		for {
			timeout := -1
			if empty < l.spin {
				timeout = 0
			}
			n, err := unix.EpollWait(l.epfd, l.evs, timeout)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("epoll_wait: %w", err)
			}
			if n == 0 {
				empty++
				continue
			}
			empty = 0
			l.handle(n)
		}
	case "raw":
		for {
			r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.evs[0])), uintptr(len(l.evs)), ^uintptr(0), 0, 0)
			if e == unix.EINTR {
				continue
			}
			if e != 0 {
				return fmt.Errorf("epoll_wait: %w", e)
			}
			l.handle(int(r))
		}
	case "park":
		if err := unix.SetNonblock(l.epfd, true); err != nil {
			return err
		}
		f := os.NewFile(uintptr(l.epfd), "epoll")
		rc, err := f.SyscallConn()
		if err != nil {
			return err
		}
		for {
			if err := rc.Read(l.poll); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("unknown -wait %q", wait)
}

// poll runs inside RawConn.Read on the epoll descriptor; false parks until
// Go's poller sees it readable.
func (l *loop) poll(uintptr) bool {
	empty := 0
	for {
		n, err := unix.EpollWait(l.epfd, l.evs, 0)
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			l.handle(n)
			empty = 0
			if l.spin == 0 && n < len(l.evs) {
				return false
			}
			continue
		}
		if empty >= l.spin {
			return false
		}
		empty++
	}
}

func (l *loop) handle(n int) {
	for i := range l.evs[:n] {
		ev := &l.evs[i]
		fd := int(ev.Fd)
		if fd == l.lfd {
			l.accept()
			continue
		}
		if fd >= len(l.byFD) || l.byFD[fd] == nil {
			continue
		}
		x := l.byFD[fd]
		if ev.Events&unix.EPOLLOUT != 0 && !l.writable(x) {
			continue
		}
		if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !x.s.closed {
			l.read(x)
		}
	}
}

func (l *loop) accept() {
	for {
		cfd, _, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		sfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			unix.Close(cfd)
			continue
		}
		// TCP_NODELAY on both, as Go's net package and HAProxy set.
		unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		unix.SetsockoptInt(sfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		sa := &l.backends[l.rr%len(l.backends)]
		l.rr++
		s := &lsess{}
		s.c = lside{fd: cfd, s: s}
		s.s = lside{fd: sfd, s: s}
		s.c.peer, s.s.peer = &s.s, &s.c
		s.c.in.enable(cfd)
		s.s.in.enable(sfd)
		err = unix.Connect(sfd, sa)
		switch err {
		case nil:
		case unix.EINPROGRESS:
			s.connecting = true
			s.c.blocked = true
			s.s.out = true
		default:
			unix.Close(cfd)
			unix.Close(sfd)
			continue
		}
		l.set(cfd, &s.c)
		l.set(sfd, &s.s)
		ce := evIn
		se := evIn
		if s.s.out {
			se |= unix.EPOLLOUT
		}
		if unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, cfd, &unix.EpollEvent{Events: uint32(ce), Fd: int32(cfd)}) != nil ||
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, sfd, &unix.EpollEvent{Events: uint32(se), Fd: int32(sfd)}) != nil {
			l.close(s)
		}
	}
}

func (l *loop) set(fd int, x *lside) {
	if fd >= len(l.byFD) {
		t := make([]*lside, 2*fd+64)
		copy(t, l.byFD)
		l.byFD = t
	}
	l.byFD[fd] = x
}

// writable handles EPOLLOUT on x: a finished connect or room for x.pend.
// False: the session is closed.
func (l *loop) writable(x *lside) bool {
	s := x.s
	if s.closed {
		return false
	}
	if s.connecting && x == &s.s {
		if e, err := unix.GetsockoptInt(x.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
			l.close(s)
			return false
		}
		s.connecting = false
		l.setOut(x, false)
		s.c.blocked = false
		l.read(&s.c)
		return !s.closed
	}
	if len(x.pend) == 0 {
		return true
	}
	if !l.flush(x) {
		return false
	}
	if len(x.pend) == 0 {
		l.setOut(x, false)
		if x.shut {
			unix.Shutdown(x.fd, unix.SHUT_WR)
			x.shut = false
		}
		if x.peer.blocked {
			x.peer.blocked = false
			l.read(x.peer)
		}
	}
	return !s.closed
}

// flush writes x.pend to x.fd until done or EAGAIN; false: closed.
func (l *loop) flush(x *lside) bool {
	for len(x.pend) > 0 {
		n, err := sysSend(x.fd, x.pend)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return true
		}
		if err != nil {
			l.close(x.s)
			return false
		}
		x.pend = x.pend[n:]
	}
	bufPool.Put(x.pbuf)
	x.pbuf, x.pend = nil, nil
	return true
}

func (l *loop) setOut(x *lside, on bool) {
	if x.out == on {
		return
	}
	x.out = on
	ev := uint32(evIn)
	if on {
		ev |= unix.EPOLLOUT
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, x.fd, &unix.EpollEvent{Events: ev, Fd: int32(x.fd)})
}

// read copies from x.fd to its peer until x.fd is drained or the peer
// cannot take more.
func (l *loop) read(x *lside) {
	s := x.s
	dst := x.peer
	if x.eof || x.blocked {
		return
	}
	if len(dst.pend) > 0 {
		x.blocked = true
		return
	}
	for {
		n, inq, err := x.in.recv(x.fd, l.buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			l.close(s)
			return
		}
		if n == 0 {
			x.eof = true
			if x.peer.eof {
				l.close(s)
				return
			}
			if len(dst.pend) > 0 {
				dst.shut = true
			} else {
				unix.Shutdown(dst.fd, unix.SHUT_WR)
			}
			return
		}
		b := l.buf[:n]
		for len(b) > 0 {
			k, err := sysSend(dst.fd, b)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				l.close(s)
				return
			}
			b = b[k:]
		}
		if len(b) > 0 {
			dst.pbuf = bufPool.Get().(*[]byte)
			dst.pend = (*dst.pbuf)[:copy(*dst.pbuf, b)]
			l.setOut(dst, true)
			x.blocked = true
			return
		}
		if n < len(l.buf) && inq == 0 {
			return // drained, no FIN queued: the next arrival raises an edge
		}
	}
}

func (l *loop) close(s *lsess) {
	if s.closed {
		return
	}
	s.closed = true
	for _, x := range []*lside{&s.c, &s.s} {
		l.byFD[x.fd] = nil
		unix.Close(x.fd) // also leaves the epoll instance (no dup)
		if x.pbuf != nil {
			bufPool.Put(x.pbuf)
			x.pbuf, x.pend = nil, nil
		}
	}
}
