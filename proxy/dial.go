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
//
// The destination is kept in the raw form connect(2) takes, built once and
// only read afterwards: a shared unix.Sockaddr is not safe for concurrent
// dials (unix.Connect writes its raw form into it on every call, a data
// race the race detector reports).
type dialAddr struct {
	family int                 // unix.AF_INET or unix.AF_INET6; 0: use net.Dialer
	sa     unix.RawSockaddrAny // destination
	saLen  uintptr             // the length of its AF_INET or AF_INET6 form
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
	var da dialAddr
	var port *uint16
	if a.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&da.sa))
		sa.Family, sa.Addr, port = unix.AF_INET, a.As4(), &sa.Port
		da.family, da.saLen = unix.AF_INET, unix.SizeofSockaddrInet4
	} else {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&da.sa))
		sa.Family, sa.Addr, port = unix.AF_INET6, a.As16(), &sa.Port
		da.family, da.saLen = unix.AF_INET6, unix.SizeofSockaddrInet6
	}
	p := (*[2]byte)(unsafe.Pointer(port)) // network byte order
	p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
	return da
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
	// Raw calls, as for reads and writes (rawio.go): none of them blocks,
	// and a connect on loopback runs the whole handshake before returning.
	r, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(da.family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if e != 0 {
		return nil, fmt.Errorf("dial %s: socket: %w", addr, e)
	}
	fd := int(r)
	one := int32(1)
	if _, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, r, unix.IPPROTO_TCP, unix.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("dial %s: setsockopt: %w", addr, e)
	}
	for {
		_, _, e = unix.RawSyscall(unix.SYS_CONNECT, r, uintptr(unsafe.Pointer(&da.sa)), da.saLen)
		if e != unix.EINTR {
			break
		}
	}
	pending := false
	switch e {
	case 0, unix.EISCONN:
	case unix.EINPROGRESS, unix.EALREADY:
		pending = true
	default:
		unix.Close(fd)
		return nil, fmt.Errorf("dial %s: connect: %w", addr, e)
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
	if ts, ok := c.(tlsServer); ok {
		return ts.CloseWrite() // close_notify
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
