package proxy

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// tcpSession is one client connection in mode tcp.
type tcpSession struct {
	c  *net.TCPConn
	s  conn
	mu sync.Mutex
}

func (t *tcpSession) forceClose() {
	t.mu.Lock()
	t.c.Close()
	if t.s != nil {
		t.s.Close()
	}
	t.mu.Unlock()
}

// serveTCP forwards a TCP connection to a server picked by the backend,
// copying with splice(2) (io.Copy between *net.TCPConn, no wrappers).
func (e *Engine) serveTCP(c *net.TCPConn, fe *frontend, src, dst netip.AddrPort, ct *connTrack) {
	defer c.Close()
	tStart := time.Now()
	sess := &tcpSession{c: c}
	e.track(sess)
	defer e.untrack(sess)
	rec := LogRecord{Client: src, AcceptedAt: tStart, Frontend: fe.name, Backend: fe.name, TCP: true, Status: -1,
		TR: -1, Tw: -1, Tc: -1, Tr: -1, ReqCookie: "-", RespCookie: "-"}
	term := "--"
	sentAny := false
	defer func() {
		if e.opts.AccessLog != nil && fe.log && !(fe.dontLogNull && rec.BytesRead == 0 && !sentAny) {
			rec.Ta = time.Since(tStart)
			rec.Termination = term
			rec.ActConn = e.actConn.Load()
			rec.FeConn = fe.st.cur.Load()
			e.opts.AccessLog(&rec)
		}
	}()
	m := matchCtx{src: src.Addr(), ct: ct}
	if len(fe.tcpContent) > 0 {
		// tcp-request content rules (rules.go).
		var ok bool
		if ct, ok = tcpRules(fe.tcpContent, src.Addr(), ct); !ok {
			fe.st.denied.Add(1)
			term = "PR"
			return
		}
		m.ct = ct
		defer ct.release(0, 0)
	}
	be := fe.route(&m)
	if be == nil {
		term = "PR"
		return
	}
	rec.Backend = be.name
	be.st.inc()
	defer be.st.cur.Add(-1)
	be.st.total.Add(1)
	tq := time.Now()
	res, err := be.acquire(nil, src.Addr(), nil, be.queueTO)
	rec.Tw = time.Since(tq)
	rec.SrvQueue, rec.BackendQueue = res.srvQueue, res.beQueue
	if err != nil {
		if err == errQueueTime {
			term = "sQ"
		} else {
			term = "SC"
		}
		return
	}
	srv := res.srv
	tc := time.Now()
	var sc conn
	for left := be.retries; ; left-- {
		// net.Dialer (dialAddr{}), not the lean dialer: the session
		// dials once, and a *net.TCPConn keeps splice(2) for bulk data.
		conn, derr := dialServer(srv.addr, dialAddr{}, be.connect)
		if derr == nil && srv.sendProxy != 0 {
			if derr = sendProxyHeader(conn, srv.sendProxy, src, orLocal(dst, c), be.connect); derr != nil {
				conn.Close()
			}
		}
		if derr == nil && srv.tls != nil {
			// TLS to the server: a per-request SNI has no request here
			// (none is sent).
			conn, derr = e.handshakeServer(conn.(*net.TCPConn), be, srv, "")
		}
		if derr == nil {
			sc = conn
			break
		}
		srv.sh.st.errConn.Add(1)
		be.st.errConn.Add(1)
		if left == 0 {
			be.release(srv)
			rec.Server = srv.name
			rec.Tc = time.Since(tc)
			term = "SC"
			return
		}
		rec.Retries++
		srv.sh.st.retries.Add(1)
		be.st.retries.Add(1)
		redispatch := be.redispatch && (!srv.sh.up.Load() || left == 1 || (be.algo != BalanceSource && countLB(be.active) > 1))
		be.release(srv)
		var persist, exclude *server
		if redispatch {
			exclude = srv
			rec.Redispatch = true
			srv.sh.st.redispatch.Add(1)
			be.st.redispatch.Add(1)
		} else {
			persist = srv
			time.Sleep(min(be.connect, time.Second))
		}
		res, err := be.acquire(persist, src.Addr(), exclude, be.queueTO)
		if err != nil {
			term = "SC"
			return
		}
		srv = res.srv
	}
	defer be.release(srv)
	rec.Tc = time.Since(tc)
	rec.Server = srv.name
	rec.SrvConn = srv.sh.st.cur.Load()
	rec.BeConn = be.st.cur.Load()
	sess.mu.Lock()
	sess.s = sc
	sess.mu.Unlock()
	idle := tunnelIdle(fe, be)
	var up, down int64
	var t string
	if srv.tls != nil {
		up, down, t = copyBoth(c, c, sc, idle, copyIdle) // no splice through TLS
	} else {
		up, down, t = splice2(c, sc, idle)
	}
	term = t
	sentAny = up > 0
	rec.BytesRead = down
	fe.st.bytesIn.Add(uint64(up))
	fe.st.bytesOut.Add(uint64(down))
	be.st.bytesIn.Add(uint64(up))
	be.st.bytesOut.Add(uint64(down))
	srv.sh.st.bytesIn.Add(uint64(up))
	srv.sh.st.bytesOut.Add(uint64(down))
}

// splice2 copies both ways until both sides are done, half-closing as each
// direction ends; it closes s (the server) and returns the byte counts and
// a two-letter termination code.
func splice2(c *net.TCPConn, s conn, idle time.Duration) (up, down int64, term string) {
	return copyBoth(c, c, s, idle, pipe)
}

// halfCloser is a client connection that can end its sending side.
type halfCloser interface {
	Close() error
	CloseWrite() error
}

// copyBoth is the two-way copy of splice2 and tunnelTLS: cp copies one
// direction (client cc to server s in a goroutine, s to cc here), both
// sharing one inactivity timeout; c closes the client. It closes s and
// names the termination from the two directions' errors.
func copyBoth(c halfCloser, cc, s conn, idle time.Duration, cp func(dst, src conn, idle time.Duration, last *atomic.Int64) (int64, error)) (up, down int64, term string) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	type result struct {
		n   int64
		err error
	}
	upCh := make(chan result, 1)
	go func() {
		n, err := cp(s, cc, idle, &last)
		if err == nil {
			closeWrite(s)
		} else {
			s.Close()
			c.Close()
		}
		upCh <- result{n, err}
	}()
	down, derr := cp(cc, s, idle, &last)
	if derr == nil {
		c.CloseWrite()
	} else {
		s.Close()
		c.Close()
	}
	r := <-upCh
	s.Close()
	up = r.n
	switch {
	case errors.Is(r.err, errIdleTimeout):
		term = "cD"
	case errors.Is(derr, errIdleTimeout):
		term = "sD"
	case r.err != nil && !isClosed(r.err):
		term = "CD"
	case derr != nil && !isClosed(derr):
		term = "SD"
	default:
		term = "--"
	}
	return up, down, term
}

// isClosed: EOF, or a use of a connection closed by the other direction
// (net.ErrClosed for *net.TCPConn, os.ErrClosed for *os.File).
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)
}
