package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	proxyproto "github.com/pires/go-proxyproto"
	"golang.org/x/sys/unix"
)

// PROXY protocol (haproxy.org/download/2.9/doc/proxy-protocol.txt), both
// ways. In: a frontend with AcceptProxy reads the header once per
// connection, before anything else, and takes its source address as the
// client's (ACLs, balance source, X-Forwarded-For, logs). Out: a server with
// SendProxy gets a header naming the client before the first request.
//
// The header is read without consuming a byte past it: the connection's
// goroutine peeks (recv MSG_PEEK) until the whole header is in the socket
// buffer, then reads exactly its length. Whatever the client sent after it
// stays in the socket for the raw-fd request loop (rawio.go) or splice(2)
// in mode tcp, so neither needs to know a header was there. Parsing is done
// by github.com/pires/go-proxyproto on the exact header bytes; it runs once
// per connection, on accept-proxy binds only (the request path is unchanged).

// AcceptProxy makes a frontend's connections start with a PROXY protocol
// header (v1 or v2), as HAProxy's `bind ... accept-proxy`.
type AcceptProxy struct {
	// From lists the sources (CIDR or address) that must send a header;
	// connections from other sources are served as direct clients (their
	// peer address is the client, no header is expected: HAProxy's
	// `tcp-request connection expect-proxy layer4 if { src ... }`). Empty:
	// every connection must send one.
	From []string
}

// Versions of the PROXY protocol header sent to a server (Server.SendProxy).
const (
	// SendProxyV1 is the text header (HAProxy's send-proxy).
	SendProxyV1 = 1
	// SendProxyV2 is the binary header (send-proxy-v2).
	SendProxyV2 = 2
)

// maxProxyHeader bounds a v2 header (16 bytes plus addresses and TLVs);
// longer ones close the connection. Load balancers' TLVs (AWS VPC endpoint
// ids, GCP PSC ids, SSL information) fit with room to spare.
const maxProxyHeader = 1024

// v1MaxLen is the longest v1 line, CRLF included (the specification's 107).
const v1MaxLen = 107

var (
	errPPMissing   = errors.New("no PROXY protocol header")
	errPPTooLong   = errors.New("PROXY protocol header too long")
	errPPTruncated = errors.New("connection closed inside the PROXY protocol header")
	sigV2          = []byte("\r\n\r\n\x00\r\nQUIT\n")
	sigV1          = []byte("PROXY ")
)

type ppCfg struct {
	from []netip.Prefix // empty: every source
}

func compileAcceptProxy(ap *AcceptProxy) (*ppCfg, error) {
	if ap == nil {
		return nil, nil
	}
	p := &ppCfg{}
	for _, s := range ap.From {
		pf, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("accept_proxy from: %w", err)
		}
		p.from = append(p.from, pf)
	}
	return p, nil
}

// ppWait is a connection waiting for its PROXY header, tracked so that a
// hard stop closes it.
type ppWait struct{ c *net.TCPConn }

func (w ppWait) forceClose() { w.c.Close() }

// clientAddr returns the client address of a new connection: the peer's,
// or on an accept-proxy frontend the one its PROXY header names (dst is
// then the header's destination, else invalid). ok false: the header was
// missing or invalid; the connection was closed and counted.
func (e *Engine) clientAddr(c *net.TCPConn, fe *frontend) (src, dst netip.AddrPort, ok bool) {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		src = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if fe.pp == nil || (len(fe.pp.from) > 0 && !prefixesContain(fe.pp.from, src.Addr())) {
		return src, dst, true
	}
	to := fe.httpRequest
	if fe.mode == ModeTCP || to <= 0 {
		to = fe.client
	}
	w := ppWait{c}
	e.track(w)
	hs, hd, err := readProxyHeader(c, time.Now().Add(to))
	e.untrack(w)
	if err != nil {
		fe.st.errReq.Add(1)
		fe.st.ppErr.Add(1)
		e.log.Debug("PROXY protocol header refused", "frontend", fe.name, "client", src.String(), "err", err)
		c.Close()
		return src, dst, false
	}
	if hs.IsValid() {
		src, dst = hs, hd
	}
	return src, dst, true
}

// readProxyHeader reads one PROXY protocol header from c and nothing more.
// A LOCAL (v2) or UNKNOWN (v1) header returns invalid addresses: the
// connection's own apply.
func readProxyHeader(c *net.TCPConn, deadline time.Time) (src, dst netip.AddrPort, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return src, dst, err
	}
	c.SetReadDeadline(deadline)
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, maxProxyHeader)
	var n, need int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			m, e := peek(int(fd), buf)
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				return false
			}
			if e != nil {
				perr = e
				return true
			}
			if m == 0 {
				perr = errPPTruncated
				if n == 0 {
					perr = errPPMissing
				}
				return true
			}
			if m == n && peerClosed(fd) {
				// No new byte since the last wake-up, and the peer
				// has sent its FIN: the header will not complete.
				perr = errPPTruncated
				return true
			}
			n = m
			need, perr = proxyHeaderLen(buf[:n])
			if perr != nil || (need > 0 && n >= need) {
				if perr == nil {
					// Consume exactly the header; the rest stays queued.
					got, e := sysRead(int(fd), buf[:need])
					if e != nil || got != need {
						perr = fmt.Errorf("reading the PROXY protocol header: %v", e)
					}
				}
				return true
			}
			if n == len(buf) {
				perr = errPPTooLong
				return true
			}
			if peerClosed(fd) {
				// The FIN came with these bytes, before this callback
				// ran: no later wake-up will come for it.
				perr = errPPTruncated
				return true
			}
			return false // wait for more of the header
		}
	})
	if err != nil {
		return src, dst, fmt.Errorf("reading the PROXY protocol header: %w", err)
	}
	if perr != nil {
		return src, dst, perr
	}
	return parseProxyHeader(buf[:need])
}

