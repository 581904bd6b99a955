package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/certs"
)

// TLS client connections (binds with Frontend.TLS).
//
// The plain HTTP/1.1 loop (conn_h1.go) reads and writes the socket with raw
// system calls inside RawConn callbacks. A TLS connection cannot: its bytes
// go through crypto/tls (which itself reads and writes the socket raw,
// through rawSock: rawsock.go). It is served by the same request handling (parse,
// handle, the exchange, the downstream methods) through a loop of its own,
// chosen once per connection in serveConn: loopTLS/stepTLS below mirror
// loop/step with a blocking tls.Conn.Read under the same deadlines, and the
// connection's bufReader/bufWriter get the tls.Conn (through tlsClient) as
// their conn, so bodies and responses use the ordinary Read/Write path
// (bufWriter.held stays false: no raw write). The plain path gains no
// branch per request: the only test is a nil map check per accepted
// connection. An idle TLS connection holds no pooled buffer either: it
// waits for the first byte of its next request in a one-byte array, and
// parks in the idle poller after idleParkAfter as plain ones do (what
// remains is crypto/tls's own state and buffers). A WebSocket tunnel copies through
// the tls.Conn instead of splice(2).

// numTLSReasons is len(certs.Reasons), for the failure counters.
const numTLSReasons = 7

func reasonIndex(r certs.Reason) int { return reasonSlot(certs.Reasons, r) }

// reasonSlot is r's index in reasons, whose last entry is "other": the
// slot of any reason not listed.
func reasonSlot(reasons []certs.Reason, r certs.Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return len(reasons) - 1
}

// tlsState is what a TLS client connection knows about its session, for
// the ssl_fc* fetches and the access log.
type tlsState struct {
	conn    *tls.Conn
	sni     []byte // ssl_fc_sni, as sent by the client (may be empty)
	version []byte // ssl_fc_protocol: "TLSv1.2", "TLSv1.3"
	// first receives the first byte of a request while the connection
	// waits without a buffer (see stepTLS).
	first [1]byte
}

// newTLSState describes a connection whose handshake completed (the
// HTTP/2 loop uses it too: matchCtx.tls for its streams' ssl_fc* ACLs).
func newTLSState(tc *tls.Conn, cs *tls.ConnectionState) *tlsState {
	ts := &tlsState{conn: tc, sni: []byte(cs.ServerName), version: nameTLS12}
	if cs.Version == tls.VersionTLS13 {
		ts.version = nameTLS13
	}
	return ts
}

var (
	nameTLS12 = []byte("TLSv1.2")
	nameTLS13 = []byte("TLSv1.3")
)

// tlsClient is the conn of a TLS client connection's bufReader and
// bufWriter. It has no raw descriptor: the bytes on the socket are TLS
// records.
type tlsClient struct{ *tls.Conn }

var errNoRawTLS = errors.New("tls connection: no raw descriptor")

func (tlsClient) SyscallConn() (syscall.RawConn, error) { return nil, errNoRawTLS }

// h2Server serves an HTTP/2 client connection (a *tls.Conn that negotiated
// "h2" by ALPN) with the frontend's configuration, the client's addresses
// (dst valid) and its TLS session; it must call e.connDone(fe, gt) when
// the connection ends. The HTTP/2 loop (conn_h2.go) sets it; were it nil,
// such connections would be closed with a log line.
var h2Server func(e *Engine, c *tls.Conn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], src, dst netip.AddrPort, ts *tlsState, ct *connTrack)

// serveALPNH2 hands an ALPN "h2" connection to the HTTP/2 loop, with the
// trackers of its tcp-request connection rules (ct): the loop's streams
// see them, and it releases them when the connection has ended.
func (e *Engine) serveALPNH2(c *tls.Conn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], src, dst netip.AddrPort, ts *tlsState, ct *connTrack) {
	if h2Server != nil {
		h2Server(e, c, fe, gt, cur, src, dst, ts, ct)
		return
	}
	e.log.Warn("h2 not available: connection closed", "frontend", fe.name, "client", c.RemoteAddr().String())
	c.Close()
	ct.release(0, 0)
	e.connDone(fe, gt)
}

// tlsLogGate bounds the handshake failure log lines (one per failed
// connection) to tlsLogPerSecond per second, process-wide; the counters
// count them all.
type tlsLogGate struct {
	sec atomic.Int64
	n   atomic.Int64
}

const tlsLogPerSecond = 10

func (g *tlsLogGate) allow(now time.Time) bool {
	s := now.Unix()
	if old := g.sec.Load(); old != s && g.sec.CompareAndSwap(old, s) {
		g.n.Store(0)
	}
	return g.n.Add(1) <= tlsLogPerSecond
}

var tlsLog tlsLogGate

