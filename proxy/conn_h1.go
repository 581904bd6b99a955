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
	dst    netip.AddrPort // a PROXY header's destination; invalid: the local address
	in     bufReader      // client -> proxy
	out    bufWriter      // proxy -> client

	term [4]byte
	pidx int32 // the idle poller's (idlepoll.go)
	// tls is the TLS session of a connection on a TLS bind (conn_tls.go);
	// nil for plain connections.
	tls *tlsState

	// ct holds the trackers of tcp-request connection rules; nil if none.
	ct *connTrack

	// h2 is the HTTP/2 stream this request came on (h2_stream.go); nil
	// for HTTP/1.1. The downstream methods hand over to it.
	h2 *h2stream

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
	rec   LogRecord
	await awaitState
	// awaitFn is await.step, made once per reqState.
	awaitFn func(fd uintptr) bool
	// The raw reader and writer (rawsock.go) of the buffered reads and
	// writes: on the server connection (exchange.go) and on a plain
	// client connection (getReq). Their step functions are made once per
	// reqState, their RawConns set while a request uses them.
	srvR, cliR rawReader
	srvW, cliW rawWriter
	rules      ruleState // rules.go

	lastTerm    [4]byte // cached strings for the access log
	lastTermStr string
	lastLine    string
}

var reqPool = sync.Pool{New: func() any {
	rs := &reqState{}
	rs.awaitFn = rs.await.step
	rs.srvR.init(nil)
	rs.cliR.init(nil)
	rs.srvW.init(nil)
	rs.cliW.init(nil)
	rs.req.Headers = make([]h1.Header, 0, 16)
	rs.resp.Headers = make([]h1.Header, 0, 16)
	return rs
}}

// getReq makes sure the connection holds a reqState.
func (cc *clientConn) getReq() {
	if cc.reqState == nil {
		rs := reqPool.Get().(*reqState)
		cc.reqState = rs
		if cc.rc != nil {
			// A plain client connection (TLS and HTTP/2 streams have
			// none): its buffered reads and writes (request bodies,
			// a response the socket cannot take at once) make raw
			// calls while the request is in hand.
			rs.cliR.rc, rs.cliW.rc = cc.rc, cc.rc
			cc.in.raw, cc.out.raw = &rs.cliR, &rs.cliW
		}
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
	cc.in.raw, cc.out.raw = nil, nil
	rs.cliR.rc, rs.cliW.rc, rs.srvR.rc, rs.srvW.rc = nil, nil, nil, nil
	hq, hr := rs.req.Headers, rs.resp.Headers
	clear(hq[:cap(hq)])
	clear(hr[:cap(hr)])
	rs.req, rs.resp, rs.rec, rs.await = h1.Request{}, h1.Response{}, LogRecord{}, awaitState{}
	rs.rules.reset()
	rs.req.Headers, rs.resp.Headers = hq[:0], hr[:0]
	reqPool.Put(rs)
}

func (e *Engine) serveHTTP(c *net.TCPConn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], src, dst netip.AddrPort, ct *connTrack) {
	cc := &clientConn{e: e, fe: fe, cur: cur, gt: gt, c: c, src: src, dst: dst, ct: ct}
	cc.in.c, cc.out.c = c, c
	cc.in.timeout, cc.out.timeout = fe.client, fe.client
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
	cc.ct.release(uint64(cc.in.n), 0)
	cc.e.untrack(cc)
	cc.e.connDone(cc.fe, cc.gt)
}

// idleParkAfter: a keep-alive connection idle for between 3/4 of this and
// this (and with more keep-alive time left) is parked: its descriptor goes
// to the engine's idle poller (idlepoll.go) and the goroutine that served
// its requests exits, so that an idle connection holds no goroutine (its
// stack grew to 4-8 KB serving requests, and the runtime shrinks stacks
// only during a garbage collection, which a proxy whose connections sit
// idle does not run). The poller continues the connection on a new
// goroutine when its next request arrives. A park costs a few
// microseconds of CPU (an epoll_ctl, then a goroutine start and the stack
// growing again on the next request); connections busier than one request
// per idleParkAfter never pay it. Tests shorten it.
var idleParkAfter = 100 * time.Millisecond

