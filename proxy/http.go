package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/internal/logs"
	"github.com/lbd-ha/lbd/proxy/h1"
)

// clientConn is one client connection in mode http.
type clientConn struct {
	e  *Engine
	fe *frontend // the frontend of the current request
	// cur is the listener's frontend, swapped by Reload: a connection
	// whose fe is no longer cur closes after its current response.
	cur    *atomic.Pointer[frontend]
	gt     *gate // the connection slot, released by end
	c      *net.TCPConn
	rc     syscall.RawConn
	stepFn func(fd uintptr) bool
	st     serveState
	kaEnd  time.Time // keep-alive expiry while an idle park is armed, else zero
	src    netip.AddrPort
	in     bufReader // client -> proxy
	out    bufWriter // proxy -> client

	term [4]byte

	// The request-scoped state, nil while no request is in hand (a new
	// connection before its first bytes, a parked one).
	*reqState
}

// reqState is what a client connection needs only while it serves a
// request: the parsed heads with their header tables, the log record, the
// sendAwait state. A connection takes one from reqPool when a request's
// first bytes arrive (getReq) and gives it back when it parks or ends
// (putReq), so that the many idle parked connections of a busy proxy hold
// none (about 2.4 KB each); a connection busy enough never to park keeps
// its own and pays nothing per request.
type reqState struct {
	req   h1.Request
	resp  h1.Response
	rec   logs.Record
	await awaitState
	// awaitFn is await.step, made once per reqState.
	awaitFn func(fd uintptr) bool

	lastTerm    [4]byte // cached strings for the access log
	lastTermStr string
	lastLine    string
}

var reqPool = sync.Pool{New: func() any {
	rs := &reqState{}
	rs.awaitFn = rs.await.step
	rs.req.Headers = make([]h1.Header, 0, 16)
	rs.resp.Headers = make([]h1.Header, 0, 16)
	return rs
}}

// getReq makes sure the connection holds a reqState.
func (cc *clientConn) getReq() {
	if cc.reqState == nil {
		cc.reqState = reqPool.Get().(*reqState)
	}
}

// putReq gives the connection's reqState back to reqPool. The heads and
// the record are cleared so that the pooled state keeps no buffer or
// configuration alive; the header tables keep their capacity.
func (cc *clientConn) putReq() {
	rs := cc.reqState
	if rs == nil {
		return
	}
	cc.reqState = nil
	hq, hr := rs.req.Headers, rs.resp.Headers
	clear(hq[:cap(hq)])
	clear(hr[:cap(hr)])
	rs.req, rs.resp, rs.rec, rs.await = h1.Request{}, h1.Response{}, logs.Record{}, awaitState{}
	rs.req.Headers, rs.resp.Headers = hq[:0], hr[:0]
	reqPool.Put(rs)
}

func (cc *clientConn) forceClose() { cc.c.Close() }

func (e *Engine) serveHTTP(c *net.TCPConn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend]) {
	cc := &clientConn{e: e, fe: fe, cur: cur, gt: gt, c: c}
	cc.in.c, cc.out.c = c, c
	cc.in.timeout, cc.out.timeout = fe.client, fe.client
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		cc.src = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		e.connDone(fe, gt)
		return
	}
	cc.rc = rc
	cc.stepFn = cc.step
	e.track(cc)
	st := &cc.st
	st.first, st.tStart = true, time.Now()
	cc.beginWait(st.tStart.Add(fe.httpRequest))
	cc.serve()
}

// end closes the connection and releases what it holds.
func (cc *clientConn) end() {
	cc.c.Close()
	cc.in.releaseAll()
	cc.out.releaseBuf()
	cc.putReq()
	cc.e.untrack(cc)
	cc.e.connDone(cc.fe, cc.gt)
}

// idleParkAfter: a keep-alive connection idle for between 3/4 of this and
// this (and with more keep-alive time left) is handed to a new goroutine,
// and the goroutine that served its requests exits. Serving a request
// grows a goroutine's stack (to 4-8 KB) and the runtime shrinks stacks
// only during a garbage collection, which a proxy whose connections sit
// idle does not run: the hand-off frees the grown stack at once, for the
// next connections to reuse, and the connection waits on a starting-size
// (2 KB) one. A park costs about 4-9 us of CPU (goroutine start, one
// read, the stack growing again on the next request); connections busier
// than one request per idleParkAfter never pay it. Tests shorten it.
var idleParkAfter = 100 * time.Millisecond

