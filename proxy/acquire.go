package proxy

import (
	"io"
	"syscall"
	"time"
)

// connect obtains a server slot and a connection, applying retries and
// redispatch. On failure it has answered the client.
func (cc *clientConn) connect(x *exchange, tStart time.Time) bool {
	be := x.be
	// The clock is read once after the queue (Tw's end, Tc's start, the
	// idle pool's now), and Tw's start and Tc's end only for the log.
	timed := cc.timed()
	var tq time.Time
	if timed {
		tq = time.Now()
	}
	res, err := be.acquire(x.persist, cc.src.Addr(), nil, be.queueTO)
	cc.rec.SrvQueue, cc.rec.BackendQueue = res.srvQueue, res.beQueue
	now := time.Now()
	if timed {
		cc.rec.Tw = now.Sub(tq)
	}
	if err != nil {
		cc.failAcquire(err, tStart, be)
		return false
	}
	x.srv = res.srv
	x.direct = x.persist != nil && res.srv == x.persist
	if x.persist != nil && !x.direct {
		cc.term[2] = 'D'
	}
	tc := now
	left := be.retries
	for {
		ic, reused, err := cc.getConn(x, now)
		if err == nil {
			x.sconn, x.reused, x.rdl, x.wdl, x.rc, x.awaitOK = ic.c, reused, ic.rdl, ic.wdl, ic.rc, ic.awaitOK
			if timed {
				cc.rec.Tc = time.Since(tc)
			}
			return true
		}
		s := x.srv
		if err == errStreamReset {
			// An HTTP/2 stream reset by the client: no retry.
			cc.rec.Server = s.name
			cc.abort(x, "CC", tStart)
			be.release(s)
			x.srv = nil
			return false
		}
		s.sh.st.errConn.Add(1)
		be.st.errConn.Add(1)
		if left == 0 {
			be.release(s)
			x.srv = nil
			cc.rec.Retries = x.retries
			cc.rec.Tc = time.Since(tc)
			cc.rec.Server = s.name
			cc.failReq(503, "SC", tStart, be)
			return false
		}
		left--
		x.retries++
		s.sh.st.retries.Add(1)
		be.st.retries.Add(1)
		redispatch := be.redispatch && (!s.sh.up.Load() || left == 0 || (!x.direct && be.algo != BalanceSource && countLB(be.active) > 1))
		be.release(s)
		x.srv = nil
		var persist, exclude *server
		if redispatch {
			exclude = s
			s.sh.st.redispatch.Add(1)
			be.st.redispatch.Add(1)
			cc.rec.Redispatch = true
		} else {
			persist = s
			d := be.connect
			if d > time.Second {
				d = time.Second
			}
			time.Sleep(d)
		}
		res, err := be.acquire(persist, cc.src.Addr(), exclude, be.queueTO)
		if err != nil {
			cc.rec.Server = s.name
			cc.failAcquire(err, tStart, be)
			return false
		}
		x.srv = res.srv
		x.direct = x.persist != nil && res.srv == x.persist
		now = time.Now()
	}
}

// timed: the exchange's timers (TR, Tw, Tc, Tr) are wanted, for the access
// log; without it the clock is read only where a deadline or the idle
// pool needs it.
func (cc *clientConn) timed() bool {
	return cc.e.opts.AccessLog != nil && cc.fe.log
}

// failAcquire answers 503 when no server slot could be had: sQ when the
// queue timeout expired, SC otherwise (no usable server).
func (cc *clientConn) failAcquire(err error, tStart time.Time, be *backend) {
	if err == errQueueTime {
		cc.failReq(503, "sQ", tStart, be)
	} else {
		cc.failReq(503, "SC", tStart, be)
	}
}

// reconnect moves an exchange whose server failed before answering to a
// new connection: another server with option redispatch, else the same one.
// It counts the retry; on failure it has answered the client.
func (cc *clientConn) reconnect(x *exchange, tStart time.Time) bool {
	be, s := x.be, x.srv
	x.retries++
	cc.rec.Retries = x.retries
	s.sh.st.retries.Add(1)
	be.st.retries.Add(1)
	var persist, exclude *server
	if be.redispatch {
		exclude = s
		s.sh.st.redispatch.Add(1)
		be.st.redispatch.Add(1)
		cc.rec.Redispatch = true
	} else {
		persist = s
	}
	be.release(s)
	x.srv = nil
	res, err := be.acquire(persist, cc.src.Addr(), exclude, be.queueTO)
	if err != nil {
		cc.failAcquire(err, tStart, be)
		return false
	}
	x.srv = res.srv
	x.direct = x.persist != nil && res.srv == x.persist
	ic, reused, err := cc.getConn(x, time.Now())
	if err == errStreamReset {
		cc.abort(x, "CC", tStart)
		return false
	}
	if err != nil {
		x.srv.sh.st.errConn.Add(1)
		be.st.errConn.Add(1)
		cc.failReq(503, "SC", tStart, be)
		return false
	}
	x.sconn, x.reused, x.rdl, x.wdl, x.rc, x.awaitOK = ic.c, reused, ic.rdl, ic.wdl, ic.rc, ic.awaitOK
	return true
}