// serve runs the request loop until the connection ends or parks; a
// parked connection waits in the engine's idle poller (idlepoll.go), which
// continues it on a new goroutine, or else on a fresh goroutine.
func (cc *clientConn) serve() {
	if cc.loop() {
		cc.putReq()
		dl := cc.kaEnd
		cc.kaEnd = time.Time{} // the next timeout is the keep-alive expiry
		cc.beginWait(dl)
		cc.e.idleParks.Add(1)
		if !cc.park() {
			go cc.serve()
		}
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
		if !cc.afterStep() {
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

// afterStep acts on the outcome a step left in cc.st: the error answers
// (400 on a broken connection with bytes pending, the parser's status), or
// a request with a body or an upgrade, served on the slow path. False: the
// connection ends. Plain and TLS connections share it.
func (cc *clientConn) afterStep() bool {
	st := &cc.st
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
		return true
	default:
		return false
	}
}

// serveBuffered parses and serves the requests already in the input
// buffer, as long as they are complete and bodiless (the fast case). It
// returns true when the connection's step must end with cc.st.outcome set
// (parse error, a request with a body or an upgrade, or close), false when
// the buffer needs more bytes. Plain (step) and TLS (stepTLS) connections
// share it; they differ only in how they read.
func (cc *clientConn) serveBuffered() bool {
	st := &cc.st
	for cc.in.buffered() > 0 && !st.needMore {
		cc.getReq()
		err := h1.ParseRequest((*cc.in.buf)[cc.in.r:cc.in.w], &cc.req)
		if err == h1.ErrIncomplete {
			if cc.in.r == 0 && cc.in.w == len(*cc.in.buf) {
				st.outcome, st.err = outParse, errHeadTooLarge
				return true
			}
			if !st.armed {
				st.armed = true
				cc.in.dl = st.tStart.Add(cc.fe.httpRequest)
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
	}
	return false
}

// step runs inside RawConn.Read; false means "wait for readability".
func (cc *clientConn) step(fd uintptr) bool {
	// The client descriptor is held until step returns: responses written
	// from here go out with a raw write first.
	cc.out.held, cc.out.fd = true, int(fd)
	defer func() { cc.out.held = false }()
	st := &cc.st
	for {
		if cc.serveBuffered() {
			return true
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
	if cc.h2 != nil {
		cc.h2.sendPage(page)
		return
	}
	cc.c.SetWriteDeadline(time.Now().Add(fe.client))
	cc.out.writeAll(page)
}

func (cc *clientConn) resetRecord(tStart time.Time) {
	cc.rec = LogRecord{
		Client: cc.src, AcceptedAt: tStart, Frontend: cc.fe.name, Backend: cc.fe.name,
		TR: -1, Tw: -1, Tc: -1, Tr: -1, ReqCookie: "-", RespCookie: "-", TLS: cc.tls != nil,
	}
	cc.term = [4]byte{'-', '-', '-', '-'}
}

func (cc *clientConn) emit(tStart time.Time, withLine bool) {
	fe := cc.fe
	if cc.reqState != nil {
		cc.endRequestTracking()
	}
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
		ver := " HTTP/1.1"
		if cc.h2 != nil {
			ver = " HTTP/2.0"
		} else if req.Minor == 0 {
			ver = " HTTP/1.0"
		}
		n := len(req.Method) + 1 + len(req.URI) + len(ver)
		if len(l) != n || l[:len(req.Method)] != string(req.Method) || l[len(req.Method)+1:n-len(ver)] != string(req.URI) || l[n-len(ver):] != ver {
			b := make([]byte, 0, n)
			b = append(b, req.Method...)
			b = append(b, ' ')
			b = append(b, req.URI...)
			b = append(b, ver...)
			cc.lastLine = string(b)
		}
		r.RequestLine = cc.lastLine
	} else if withLine {
		r.RequestLine = "<BADREQ>"
	}
	cc.e.opts.AccessLog(r)
}

// handle serves one parsed request head: the HTTP/1.1 side consumes the
// head, answers the stats URI, and hands the rest to the exchange
// (forward). It reports whether the connection may carry another request.
func (cc *clientConn) handle(tStart time.Time) bool {
	fe, req := cc.fe, &cc.req
	tHead := time.Now()
	fe.st.requests.Add(1)
	fe.st.bytesIn.Add(uint64(req.Len))
	cc.in.r += req.Len // the head is consumed; the body (if any) follows
	cc.resetRecord(tStart)
	cc.rec.TR = tHead.Sub(tStart)
	if fe.stats != nil && bytes.HasPrefix(req.URI, fe.stats.uri) {
		return cc.serveStats(tStart)
	}
	return cc.forward(tStart)
}

// downstream is what an exchange (exchange.go, acquire.go, rewrite.go)
// needs from the client protocol that carried its request: the body, the
// interim and final responses, the keep-alive decision, error answers and
// the log record. The exchange reaches the client connection only through
// these methods; clientConn implements them for HTTP/1.1, and an HTTP/2
// stream can implement them without the exchange changing (the request
// head is an h1.Request, which an HTTP/2 stream fills from its HEADERS).
// The exchange code still names *clientConn as its receiver: the interface
// states the seam and the compiler keeps clientConn to it.
type downstream interface {
	bodyMark() int
	bodyInHand(kind h1.BodyKind, length int64, mark int) bool
	sendContinue() error
	sendBody(sw *bufWriter, kind h1.BodyKind, length int64, mark int) error
	bodyDone(mark int) int64
	sendInterim(resp *h1.Response) error
	keepAlive(be *backend, kind h1.BodyKind) bool
	startResponse(x *exchange, ka bool, kind h1.BodyKind) *bufWriter
	responseSent() int64
	finishResponse() error
	abortResponse(flush bool) int64
	tunnel(x *exchange, sr *bufReader, tStart time.Time) bool
	failReq(code int, term string, tStart time.Time, be *backend)
	emit(tStart time.Time, withLine bool)
}

var _ downstream = (*clientConn)(nil)

// bodyMark returns the position of the request body in the input buffer,
// for sendBody to start from on every attempt.
func (cc *clientConn) bodyMark() int { return cc.in.r }

// bodyInHand reports whether the whole request body is buffered, so that a
// failed attempt can be sent again.
func (cc *clientConn) bodyInHand(kind h1.BodyKind, length int64, mark int) bool {
	if cc.h2 != nil {
		return cc.h2.bodyInHand(kind)
	}
	return kind == h1.BodyNone || (kind == h1.BodyLength && int64(cc.in.w-mark) >= length)
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// sendContinue answers Expect: 100-continue.
func (cc *clientConn) sendContinue() error {
	if cc.h2 != nil {
		return cc.h2.sendContinue()
	}
	cc.out.dl = time.Now().Add(cc.fe.client)
	cc.c.SetWriteDeadline(cc.out.dl)
	_, err := cc.out.writeAll(continue100)
	return err
}

// sendBody copies the request body, from mark, into sw.
func (cc *clientConn) sendBody(sw *bufWriter, kind h1.BodyKind, length int64, mark int) error {
	if cc.h2 != nil {
		return cc.h2.sendBody(sw, kind)
	}
	cc.in.r = mark
	switch kind {
	case h1.BodyLength:
		return copyN(sw, &cc.in, length)
	case h1.BodyChunked:
		return copyChunked(sw, &cc.in, true)
	}
	return nil
}

// bodyDone ends the request body and returns its size as received.
func (cc *clientConn) bodyDone(mark int) int64 {
	if cc.h2 != nil {
		return cc.h2.bodyDone()
	}
	cc.in.timeout = cc.fe.client
	return int64(cc.in.r - mark)
}

// sendInterim forwards an interim (1xx) response.
func (cc *clientConn) sendInterim(resp *h1.Response) error {
	if cc.h2 != nil {
		return cc.h2.sendInterim(resp)
	}
	cc.out.hold()
	cc.out.b = h1.AppendStatusLine(cc.out.b[:0], resp.Minor, resp.Status, resp.Reason)
	for _, h := range resp.Headers {
		cc.out.b = h1.AppendHeader(cc.out.b, h.Name, h.Value)
	}
	cc.out.b = append(cc.out.b, crlf...)
	return cc.out.flush()
}

// keepAlive reports whether the connection may carry another request after
// a response with this body. After a reload, and during a soft stop, the
// response closes the connection (softstop.go), so long-lived keep-alive
// clients move to the new config or process.
func (cc *clientConn) keepAlive(be *backend, kind h1.BodyKind) bool {
	fe := cc.fe
	return cc.req.KeepAlive() && !fe.httpClose && !be.httpClose && kind != h1.BodyClose && cc.keepServing(fe)
}

// startResponse writes the response head (rewritten for the client) and
// returns the writer the body goes to.
func (cc *clientConn) startResponse(x *exchange, ka bool, kind h1.BodyKind) *bufWriter {
	if cc.h2 != nil {
		return cc.h2.startResponse(x, kind)
	}
	cc.out.hold()
	cc.out.b = cc.appendClientHead(cc.out.b[:0], x, ka, kind)
	return &cc.out
}

// responseSent is the size of the response written so far, buffered bytes
// included.
func (cc *clientConn) responseSent() int64 {
	if cc.h2 != nil {
		return cc.h2.out.n + int64(len(cc.h2.out.b))
	}
	return cc.out.n + int64(len(cc.out.b))
}

// finishResponse sends what is buffered and ends the response.
func (cc *clientConn) finishResponse() error {
	if cc.h2 != nil {
		return cc.h2.finishResponse()
	}
	err := cc.out.flush()
	cc.out.n = 0
	cc.out.releaseBuf()
	return err
}

// abortResponse ends a response that failed part way, sending what is
// buffered first when flush is set; it returns the bytes sent.
func (cc *clientConn) abortResponse(flush bool) int64 {
	if cc.h2 != nil {
		return cc.h2.abortResponse(flush)
	}
	if flush {
		cc.out.flush()
	}
	n := cc.out.n
	cc.out.n = 0
	cc.out.releaseBuf()
	return n
}