// serve runs the request loop until the connection ends or parks; a
// parked connection continues on a fresh goroutine.
func (cc *clientConn) serve() {
	if cc.loop() {
		cc.putReq()
		dl := cc.kaEnd
		cc.kaEnd = time.Time{} // the next timeout is the keep-alive expiry
		cc.beginWait(dl)
		cc.e.idleParks.Add(1)
		go cc.serve()
		return
	}
	cc.end()
}

// serveState is the request loop's state shared with step, which runs
// inside RawConn.Read.
type serveState struct {
	first    bool      // no request completed yet on this connection
	tStart   time.Time // first byte of the current request (accept for the first)
	waiting  bool      // waiting for the first byte of a request
	needMore bool      // the buffered head is incomplete
	armed    bool      // the http-request deadline is set for this head
	drained  bool      // the last read did not fill the buffer
	outcome  uint8
	err      error // read error (outErr) or parse error (outParse)
}

const (
	outNone  uint8 = iota
	outErr         // the client connection failed or closed
	outParse       // invalid request head
	outSlow        // a request with a body or an upgrade: ordinary path
	outClose       // close the connection
)

// loop runs the request loop; true means "idle long enough to park"
// (see idleParkAfter), false "close". Bodiless requests (the common case)
// are read, forwarded and answered inside one long RawConn.Read call, so
// that after a response the goroutine waits for the next request's
// readiness edge without a speculative read, and holds no buffer while
// idle. Requests with a body or an Upgrade leave it for the ordinary path.
func (cc *clientConn) loop() bool {
	st := &cc.st
	for {
		st.outcome, st.err = outNone, nil
		st.drained = false // readiness was reset: read before waiting
		err := cc.rc.Read(cc.stepFn)
		if err != nil {
			if !isTimeout(err) {
				return false
			}
			if !st.waiting || st.first {
				cc.fail(408, "cR", st.tStart, nil)
				return false
			}
			// Idle between requests: the park wake-up, or the
			// keep-alive expiry (closed silently).
			return !cc.kaEnd.IsZero() && time.Now().Before(cc.kaEnd)
		}
		switch st.outcome {
		case outErr:
			if !st.waiting && cc.in.buffered() > 0 {
				cc.fe.st.errReq.Add(1)
				cc.fail(400, "CR", st.tStart, nil)
			}
			return false
		case outParse:
			cc.fe.st.errReq.Add(1)
			code := 400
			var pe *h1.Error
			if errors.As(st.err, &pe) {
				code = pe.Status
			}
			cc.fail(code, "PR", st.tStart, nil)
			return false
		case outSlow:
			cc.in.timeout = cc.fe.client
			if !cc.handle(st.tStart) {
				return false
			}
			cc.nextRequest()
		default:
			return false
		}
	}
}

// beginWait prepares the wait for the next request: no buffer held, the
// given (keep-alive or first request) deadline. It waits during a soft
// stop too (softstop.go).
func (cc *clientConn) beginWait(deadline time.Time) {
	st := &cc.st
	cc.in.release()
	st.waiting, st.needMore, st.armed = true, false, false
	if !deadline.IsZero() {
		cc.in.dl = deadline
		cc.c.SetReadDeadline(deadline)
	}
}

// nextRequest moves to the next request after a response.
func (cc *clientConn) nextRequest() {
	st := &cc.st
	st.first = false
	if cc.in.buffered() > 0 {
		st.waiting, st.needMore, st.armed = false, false, false
		st.tStart = time.Now()
		return
	}
	// Keep-alive wait; the deadline is only moved when it has drifted
	// (by ka/8; by a quarter for the park wake-up, which need not be exact).
	ka := cc.fe.keepAlive
	now := time.Now()
	w, slack := ka, ka/8
	cc.kaEnd = time.Time{}
	if p := idleParkAfter; p > 0 && p < ka {
		w, slack = p, p/4
		cc.kaEnd = now.Add(ka)
	}
	var dl time.Time
	if left := cc.in.dl.Sub(now); left < w-slack || left > w {
		dl = now.Add(w)
	}
	cc.beginWait(dl)
}