// serveTLS runs the handshake (bounded by the frontend's http-request
// timeout for reading and client timeout for writing, both from accept),
// counts it, and serves the connection: HTTP/2 when ALPN chose "h2", else
// the HTTP/1.1 loop.
func (e *Engine) serveTLS(c *net.TCPConn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], cfg *tls.Config, src, dst netip.AddrPort, ct *connTrack) {
	tStart := time.Now()
	tc := tls.Server(newRawSock(c), cfg)
	cc := &clientConn{e: e, fe: fe, cur: cur, gt: gt, c: c, src: src, dst: dst, ct: ct}
	// Tracked during the handshake, so that a hard stop (the end of a soft
	// stop, softstop.go) closes a handshake in progress.
	e.track(cc)
	c.SetReadDeadline(tStart.Add(fe.httpRequest))
	c.SetWriteDeadline(tStart.Add(fe.client))
	if err := tc.Handshake(); err != nil {
		if !e.stopping.Load() {
			r := certs.Classify(err)
			fe.st.tlsFail[reasonIndex(r)].Add(1)
			if tlsLog.allow(time.Now()) {
				e.log.Warn("TLS handshake failed", "frontend", fe.name, "client", c.RemoteAddr().String(), "reason", string(r), "err", err)
			}
		}
		cc.end()
		return
	}
	fe.st.tlsOK.Add(1)
	c.SetWriteDeadline(time.Time{})
	cs := tc.ConnectionState()
	if cs.NegotiatedProtocol == certs.ACMETLS1 {
		// An ACME TLS-ALPN-01 validation (RFC 8737): the certificate was
		// the answer; no application data follows. Counted as a handshake.
		cc.end()
		return
	}
	cc.tls = newTLSState(tc, &cs)
	if cs.NegotiatedProtocol == "h2" {
		e.untrack(cc)
		e.serveALPNH2(tc, fe, gt, cur, src, orLocal(dst, c), cc.tls, ct)
		return
	}
	cc.in.c, cc.out.c = tlsClient{tc}, tlsClient{tc}
	cc.in.timeout, cc.out.timeout = fe.client, fe.client
	st := &cc.st
	st.first, st.tStart = true, tStart
	cc.beginWait(tStart.Add(fe.httpRequest))
	cc.runTLS()
}

// runTLS runs loopTLS until the connection ends or parks; a parked
// connection (idle past idleParkAfter, as plain ones) waits in the
// engine's idle poller (idlepoll.go) with no goroutine, or else on a fresh
// goroutine. It parks only after a read timed out, when crypto/tls holds
// no complete record: the next request needs bytes from the socket, which
// the poller sees.
func (cc *clientConn) runTLS() {
	if cc.loopTLS() {
		cc.e.idleParks.Add(1)
		if !cc.park() {
			go cc.runTLS()
		}
		return
	}
	cc.end()
}

// loopTLS is loop for a TLS connection: true means "park" (runTLS),
// false "close".
func (cc *clientConn) loopTLS() bool {
	st := &cc.st
	for {
		st.outcome, st.err = outNone, nil
		err := cc.stepTLS()
		if err != nil {
			if !isTimeout(err) {
				return false
			}
			if !st.waiting || st.first {
				cc.fail(408, "cR", st.tStart, nil)
				return false
			}
			// Idle between requests: the idle park deadline passed (park
			// until the keep-alive expiry), or the keep-alive expiry
			// (close silently).
			if cc.kaEnd.IsZero() || !time.Now().Before(cc.kaEnd) {
				return false
			}
			cc.putReq()
			dl := cc.kaEnd
			cc.kaEnd = time.Time{}
			cc.beginWait(dl)
			return true
		}
		if !cc.afterStep() {
			return false
		}
	}
}

// stepTLS is step for a TLS connection: it reads with tls.Conn.Read
// (blocking, under the deadline set on the TCP connection) and returns a
// read timeout as its error; other outcomes are in cc.st.
func (cc *clientConn) stepTLS() error {
	st := &cc.st
	for {
		if cc.serveBuffered() {
			return nil
		}
		if cc.in.buf == nil && st.waiting {
			// Waiting for a request without a buffer: read its first
			// byte into the connection's own byte, then hold a buffer
			// for the rest (crypto/tls returns what the record holds
			// without waiting again).
			n, err := cc.tls.conn.Read(cc.tls.first[:])
			if n == 0 {
				if err == nil {
					continue
				}
				if isTimeout(err) {
					return err
				}
				st.outcome, st.err = outErr, err
				return nil
			}
			cc.in.hold()
			(*cc.in.buf)[0] = cc.tls.first[0]
			cc.in.w, cc.in.n = 1, cc.in.n+1
			st.waiting = false
			if !st.first {
				st.tStart = time.Now()
			}
			continue
		}
		cc.in.hold()
		buf := *cc.in.buf
		if cc.in.w == len(buf) && cc.in.r > 0 {
			copy(buf, buf[cc.in.r:cc.in.w])
			cc.in.w -= cc.in.r
			cc.in.r = 0
		}
		n, err := cc.tls.conn.Read(buf[cc.in.w:])
		if n == 0 {
			if err == nil {
				continue
			}
			if isTimeout(err) {
				return err
			}
			st.outcome, st.err = outErr, err
			return nil
		}
		cc.in.w += n
		cc.in.n += int64(n)
		st.needMore = false
		if st.waiting {
			st.waiting = false
			if !st.first {
				st.tStart = time.Now()
			}
		}
	}
}

// tunnelTLS is splice2 for a TLS client connection: the bytes are copied
// through the tls.Conn (no splice), with the same idle timeout and
// termination states.
func tunnelTLS(c *tls.Conn, s conn, idle time.Duration) (up, down int64, term string) {
	return copyBoth(c, tlsClient{c}, s, idle, copyIdle)
}

// copyIdle copies src to dst until EOF (nil) with an inactivity timeout
// shared by both directions through last.
func copyIdle(dst, src conn, idle time.Duration, last *atomic.Int64) (int64, error) {
	buf := getBuf()
	defer putBuf(buf)
	var total int64
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := src.Read(*buf)
		if n > 0 {
			now := time.Now()
			last.Store(now.UnixNano())
			if idle > 0 {
				dst.SetWriteDeadline(now.Add(idle))
			}
			if _, werr := dst.Write((*buf)[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err != nil {
			if isTimeout(err) && idle > 0 && time.Since(time.Unix(0, last.Load())) < idle {
				continue
			}
			if isTimeout(err) {
				return total, errIdleTimeout
			}
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}