// peek is recv(MSG_PEEK) on a non-blocking descriptor held by the caller.
func peek(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_PEEK, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// proxyHeaderLen returns the length of the header starting b, 0 when more
// bytes are needed to tell, or an error when b cannot start a valid one.
func proxyHeaderLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	switch b[0] {
	case 'P':
		k := min(len(b), len(sigV1))
		if !bytes.Equal(b[:k], sigV1[:k]) {
			return 0, errPPMissing
		}
		lim := min(len(b), v1MaxLen)
		if i := bytes.Index(b[:lim], []byte("\r\n")); i >= 0 {
			return i + 2, nil
		}
		if len(b) >= v1MaxLen {
			return 0, errPPTooLong
		}
		return 0, nil
	case '\r':
		k := min(len(b), len(sigV2))
		if !bytes.Equal(b[:k], sigV2[:k]) {
			return 0, errPPMissing
		}
		if len(b) < 16 {
			return 0, nil
		}
		n := 16 + (int(b[14])<<8 | int(b[15]))
		if n > maxProxyHeader {
			return 0, errPPTooLong
		}
		return n, nil
	}
	return 0, errPPMissing
}

// parseProxyHeader parses one complete header (exactly its bytes).
func parseProxyHeader(b []byte) (src, dst netip.AddrPort, err error) {
	h, err := proxyproto.Read(bufio.NewReaderSize(bytes.NewReader(b), max(len(b), 16)))
	if err != nil {
		return src, dst, fmt.Errorf("invalid PROXY protocol header: %w", err)
	}
	if _, err := h.TLVs(); err != nil {
		// A TLV longer than the header holds.
		return src, dst, fmt.Errorf("invalid PROXY protocol header: %w", err)
	}
	if h.Command.IsLocal() || h.TransportProtocol == proxyproto.UNSPEC {
		return src, dst, nil
	}
	s, d, ok := h.TCPAddrs()
	if !ok {
		// UDP or unix addresses: not a TCP client; use the connection's.
		return src, dst, nil
	}
	return tcpAddrPort(s), tcpAddrPort(d), nil
}

func tcpAddrPort(a *net.TCPAddr) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

// AppendProxyHeader appends a PROXY protocol header of version ver (1 or
// 2) naming src and dst to b. Invalid addresses give the v1 UNKNOWN line or
// the v2 LOCAL command (a connection made by the proxy itself, as health
// checks send). Mixed families are sent as IPv6 (IPv4-mapped).
func AppendProxyHeader(b []byte, ver int, src, dst netip.AddrPort) ([]byte, error) {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if !sa.IsValid() || !da.IsValid() {
		h := &proxyproto.Header{Version: byte(ver), Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
		out, err := h.Format()
		return append(b, out...), err
	}
	if sa.Is4() != da.Is4() {
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	h := proxyproto.HeaderProxyFromAddrs(byte(ver),
		&net.TCPAddr{IP: sa.AsSlice(), Port: int(src.Port())},
		&net.TCPAddr{IP: da.AsSlice(), Port: int(dst.Port())})
	out, err := h.Format()
	return append(b, out...), err
}

// sendProxyHeader writes the header of server s's SendProxy version on a
// new server connection, bounded by timeout.
func sendProxyHeader(sc conn, ver int, src, dst netip.AddrPort, timeout time.Duration) error {
	hdr, err := AppendProxyHeader(make([]byte, 0, 64), ver, src, dst)
	if err != nil {
		return fmt.Errorf("PROXY protocol header: %w", err)
	}
	sc.SetWriteDeadline(time.Now().Add(timeout))
	_, err = sc.Write(hdr)
	sc.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("sending the PROXY protocol header: %w", err)
	}
	return nil
}

// localAddr is the address c was accepted on.
func localAddr(c *net.TCPConn) netip.AddrPort {
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		return tcpAddrPort(a)
	}
	return netip.AddrPort{}
}

// orLocal is dst when valid, else c's local address.
func orLocal(dst netip.AddrPort, c *net.TCPConn) netip.AddrPort {
	if dst.IsValid() {
		return dst
	}
	return localAddr(c)
}

// peerClosed reports whether the peer has closed its side (TCP state
// CLOSE_WAIT): a peek cannot see a FIN behind queued bytes.
func peerClosed(fd uintptr) bool {
	ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	return err == nil && ti.State == unix.BPF_TCP_CLOSE_WAIT
}
