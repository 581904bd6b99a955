package proxy

import (
	"errors"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

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
	// pool takes sconn back after a kept-alive exchange: the server's, or
	// for a per-request SNI the one of x.sni (nil: not pooled).
	pool     *connPool
	sni      []byte // the per-request SNI (server_tls.go)
	retries  int
	bodyKind h1.BodyKind
	// fresh: the pool whose fresh slot sconn holds, a new connection not
	// answered yet (dialpace.go); nil: none.
	fresh *connPool
}

// forward runs the exchange for the request head in cc.req, whose body (if
// any) the client connection supplies: route, persist, queue, connect,
// retry, rewrite, and relay the response. It reaches the client only through
// the downstream methods. It reports whether the client connection may
// carry another request.
func (cc *clientConn) forward(tStart time.Time) bool {
	fe := cc.fe
	req := &cc.req
	if cc.h2 != nil && cc.h2.isReset() {
		return false // an HTTP/2 stream reset before it was served
	}
	m := cc.requestMatch()
	if fe.reqRules != nil {
		cc.rules.reset()
		if done, ka := cc.httpRequestRules(&m, tStart); done {
			return ka
		}
	}
	// The frontend's `redirects:` come after the http-request rules, as
	// HAProxy's redirect rules do; both kinds answer with cc.redirect.
	if len(fe.redirects) > 0 {
		if done, ka := cc.redirects(&m, tStart); done {
			return ka
		}
	}
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
		x.freshDone()
		if x.srv != nil {
			be.release(x.srv)
		}
		cc.srvR.rc, cc.srvW.rc = nil, nil // see rawServer
	}()
	cc.rec.Server = srv.name

	// Head for the server.
	ka := cc.wantServerKeepAlive(be)
	sw := bufWriter{c: x.sconn, timeout: be.server, dl: x.wdl}
	sw.hold()
	defer sw.releaseBuf()
	sr := bufReader{c: x.sconn, timeout: be.server, dl: x.rdl}
	defer sr.releaseAll()
	cc.rawServer(&x, &sw, &sr)

	body := cc.bodyMark()
	replayable := cc.bodyInHand(x.bodyKind, req.ContentLength, body)
	var tSent time.Time
	timed := cc.timed()
	for attempt := 0; ; attempt++ {
		sw.b = cc.appendServerHead(sw.b[:0], &x, ka)
		if req.Expect100 && x.bodyKind != h1.BodyNone && attempt == 0 {
			if err := cc.sendContinue(); err != nil {
				cc.abort(&x, "CC", tStart)
				return false
			}
		}
		err := cc.sendBody(&sw, x.bodyKind, req.ContentLength, body)
		if err == nil && sw.n == 0 && x.awaitOK && x.rc != nil && len(sw.b) > 0 {
			// The whole request is in hand: write it and wait for the
			// answer without a speculative read (Tr counts that wait).
			if timed {
				tSent = time.Now()
			}
			err = cc.sendAwait(&x, &sw, &sr)
		} else {
			if err == nil {
				err = sw.flush()
			}
			if timed {
				tSent = time.Now()
			}
		}
		if err == nil {
			err = cc.readResponseHead(&x, &sr, fe)
		} else if x.srv.tls != nil {
			err = refusalAfterWrite(&x, err)
		}
		if err == nil {
			x.freshDone() // the server answered
			break
		}
		if cc.h2 != nil && cc.h2.isReset() {
			// The client reset the HTTP/2 stream (its server
			// connection was closed for it): no retry.
			cc.abort(&x, "CC", tStart)
			return false
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
			if cc.h2 != nil && !cc.h2.useServer(c) {
				cc.abort(&x, "CC", tStart) // the stream was reset meanwhile
				return false
			}
			x.sconn, x.reused, x.awaitOK = c, false, false
			x.rc, _ = c.SyscallConn()
			sw.c, sr.c = c, c
			cc.rawServer(&x, &sw, &sr)
			sw.dl, sr.dl = time.Time{}, time.Time{}
			sr.r, sr.w, sr.n, sr.gotAny = 0, 0, 0, false
			continue
		}
		if !sr.gotAny && refusedAfterHandshake(&x, err) {
			// A TLS 1.3 server refused the session on the first read
			// (client certificate): a failed handshake, so 503 SC,
			// after the retries (the request never reached its HTTP).
			cc.serverRefusedTLS(&x, err)
			if replayable && x.retries < be.retries {
				if !cc.retryOn(&x, &sw, &sr, tStart) {
					return false
				}
				srv = x.srv
				continue
			}
			cc.rec.Retries = x.retries
			cc.failReq(503, "SC", tStart, be)
			return false
		}
		x.sconn.Close()
		srv.sh.st.errResp.Add(1)
		be.st.errResp.Add(1)
		if !sr.gotAny && replayable && !isTimeout(err) && idempotent(req.Method) && x.retries < be.retries {
			// The server closed without a byte of answer (it died or
			// restarted under us): an idempotent request is sent again,
			// to another server with option redispatch (HAProxy's
			// retry-on empty-response), instead of a 502.
			if !cc.retryOn(&x, &sw, &sr, tStart) {
				return false
			}
			srv = x.srv
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
	reqBytes := sw.n
	srv.sh.st.bytesIn.Add(uint64(reqBytes))
	be.st.bytesIn.Add(uint64(reqBytes))
	fe.st.bytesIn.Add(uint64(cc.bodyDone(body)))
	if timed {
		cc.rec.Tr = time.Since(tSent)
	}
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
	clientKA := cc.keepAlive(be, bodyKind)
	out := cc.startResponse(&x, clientKA, bodyKind)
	var err error
	switch bodyKind {
	case h1.BodyLength:
		err = copyN(out, &sr, resp.ContentLength)
	case h1.BodyChunked:
		err = copyChunked(out, &sr, cc.h2 == nil) // HTTP/2 frames the body itself
	case h1.BodyClose:
		err = copyUntilEOF(out, &sr)
	}
	cc.rec.Status = resp.Status
	fe.st.status(resp.Status)
	be.st.status(resp.Status)
	srv.sh.st.status(resp.Status)
	if err == nil {
		// The whole response is in hand: recycle the server connection
		// and log before the last write, so the record exists by the time
		// the client has the response.
		// A connection that carried a PROXY header names this client: it
		// is not pooled for others.
		// An HTTP/2 stream forgets the connection first, so that a
		// reset of the stream cannot close it once it is pooled.
		alive := cc.h2 == nil || cc.h2.dropServer()
		if alive && ka && resp.KeepAlive() && bodyKind != h1.BodyClose && sr.buffered() == 0 && srv.sendProxy == 0 && x.pool != nil {
			x.pool.put(idleConn{c: x.sconn, since: time.Now(), rdl: sr.dl, wdl: sw.dl, rc: x.rc})
		} else {
			x.sconn.Close()
			if x.pool != nil && (!resp.KeepAlive() || bodyKind == h1.BodyClose) {
				x.pool.serverCloses() // nothing to wait for (dialpace.go)
			}
		}
		x.sconn = nil
		cc.countOut(&x, cc.responseSent())
		cc.logExchange(&x, tStart)
		return cc.finishResponse() == nil && clientKA
	}
	x.sconn.Close()
	var ce *copyErr
	errors.As(err, &ce)
	// On a server failure the client gets what arrived, then a close.
	cc.countOut(&x, cc.abortResponse(ce != nil && ce.read))
	switch {
	case cc.h2 != nil && cc.h2.isReset():
		cc.term[0], cc.term[1] = 'C', 'D'
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

// rawServer points the request writer and the response reader at the
// server connection's raw writer and reader when it has a RawConn (a plain
// socket; TLS has none): their waits then make raw system calls, not
// syscall.Read/Write (rawio.go).
func (cc *clientConn) rawServer(x *exchange, sw *bufWriter, sr *bufReader) {
	if x.rc == nil {
		sw.raw, sr.raw = nil, nil
		return
	}
	cc.srvR.rc, cc.srvW.rc = x.rc, x.rc
	sw.raw, sr.raw = &cc.srvW, &cc.srvR
}

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

// idempotent methods may be sent again after a server failed to answer
// (RFC 9110 section 9.2.2).
func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
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
				if err := cc.sendInterim(&cc.resp); err != nil {
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

// retryOn moves the exchange to another server connection for a retry
// (reconnect: a new one, maybe on another server with redispatch) and points
// the request's writer and the response's reader at it, with nothing read
// yet. false: the request has been answered (no server).
func (cc *clientConn) retryOn(x *exchange, sw *bufWriter, sr *bufReader, tStart time.Time) bool {
	if !cc.reconnect(x, tStart) {
		return false
	}
	cc.rec.Server = x.srv.name
	sw.c, sr.c = x.sconn, x.sconn
	cc.rawServer(x, sw, sr)
	sw.dl, sr.dl = x.wdl, x.rdl
	sr.r, sr.w, sr.n, sr.gotAny = 0, 0, 0, false
	return true
}