// step runs inside RawConn.Read; false means "wait for readability".
func (cc *clientConn) step(fd uintptr) bool {
	// The client descriptor is held until step returns: responses written
	// from here go out with a raw write first.
	cc.out.held, cc.out.fd = true, int(fd)
	defer func() { cc.out.held = false }()
	st := &cc.st
	fe := cc.fe
	for {
		if cc.in.buffered() > 0 && !st.needMore {
			cc.getReq()
			err := h1.ParseRequest((*cc.in.buf)[cc.in.r:cc.in.w], &cc.req)
			if err == h1.ErrIncomplete {
				if cc.in.r == 0 && cc.in.w == len(*cc.in.buf) {
					st.outcome, st.err = outParse, errHeadTooLarge
					return true
				}
				if !st.armed {
					st.armed = true
					cc.in.dl = st.tStart.Add(fe.httpRequest)
					cc.c.SetReadDeadline(cc.in.dl)
				}
				st.needMore = true
				continue
			}
			if err != nil {
				st.outcome, st.err = outParse, err
				return true
			}
			req := &cc.req
			if req.Chunked || req.ContentLength > 0 || req.Upgrade || req.Expect100 {
				st.outcome = outSlow
				return true
			}
			if !cc.handle(st.tStart) {
				st.outcome = outClose
				return true
			}
			cc.nextRequest()
			continue
		}
		if st.drained {
			// The socket was empty after the last read: any byte since
			// has raised a fresh readiness edge, so wait without reading.
			// (A FIN that came with the request raises none of its own:
			// it is seen by the read after the idle park, 75-100 ms
			// later, or at the keep-alive expiry. The response has gone
			// out by then; only the close waits. tcp mode reads on
			// instead, see rawPipe.step.)
			st.drained = false
			return false
		}
		cc.in.hold()
		buf := *cc.in.buf
		if cc.in.w == len(buf) && cc.in.r > 0 {
			copy(buf, buf[cc.in.r:cc.in.w])
			cc.in.w -= cc.in.r
			cc.in.r = 0
		}
		space := len(buf) - cc.in.w
		n, err := sysRead(int(fd), buf[cc.in.w:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			cc.in.release()
			return false
		}
		if err != nil {
			st.outcome, st.err = outErr, err
			return true
		}
		if n == 0 {
			st.outcome, st.err = outErr, io.EOF
			return true
		}
		cc.in.w += n
		cc.in.n += int64(n)
		st.drained = n < space
		st.needMore = false
		if st.waiting {
			st.waiting = false
			if !st.first {
				st.tStart = time.Now()
			}
		}
	}
}

// fail answers an error before routing: fresh record, then failReq.
func (cc *clientConn) fail(code int, term string, tStart time.Time, be *backend) {
	cc.getReq()
	cc.resetRecord(tStart)
	if term != "cR" && term != "CR" {
		cc.rec.TR = time.Since(tStart)
	}
	if term[0] == 'P' || term[0] == 'c' {
		cc.req.Method = nil // logged as <BADREQ>
	}
	cc.failReq(code, term, tStart, be)
}

// failReq answers with an error page, logs and leaves the connection to
// close; the record keeps what the exchange filled so far.
func (cc *clientConn) failReq(code int, term string, tStart time.Time, be *backend) {
	fe := cc.fe
	page := fe.errorPage(code)
	fe.st.bytesOut.Add(uint64(len(page)))
	fe.st.status(code)
	if be != nil {
		be.st.status(code)
		cc.rec.Backend = be.name
		cc.rec.BeConn = be.st.cur.Load()
	}
	cc.rec.Status = code
	cc.rec.BytesRead = int64(len(page))
	cc.term[0], cc.term[1] = term[0], term[1]
	cc.emit(tStart, true)
	cc.c.SetWriteDeadline(time.Now().Add(fe.client))
	cc.c.Write(page)
}

func (cc *clientConn) resetRecord(tStart time.Time) {
	cc.rec = logs.Record{
		Client: cc.src, AcceptedAt: tStart, Frontend: cc.fe.name, Backend: cc.fe.name,
		TR: -1, Tw: -1, Tc: -1, Tr: -1, ReqCookie: "-", RespCookie: "-",
	}
	cc.term = [4]byte{'-', '-', '-', '-'}
}

func (cc *clientConn) emit(tStart time.Time, withLine bool) {
	fe := cc.fe
	if cc.e.opts.AccessLog == nil || !fe.log {
		return
	}
	if fe.dontLogNull && cc.in.n == 0 {
		return // option dontlognull: nothing was received
	}
	r := &cc.rec
	r.Ta = time.Since(tStart)
	if cc.term != cc.lastTerm || cc.lastTermStr == "" {
		cc.lastTerm, cc.lastTermStr = cc.term, string(cc.term[:])
	}
	r.Termination = cc.lastTermStr
	r.ActConn = cc.e.actConn.Load()
	r.FeConn = fe.st.cur.Load()
	if withLine && cc.req.Method != nil {
		// Reuse the previous line's string when the request repeats it
		// (keep-alive clients often do): no allocation then.
		req := &cc.req
		l := cc.lastLine
		n := len(req.Method) + 1 + len(req.URI) + 9
		if len(l) != n || l[:len(req.Method)] != string(req.Method) || l[len(req.Method)+1:n-9] != string(req.URI) || l[n-1] != byte('0'+req.Minor) {
			b := make([]byte, 0, n)
			b = append(b, req.Method...)
			b = append(b, ' ')
			b = append(b, req.URI...)
			b = append(b, " HTTP/1."...)
			b = append(b, byte('0'+req.Minor))
			cc.lastLine = string(b)
		}
		r.RequestLine = cc.lastLine
	} else if withLine {
		r.RequestLine = "<BADREQ>"
	}
	cc.e.opts.AccessLog(r)
}

func (fe *frontend) route(m *matchCtx) *backend {
	for i := range fe.rules {
		r := &fe.rules[i]
		if r.cond == nil || r.cond.eval(m) {
			return r.be
		}
	}
	return fe.defBackend
}

// exchange is the per-request forwarding state.
type exchange struct {
	be       *backend
	srv      *server
	persist  *server
	direct   bool // sent to the server designated by a valid cookie
	ckValue  []byte
	ckSent   bool
	sconn    conn
	reused   bool
	rdl, wdl time.Time       // deadlines already set on sconn
	rc       syscall.RawConn // sconn's RawConn
	awaitOK  bool            // sendAwait may be used on sconn
	retries  int
	bodyKind h1.BodyKind
}

// handle forwards one parsed request; it reports whether the client
// connection may carry another request.
func (cc *clientConn) handle(tStart time.Time) bool {
	fe := cc.fe
	req := &cc.req
	tHead := time.Now()
	fe.st.requests.Add(1)
	fe.st.bytesIn.Add(uint64(req.Len))
	cc.in.r += req.Len // the head is consumed; the body (if any) follows
	cc.resetRecord(tStart)
	cc.rec.TR = tHead.Sub(tStart)

	if fe.stats != nil && bytes.HasPrefix(req.URI, fe.stats.uri) {
		return cc.serveStats(tStart)
	}
	m := matchCtx{req: req, path: requestPath(req.URI), src: cc.src.Addr()}
	be := fe.route(&m)
	if be == nil {
		cc.failReq(503, "PR", tStart, nil)
		return false
	}
	cc.rec.Backend = be.name
	be.st.requests.Add(1)
	be.st.inc()
	defer be.st.cur.Add(-1)
	be.st.total.Add(1)

	x := exchange{be: be, bodyKind: req.RequestBody()}
	if ck := be.cookie; ck != nil {
		cc.term[2] = 'N'
		if v, ok := findCookie(req, ck.name); ok {
			x.ckValue, x.ckSent = v, true
			if s := be.persistTarget(v); s == nil {
				cc.term[2] = 'I'
			} else if s.usablePersist() {
				x.persist = s
				cc.term[2] = 'V'
			} else {
				cc.term[2] = 'D'
			}
		}
		cc.term[3] = 'N'
	}

	// Queue, connect, retry, redispatch.
	if !cc.connect(&x, tStart) {
		return false
	}
	srv := x.srv
	defer func() {
		if x.srv != nil {
			be.release(x.srv)
		}
	}()
	cc.rec.Server = srv.name

	// Head for the server.
	ka := cc.wantServerKeepAlive(be)
	sw := bufWriter{c: x.sconn, timeout: be.server, dl: x.wdl}
	sw.hold()
	defer sw.releaseBuf()
	sr := bufReader{c: x.sconn, timeout: be.server, dl: x.rdl}
	defer sr.releaseAll()

	bodyStart := cc.in.r
	replayable := x.bodyKind == h1.BodyNone || (x.bodyKind == h1.BodyLength && int64(cc.in.w-bodyStart) >= req.ContentLength)
	var tSent time.Time
	for attempt := 0; ; attempt++ {
		sw.b = cc.appendServerHead(sw.b[:0], &x, ka)
		if req.Expect100 && x.bodyKind != h1.BodyNone && attempt == 0 {
			cc.out.dl = time.Now().Add(fe.client)
			cc.c.SetWriteDeadline(cc.out.dl)
			if _, err := cc.c.Write(continue100); err != nil {
				cc.abort(&x, "CC", tStart)
				return false
			}
		}
		cc.in.r = bodyStart
		var err error
		switch x.bodyKind {
		case h1.BodyLength:
			err = copyN(&sw, &cc.in, req.ContentLength)
		case h1.BodyChunked:
			err = copyChunked(&sw, &cc.in)
		}
		if err == nil && sw.n == 0 && x.awaitOK && x.rc != nil && len(sw.b) > 0 {
			// The whole request is in hand: write it and wait for the
			// answer without a speculative read.
			err = cc.sendAwait(&x, &sw, &sr)
		} else if err == nil {
			err = sw.flush()
		}
		tSent = time.Now()
		if err == nil {
			err = cc.readResponseHead(&x, &sr, fe)
		}
		if err == nil {
			break
		}
		var ce *copyErr
		if errors.As(err, &ce) && ce.read {
			// The client failed while sending its body.
			if isTimeout(ce.err) {
				cc.abort(&x, "cD", tStart)
			} else if errors.Is(ce.err, errBadChunked) {
				fe.st.errReq.Add(1)
				cc.failReq(400, "PD", tStart, be)
			} else {
				cc.abort(&x, "CD", tStart)
			}
			return false
		}
		if x.reused && !sr.gotAny && replayable && attempt == 0 {
			// A pooled connection the server had closed: replay once on
			// a fresh one.
			x.sconn.Close()
			c, err := cc.dial(&x)
			if err != nil {
				srv.sh.st.errConn.Add(1)
				be.st.errConn.Add(1)
				cc.failReq(503, "SC", tStart, be)
				return false
			}
			x.sconn, x.reused, x.awaitOK = c, false, false
			x.rc, _ = c.SyscallConn()
			sw.c, sr.c = c, c
			sw.dl, sr.dl = time.Time{}, time.Time{}
			sr.r, sr.w, sr.n, sr.gotAny = 0, 0, 0, false
			continue
		}
		x.sconn.Close()
		srv.sh.st.errResp.Add(1)
		be.st.errResp.Add(1)
		if !sr.gotAny && replayable && !isTimeout(err) && idempotent(req.Method) && x.retries < be.retries {
			// The server closed without a byte of answer (it died or
			// restarted under us): an idempotent request is sent again,
			// to another server with option redispatch (HAProxy's
			// retry-on empty-response), instead of a 502.
			if !cc.reconnect(&x, tStart) {
				return false
			}
			srv = x.srv
			cc.rec.Server = srv.name
			sw.c, sr.c = x.sconn, x.sconn
			sw.dl, sr.dl = x.wdl, x.rdl
			sr.r, sr.w, sr.n, sr.gotAny = 0, 0, 0, false
			continue
		}
		switch {
		case isTimeout(err):
			cc.failReq(504, "sH", tStart, be)
		case errors.Is(err, errBadResponse) || errors.Is(err, errHeadTooLarge):
			cc.failReq(502, "PH", tStart, be)
		default:
			cc.failReq(502, "SH", tStart, be)
		}
		return false
	}
	cc.in.timeout = fe.client
	reqBytes := sw.n
	srv.sh.st.bytesIn.Add(uint64(reqBytes))
	be.st.bytesIn.Add(uint64(reqBytes))
	fe.st.bytesIn.Add(uint64(cc.in.r - bodyStart))
	cc.rec.Tr = time.Since(tSent)
	resp := &cc.resp

	// Protocol switch (WebSocket): forward the 101 and tunnel.
	if resp.Status == 101 {
		if !req.Upgrade {
			x.sconn.Close()
			cc.failReq(502, "PH", tStart, be)
			return false
		}
		return cc.tunnel(&x, &sr, tStart)
	}

	bodyKind := resp.ResponseBody(string(req.Method) == "HEAD")
	// After a reload, and during a soft stop, the response closes the
	// connection (softstop.go).
	clientKA := req.KeepAlive() && !fe.httpClose && !be.httpClose && bodyKind != h1.BodyClose && cc.keepServing(fe)
	cc.out.hold()
	cc.out.b = cc.appendClientHead(cc.out.b[:0], &x, clientKA, bodyKind)
	var err error
	switch bodyKind {
	case h1.BodyLength:
		err = copyN(&cc.out, &sr, resp.ContentLength)
	case h1.BodyChunked:
		err = copyChunked(&cc.out, &sr)
	case h1.BodyClose:
		err = copyUntilEOF(&cc.out, &sr)
	}
	cc.rec.Status = resp.Status
	fe.st.status(resp.Status)
	be.st.status(resp.Status)
	srv.sh.st.status(resp.Status)
	if err == nil {
		// The whole response is in hand: recycle the server connection
		// and log before the last write, so the record exists by the time
		// the client has the response.
		if ka && resp.KeepAlive() && bodyKind != h1.BodyClose && sr.buffered() == 0 {
			srv.sh.pool.put(idleConn{c: x.sconn, since: time.Now(), rdl: sr.dl, wdl: sw.dl, rc: x.rc})
		} else {
			x.sconn.Close()
		}
		x.sconn = nil
		sent := cc.out.n + int64(len(cc.out.b))
		cc.countOut(&x, sent)
		cc.logExchange(&x, tStart)
		err = cc.out.flush()
		cc.out.n = 0
		cc.out.releaseBuf()
		return err == nil && clientKA
	}
	x.sconn.Close()
	var ce *copyErr
	errors.As(err, &ce)
	if ce != nil && ce.read {
		cc.out.flush() // the client gets what arrived, then a close
	}
	cc.countOut(&x, cc.out.n)
	cc.out.n = 0
	cc.out.releaseBuf()
	switch {
	case ce != nil && ce.read && isTimeout(ce.err):
		cc.term[0], cc.term[1] = 's', 'D'
	case ce != nil && ce.read:
		cc.term[0], cc.term[1] = 'S', 'D'
		srv.sh.st.errResp.Add(1)
		be.st.errResp.Add(1)
	case isTimeout(err):
		cc.term[0], cc.term[1] = 'c', 'D'
	default:
		cc.term[0], cc.term[1] = 'C', 'D'
	}
	cc.logExchange(&x, tStart)
	return false
}

func (cc *clientConn) countOut(x *exchange, sent int64) {
	cc.fe.st.bytesOut.Add(uint64(sent))
	x.be.st.bytesOut.Add(uint64(sent))
	x.srv.sh.st.bytesOut.Add(uint64(sent))
	cc.rec.BytesRead = sent
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

var errBadResponse = errors.New("invalid response")

func (cc *clientConn) wantServerKeepAlive(be *backend) bool {
	fe := cc.fe
	return !(fe.serverClose || be.serverClose || fe.httpClose || be.httpClose) && !cc.req.Upgrade
}

func (cc *clientConn) logExchange(x *exchange, tStart time.Time) {
	cc.rec.Retries = x.retries
	if x.srv != nil {
		cc.rec.SrvConn = x.srv.sh.st.cur.Load()
	}
	cc.rec.BeConn = x.be.st.cur.Load()
	cc.emit(tStart, true)
}

// abort ends an exchange without a response (the client went away).
func (cc *clientConn) abort(x *exchange, term string, tStart time.Time) {
	if x.sconn != nil {
		x.sconn.Close()
		x.sconn = nil
	}
	cc.term[0], cc.term[1] = term[0], term[1]
	cc.logExchange(x, tStart)
}

// connect obtains a server slot and a connection, applying retries and
// redispatch. On failure it has answered the client.
func (cc *clientConn) connect(x *exchange, tStart time.Time) bool {
	be := x.be
	tq := time.Now()
	res, err := be.acquire(x.persist, cc.src.Addr(), nil, be.queueTO)
	cc.rec.SrvQueue, cc.rec.BackendQueue = res.srvQueue, res.beQueue
	if err != nil {
		cc.rec.Tw = time.Since(tq)
		cc.failAcquire(err, tStart, be)
		return false
	}
	cc.rec.Tw = time.Since(tq)
	x.srv = res.srv
	x.direct = x.persist != nil && res.srv == x.persist
	if x.persist != nil && !x.direct {
		cc.term[2] = 'D'
	}
	tc := time.Now()
	left := be.retries
	for {
		ic, reused, err := cc.getConn(x)
		if err == nil {
			x.sconn, x.reused, x.rdl, x.wdl, x.rc, x.awaitOK = ic.c, reused, ic.rdl, ic.wdl, ic.rc, ic.awaitOK
			cc.rec.Tc = time.Since(tc)
			return true
		}
		s := x.srv
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
		redispatch := be.redispatch && (!s.sh.up.Load() || left == 0 || (!x.direct && be.algo != algoSource && countLB(be.active) > 1))
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
	}
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
	ic, reused, err := cc.getConn(x)
	if err != nil {
		x.srv.sh.st.errConn.Add(1)
		be.st.errConn.Add(1)
		cc.failReq(503, "SC", tStart, be)
		return false
	}
	x.sconn, x.reused, x.rdl, x.wdl, x.rc, x.awaitOK = ic.c, reused, ic.rdl, ic.wdl, ic.rc, ic.awaitOK
	return true
}

// idempotent methods may be sent again after a server failed to answer
// (RFC 9110 section 9.2.2).
func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
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

func (cc *clientConn) getConn(x *exchange) (idleConn, bool, error) {
	if cc.wantServerKeepAlive(x.be) {
		now := time.Now()
		if ic, ok := x.srv.sh.pool.get(now); ok {
			// The server may have closed a connection idle for long:
			// then read first (no sendAwait).
			ic.awaitOK = now.Sub(ic.since) <= awaitMaxIdle
			return ic, true, nil
		}
	}
	c, err := cc.dial(x)
	if err != nil {
		return idleConn{}, false, err
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
	return dialServer(x.srv.addr, x.srv.da, x.be.connect)
}

// readResponseHead reads the server's response head into cc.resp,
// forwarding interim 1xx responses (other than 101) to the client.
func (cc *clientConn) readResponseHead(x *exchange, sr *bufReader, fe *frontend) error {
	for {
		if sr.buf != nil && sr.buffered() > 0 {
			err := h1.ParseResponse((*sr.buf)[sr.r:sr.w], &cc.resp)
			if err == nil {
				sr.r += cc.resp.Len
				if cc.resp.Status >= 200 || cc.resp.Status == 101 {
					return nil
				}
				// Interim response: forward it and read on.
				cc.out.hold()
				cc.out.b = h1.AppendStatusLine(cc.out.b[:0], cc.resp.Minor, cc.resp.Status, cc.resp.Reason)
				for _, h := range cc.resp.Headers {
					cc.out.b = h1.AppendHeader(cc.out.b, h.Name, h.Value)
				}
				cc.out.b = append(cc.out.b, crlf...)
				if err := cc.out.flush(); err != nil {
					return &copyErr{read: true, err: err}
				}
				continue
			}
			if err != h1.ErrIncomplete {
				return errBadResponse
			}
		}
		if err := sr.fill(); err != nil {
			return err
		}
	}
}

// appendServerHead re-serialises the request for the server.
func (cc *clientConn) appendServerHead(dst []byte, x *exchange, ka bool) []byte {
	req := &cc.req
	be := x.be
	dst = h1.AppendRequestLine(dst, req)
	var ck *cookieCfg
	if x.ckSent {
		ck = be.cookie
	}
	hasFwd := false
	fwd := be.fwd
	if fwd == nil {
		fwd = cc.fe.fwd
	}
	for i := range req.Headers {
		h := &req.Headers[i]
		switch h.Kind {
		case h1.KindContentLength, h1.KindTransferEncoding, h1.KindConnection, h1.KindKeepAlive, h1.KindProxyConnection:
			continue
		case h1.KindExpect:
			if req.Expect100 {
				continue // answered by the proxy
			}
		case h1.KindUpgrade:
			if !req.Upgrade {
				continue
			}
		case h1.KindCookie:
			dst = appendCookieHeader(dst, h, ck)
			continue
		}
		if fwd != nil && !hasFwd && len(h.Name) == len(fwd.header) && h1.EqualFold(h.Name, string(fwd.header)) {
			hasFwd = true
		}
		dst = h1.AppendHeader(dst, h.Name, h.Value)
	}
	switch x.bodyKind {
	case h1.BodyLength:
		dst = h1.AppendContentLength(dst, req.ContentLength)
	case h1.BodyChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if fwd != nil && !(fwd.ifNone && hasFwd) && !prefixesContain(fwd.except, cc.src.Addr()) {
		dst = append(dst, fwd.header...)
		dst = append(dst, ':', ' ')
		dst = cc.src.Addr().AppendTo(dst)
		dst = append(dst, crlf...)
	}
	switch {
	case req.Upgrade:
		dst = append(dst, "Connection: upgrade\r\n"...)
	case !ka && req.Minor == 1:
		dst = append(dst, "Connection: close\r\n"...)
	case ka && req.Minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, crlf...)
}

// appendClientHead re-serialises the response for the client, applying
// cookie persistence.
func (cc *clientConn) appendClientHead(dst []byte, x *exchange, ka bool, body h1.BodyKind) []byte {
	resp := &cc.resp
	be := x.be
	ck := be.cookie
	dst = h1.AppendStatusLine(dst, resp.Minor, resp.Status, resp.Reason)
	serverKept := false
	for i := range resp.Headers {
		h := &resp.Headers[i]
		switch h.Kind {
		case h1.KindContentLength, h1.KindTransferEncoding, h1.KindConnection, h1.KindKeepAlive, h1.KindProxyConnection:
			continue
		case h1.KindSetCookie:
			if ck == nil {
				break
			}
			name, val, attrs := setCookieName(h.Value)
			if string(name) != ck.name {
				break
			}
			switch ck.mode {
			case cookieInsert:
				if ck.preserve {
					serverKept = true
					cc.term[3] = 'P'
					break
				}
				cc.term[3] = 'D'
				continue
			case cookieRewrite:
				dst = append(dst, "Set-Cookie: "...)
				dst = append(dst, name...)
				dst = append(dst, '=')
				dst = append(dst, x.srv.cookie...)
				dst = append(dst, attrs...)
				dst = append(dst, crlf...)
				cc.term[3] = 'R'
				continue
			case cookiePrefix:
				dst = append(dst, "Set-Cookie: "...)
				dst = append(dst, name...)
				dst = append(dst, '=')
				dst = append(dst, x.srv.cookie...)
				dst = append(dst, '~')
				dst = append(dst, val...)
				dst = append(dst, attrs...)
				dst = append(dst, crlf...)
				cc.term[3] = 'R'
				continue
			}
		}
		dst = h1.AppendHeader(dst, h.Name, h.Value)
	}
	switch body {
	case h1.BodyLength:
		dst = h1.AppendContentLength(dst, resp.ContentLength)
	case h1.BodyChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case h1.BodyNone:
		if resp.ContentLength >= 0 && resp.Status != 204 && resp.Status >= 200 {
			dst = h1.AppendContentLength(dst, resp.ContentLength)
		}
	}
	if ck != nil && ck.mode == cookieInsert && !serverKept && (!ck.indirect || !x.direct) {
		if x.srv.cookie != "" {
			dst = appendInsertedCookie(dst, ck, x.srv.cookie)
			cc.term[3] = 'I'
			if ck.nocache && !uncacheable(resp) {
				dst = append(dst, "Cache-Control: private\r\n"...)
			}
		} else if x.ckSent {
			dst = appendInsertedCookie(dst, ck, "")
			cc.term[3] = 'D'
		}
	}
	if !ka {
		dst = append(dst, "Connection: close\r\n"...)
	} else if cc.req.Minor == 0 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, crlf...)
}

// tunnel forwards a 101 response and then bytes both ways (WebSocket).
func (cc *clientConn) tunnel(x *exchange, sr *bufReader, tStart time.Time) bool {
	fe, be := cc.fe, x.be
	cc.out.hold()
	cc.out.b = h1.AppendStatusLine(cc.out.b[:0], cc.resp.Minor, cc.resp.Status, cc.resp.Reason)
	for _, h := range cc.resp.Headers {
		if h.Kind == h1.KindKeepAlive || h.Kind == h1.KindProxyConnection {
			continue
		}
		cc.out.b = h1.AppendHeader(cc.out.b, h.Name, h.Value)
	}
	cc.out.b = append(cc.out.b, crlf...)
	if sr.buffered() > 0 {
		cc.out.b = append(cc.out.b, (*sr.buf)[sr.r:sr.w]...)
		sr.r = sr.w
	}
	err := cc.out.flush()
	if err == nil && cc.in.buffered() > 0 {
		x.sconn.SetWriteDeadline(time.Now().Add(be.server))
		_, err = x.sconn.Write((*cc.in.buf)[cc.in.r:cc.in.w])
		cc.in.r = cc.in.w
	}
	cc.out.releaseBuf()
	cc.in.releaseAll()
	sr.releaseAll()
	cc.rec.Status = 101
	fe.st.status(101)
	be.st.status(101)
	if err != nil {
		x.sconn.Close()
		cc.term[0], cc.term[1] = 'C', 'D'
		cc.logExchange(x, tStart)
		return false
	}
	idle := pickDur(be.tunnel, fe.tunnel, max(fe.client, be.server))
	cc.c.SetDeadline(time.Time{})
	x.sconn.SetDeadline(time.Time{})
	up, down, term := splice2(cc.c, x.sconn, idle)
	x.sconn = nil
	cc.rec.BytesRead = down
	fe.st.bytesOut.Add(uint64(down))
	fe.st.bytesIn.Add(uint64(up))
	be.st.bytesOut.Add(uint64(down))
	be.st.bytesIn.Add(uint64(up))
	cc.term[0], cc.term[1] = term[0], term[1]
	cc.logExchange(x, tStart)
	return false
}