func countLB(set []*server) int {
	n := 0
	for _, s := range set {
		if s.usableLB() {
			n++
		}
	}
	return n
}

// getConn takes an idle connection to x.srv, or dials one; now is a recent
// clock reading.
func (cc *clientConn) getConn(x *exchange, now time.Time) (idleConn, bool, error) {
	x.freshDone() // a retry: the failed connection's
	x.pool = x.srv.sh.pool
	if t := x.srv.tls; t != nil && t.perReq {
		x.sni = cc.requestSNI(t)
		x.pool = x.pool.named(x.sni)
	}
	if cc.wantServerKeepAlive(x.be) && x.pool != nil {
		if ic, ok := x.pool.get(now); ok {
			// The server may have closed a connection idle for long:
			// then read first (no sendAwait).
			ic.awaitOK = now.Sub(ic.since) <= awaitMaxIdle
			if cc.h2 != nil && !cc.h2.useServer(ic.c) {
				return idleConn{}, false, errStreamReset
			}
			return ic, true, nil
		}
	}
	if cc.h2 != nil && cc.h2.isReset() {
		return idleConn{}, false, errStreamReset // never dial for a reset stream
	}
	if cc.h2 == nil && x.pool != nil && x.srv.sendProxy == 0 && cc.wantServerKeepAlive(x.be) {
		// No idle connection: dial, or wait while the server is slow to
		// take new ones (dialpace.go).
		w, seen, dial := x.pool.reserve()
		if !dial {
			if ic := awaitPool(x.pool, w, seen, x.be.connect); ic.c != nil {
				ic.awaitOK = true // put back just now
				return ic, true, nil
			}
		}
		x.fresh = x.pool
	}
	c, err := cc.dial(x)
	if err != nil {
		x.freshDone()
		return idleConn{}, false, err
	}
	if cc.h2 != nil && !cc.h2.useServer(c) {
		return idleConn{}, false, errStreamReset
	}
	ic := idleConn{c: c, awaitOK: true}
	ic.rc, _ = c.SyscallConn()
	return ic, false, nil
}

// awaitMaxIdle: pooled connections idle longer than this are not used with
// sendAwait, whose wait would miss a close that happened before the write.
const awaitMaxIdle = 500 * time.Millisecond

// sendAwait writes the complete request (sw.b) and waits for the server's
// first bytes inside one RawConn.Read: the readiness state is reset before
// the write, so the answer's edge cannot be missed and no read returning
// EAGAIN is issued. A short or failed write falls back to the plain path.
func (cc *clientConn) sendAwait(x *exchange, sw *bufWriter, sr *bufReader) error {
	sr.hold()
	if sr.timeout > 0 {
		sr.dl = armDeadline(sr.c.SetReadDeadline, sr.dl, sr.timeout)
	}
	st := &cc.await
	*st = awaitState{out: sw.b, in: (*sr.buf)[sr.w:]}
	err := x.rc.Read(cc.awaitFn)
	st.out, st.in = nil, nil
	sw.n += int64(st.wrote)
	if st.wrote < len(sw.b) {
		if err != nil && st.wrote == 0 {
			return err
		}
		// Finish the write the ordinary way, then read normally.
		sw.b = sw.b[st.wrote:]
		return sw.flush()
	}
	sw.b = sw.b[:0]
	if err != nil {
		return err
	}
	if st.rerr != nil {
		return st.rerr
	}
	if st.rn == 0 {
		return io.EOF
	}
	sr.w += st.rn
	sr.n += int64(st.rn)
	sr.gotAny = true
	return nil
}

type awaitState struct {
	out   []byte // the request to write
	in    []byte // free space of the response buffer
	wrote int
	done  bool // the whole request was written
	rn    int
	rerr  error
}

func (st *awaitState) step(fd uintptr) bool {
	if !st.done {
		for {
			n, err := sysWrite(int(fd), st.out[st.wrote:])
			if err == syscall.EINTR {
				continue
			}
			if n > 0 {
				st.wrote += n
			}
			if err != nil || st.wrote < len(st.out) {
				return true // fall back to conn.Write
			}
			st.done = true
			return false // wait for the answer
		}
	}
	for {
		n, err := sysRead(int(fd), st.in)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return false
		}
		if err != nil {
			st.rerr = err
			return true
		}
		st.rn = n
		return true
	}
}

func (cc *clientConn) dial(x *exchange) (conn, error) {
	if x.srv.tls != nil {
		return cc.dialTLS(x)
	}
	c, err := dialServer(x.srv.addr, x.srv.da, x.be.connect)
	if err == nil && x.srv.sendProxy != 0 {
		if err = sendProxyHeader(c, x.srv.sendProxy, cc.src, orLocal(cc.dst, cc.c), x.be.connect); err != nil {
			c.Close()
		}
	}
	return c, err
}
