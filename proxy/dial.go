package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// conn is a connection the forwarding code reads and writes: a client
// *net.TCPConn, or a server connection (*os.File from dialSock, or a
// *net.TCPConn from net.Dialer for host names and zoned IPv6 addresses).
type conn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	SyscallConn() (syscall.RawConn, error)
}

// dialAddr is a server address resolved once at config load.
type dialAddr struct {
	family int           // unix.AF_INET or unix.AF_INET6; 0: use net.Dialer
	sa     unix.Sockaddr // destination
}

// resolveDialAddr pre-builds the socket address of an IP-literal
// "host:port"; other addresses (host names, IPv6 zones) are left to
// net.Dialer.
func resolveDialAddr(addr string) dialAddr {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Addr().Zone() != "" {
		return dialAddr{}
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return dialAddr{family: unix.AF_INET, sa: &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}}
	}
	return dialAddr{family: unix.AF_INET6, sa: &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}}
}

// dialServer opens a connection to a server with the connect timeout.
//
// For IP literals it is a lean version of net.Dialer.Dial: one socket
// call (non-blocking, close-on-exec), TCP_NODELAY (as Go and HAProxy set),
// connect, registration with Go's poller (os.NewFile), then one
// getpeername to see whether the handshake already completed (on loopback
// it has, by the time connect returns) - instead of net.Dialer's address
// parsing, context and timer setup, goroutine park until writability,
// and its getsockopt/getpeername/getsockname calls after connecting.
func dialServer(addr string, da dialAddr, timeout time.Duration) (conn, error) {
	if da.family == 0 {
		// No TCP keepalive on server connections (HAProxy's default
		// without option srvtcpka).
		d := net.Dialer{Timeout: timeout, KeepAlive: -1}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
	fd, err := unix.Socket(da.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, fmt.Errorf("dial %s: socket: %w", addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dial %s: setsockopt: %w", addr, err)
	}
	for {
		err = unix.Connect(fd, da.sa)
		if err != unix.EINTR {
			break
		}
	}
	pending := false
	switch err {
	case nil, unix.EISCONN:
	case unix.EINPROGRESS, unix.EALREADY:
		pending = true
	default:
		unix.Close(fd)
		return nil, fmt.Errorf("dial %s: connect: %w", addr, err)
	}
	f := os.NewFile(uintptr(fd), addr)
	if !pending {
		return f, nil
	}
	if err := waitConnected(f, timeout); err != nil {
		f.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return f, nil
}

var errConnectTimeout = errors.New("connect timeout")

// waitConnected waits for a non-blocking connect to finish, up to timeout.
// The first check runs at once: a connection that is already established
// costs one getpeername and no wait.
func waitConnected(f *os.File, timeout time.Duration) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	armed := false
	var cerr error
	for {
		err = rc.Write(func(fd uintptr) bool {
			if connected(fd) {
				cerr = nil
				return true
			}
			n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			switch {
			case err != nil:
				cerr = fmt.Errorf("getsockopt: %w", err)
				return true
			case n != 0 && syscall.Errno(n) != unix.EINPROGRESS && syscall.Errno(n) != unix.EALREADY && syscall.Errno(n) != unix.EINTR:
				cerr = fmt.Errorf("connect: %w", syscall.Errno(n))
				return true
			}
			if !armed && timeout > 0 {
				// Still connecting: bound the wait by the connect
				// timeout (set once, only on this slow path).
				armed = true
				cerr = errRearm
				return true
			}
			return false // wait for writability
		})
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errConnectTimeout
			}
			return err
		}
		if cerr == errRearm {
			f.SetWriteDeadline(time.Now().Add(timeout))
			continue
		}
		if armed {
			f.SetWriteDeadline(time.Time{})
		}
		return cerr
	}
}

var errRearm = errors.New("rearm")

// connected reports whether the socket has a peer: one raw getpeername
// into a stack buffer (unix.Getpeername would allocate the address and
// add a getsockopt(SO_PROTOCOL) call).
func connected(fd uintptr) bool {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, fd, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	return e == 0
}

// closeWrite shuts down the writing side of c (a FIN to the peer).
func closeWrite(c conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}
