package proxy

import (
	"bytes"
	"errors"
	"hash/maphash"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// h2stream is one HTTP/2 request. Its clientConn carries the request state
// the exchange works on (the h1.Request built from the HEADERS, the log
// record); the downstream methods of that clientConn come here (cc.h2).
type h2stream struct {
	hc     *h2conn
	id     uint32
	cc     clientConn
	tStart time.Time
	head   []byte // the request as an HTTP/1.1 head (cc.req points into it)
	refuse int    // answer this status instead of forwarding

	// Under hc.mu.
	body    []byte // request body received, not yet sent on
	dropped bool   // body bytes were sent on and dropped: no replay
	gotEnd  bool   // END_STREAM received
	declLen int64  // the request's Content-Length, -1 if none
	recvd   int64
	recvWin int64
	sendWin int64
	endSent bool
	reset   bool // reset by either side, or the connection ended
	// peerReset: the client reset the stream (its later frames for it are
	// errors; frames in flight when lbd resets one are ignored).
	peerReset bool
	sconn     conn // the server connection of the exchange, closed on reset

	// The response (stream goroutine only).
	out     bufWriter
	pending []hpack.HeaderField // response head not yet sent
	hdrSent bool

	// Reused per stream (stream goroutine only) while the writer has
	// taken every frame handed to it: wf is the frame sendWait queues,
	// fscratch the response fields, hscratch the parsed response head.
	// lost: a sendWait ended without the writer's answer (the connection
	// closed), so the writer may still read them: later sends allocate.
	wf       h2frame
	lost     bool
	fscratch [16]hpack.HeaderField
	hscratch [16]h1.Header
	headBuf  *[]byte // pooled backing of head

	// A last frame posted without waiting (finishResponse): refs counts
	// the stream's end and the writer's, the last one gives back held
	// (the response buffer the frame's data points into) and the stream.
	refs atomic.Int32
	held bufWriter
}

var errStreamReset = errors.New("h2: stream reset")

// h2StreamPool holds ended streams (cleared, with their send frame's done
// channel) for the next ones of any connection.
var h2StreamPool = sync.Pool{New: func() any { return new(h2stream) }}

// putH2Stream gives an ended, released stream back. One whose send was
// lost is not reused: the writer may still read its frame.
func putH2Stream(s *h2stream) {
	if s.lost {
		return
	}
	done := s.wf.done // empty: every send got its answer
	*s = h2stream{}
	s.wf.done = done
	h2StreamPool.Put(s)
}

// unref lets go of a stream whose last frame was posted: the stream's
// end and the writer both call it, the second one puts it back.
func (s *h2stream) unref() {
	if s.refs.Add(-1) == 0 {
		s.held.releaseBuf()
		putH2Stream(s)
	}
}

// newH2Stream takes a stream from the pool: cleared by putH2Stream (or
// new), so only the fields set here are assigned (a composite literal
// would build the whole stream on the stack and copy it).
func newH2Stream(hc *h2conn, id uint32) *h2stream {
	s := h2StreamPool.Get().(*h2stream)
	s.hc, s.id, s.declLen, s.recvWin, s.tStart = hc, id, -1, h2StreamWindow, hc.now
	cc := &s.cc
	cc.e, cc.fe, cc.cur, cc.src, cc.dst, cc.tls, cc.ct, cc.h2 = hc.e, hc.fe, hc.cur, hc.src, hc.dst, hc.tls, hc.ct, s
	cc.getReq()
	return s
}

// release gives back the pooled state.
func (s *h2stream) release() {
	s.cc.putReq()
	s.out.releaseBuf()
	if s.headBuf != nil {
		s.head = nil
		putBuf(s.headBuf)
		s.headBuf = nil
	}
}

// frame returns the frame to hand to sendWait: the stream's own unless a
// send was lost.
func (s *h2stream) frame(typ uint8) *h2frame {
	if s.lost {
		return &h2frame{typ: typ, sid: s.id}
	}
	done := s.wf.done
	s.wf = h2frame{typ: typ, sid: s.id, done: done}
	return &s.wf
}

// sendWait hands f to the writer and waits for it.
func (s *h2stream) sendWait(f *h2frame) error {
	err := s.hc.sendWait(f)
	if err == errH2Closed {
		s.lost = true
	}
	return err
}

// scratch returns the field and header scratch space (nil once a send
// was lost: then they are allocated).
func (s *h2stream) scratch() ([]hpack.HeaderField, []h1.Header) {
	if s.lost {
		return nil, nil
	}
	return s.fscratch[:0], s.hscratch[:0]
}

// abortLocked marks the stream dead and closes its server connection, so
// that a reset stream stops costing one (hc.mu held).
func (s *h2stream) abortLocked() {
	s.reset = true
	if s.sconn != nil {
		s.sconn.Close()
	}
}

func (s *h2stream) isReset() bool {
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	return s.reset || s.hc.dead
}

// useServer records the exchange's server connection; false: the stream
// was reset (the connection is closed).
func (s *h2stream) useServer(c conn) bool {
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	if s.reset || s.hc.dead {
		c.Close()
		return false
	}
	s.sconn = c
	return true
}

// dropServer forgets the exchange's server connection before it is
// pooled: a later reset of the stream must not close a connection that
// another exchange may be using. false: the stream was reset, and the
// connection closed with it.
func (s *h2stream) dropServer() bool {
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	s.sconn = nil
	return !s.reset
}

// buildRequest checks the request's header fields (RFC 9113 8.3) and
// writes them as an HTTP/1.1 head, parsed by proxy/h1 into cc.req like any
// other request. A malformed request is a stream error (the code); a
// request that parses but cannot be served gets status.
func (s *h2stream) buildRequest(f *h2block) (http2.ErrCode, int) {
	var method, scheme, path, auth string
	hasAuth := false
	for _, hf := range f.fields[:f.npseudo] {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":path":
			path = hf.Value
		case ":authority":
			auth, hasAuth = hf.Value, true
		default:
			// :protocol (extended CONNECT is not offered), :status.
			return http2.ErrCodeProtocol, 0
		}
	}
	if method == "" {
		return http2.ErrCodeProtocol, 0
	}
	if method == "CONNECT" {
		// No tunnels over HTTP/2 (WebSocket stays HTTP/1.1).
		return http2.ErrCodeNo, 405
	}
	if scheme == "" || path == "" || (path[0] != '/' && path != "*") {
		return http2.ErrCodeProtocol, 0
	}
	s.headBuf = getBuf()
	b := (*s.headBuf)[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\n"...)
	if hasAuth {
		b = append(b, "host: "...)
		b = append(b, auth...)
		b = append(b, crlf...)
	}
	hasCL := false
	var cookies []string
	for _, hf := range f.fields[f.npseudo:] {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return http2.ErrCodeProtocol, 0
		case "te":
			if hf.Value != "trailers" {
				return http2.ErrCodeProtocol, 0
			}
		case "host":
			if hasAuth {
				continue
			}
		case "content-length":
			hasCL = true
		case "cookie":
			// Crumbs are joined into one header (RFC 9113 8.2.3).
			cookies = append(cookies, hf.Value)
			continue
		}
		b = append(b, hf.Name...)
		b = append(b, ':', ' ')
		b = append(b, hf.Value...)
		b = append(b, crlf...)
	}
	if len(cookies) > 0 {
		b = append(b, "cookie: "...)
		b = append(b, strings.Join(cookies, "; ")...)
		b = append(b, crlf...)
	}
	return s.finishHead(b, f.ended, hasCL)
}

func (s *h2stream) finishHead(b []byte, ended, hasCL bool) (http2.ErrCode, int) {
	if !ended && !hasCL {
		// A body of unknown length: chunked to the server.
		b = append(b, "transfer-encoding: chunked\r\n"...)
	}
	b = append(b, crlf...)
	s.head = b
	s.cc.in.n = int64(len(b)) // for dontlognull: something was received
	if len(b) > h1.MaxHeadBytes {
		return http2.ErrCodeNo, 431
	}
	req := &s.cc.req
	if err := h1.ParseRequest(b, req); err != nil {
		var pe *h1.Error
		if errors.As(err, &pe) {
			return http2.ErrCodeNo, pe.Status
		}
		return http2.ErrCodeNo, 400
	}
	if hasCL {
		s.declLen = req.ContentLength
		if ended && s.declLen > 0 {
			return http2.ErrCodeProtocol, 0 // Content-Length without DATA
		}
	}
	return http2.ErrCodeNo, 0
}

// run serves the stream on its own goroutine.
func (s *h2stream) run() {
	defer s.hc.streamDone(s)
	cc := &s.cc
	fe := cc.fe
	if s.refuse != 0 {
		fe.st.requests.Add(1)
		cc.fail(s.refuse, "PR", s.tStart, nil)
		return
	}
	fe.st.requests.Add(1)
	fe.st.bytesIn.Add(uint64(len(s.head)))
	cc.resetRecord(s.tStart)
	if cc.timed() {
		cc.rec.TR = time.Since(s.tStart)
	}
	if fe.stats != nil && bytes.HasPrefix(cc.req.URI, fe.stats.uri) {
		cc.serveStats(s.tStart)
		return
	}
	cc.forward(s.tStart)
}

// The downstream methods for HTTP/2 (see conn_h1.go).

func (s *h2stream) bodyInHand(kind h1.BodyKind) bool {
	if kind == h1.BodyNone {
		return true
	}
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	return s.gotEnd && !s.dropped
}

// sendBody sends the request body to sw: the whole body when it is in
// hand (kept for a replay), else as DATA frames arrive, each consumed
// frame's bytes returned to the client's stream window.
func (s *h2stream) sendBody(sw *bufWriter, kind h1.BodyKind) error {
	if kind == h1.BodyNone {
		return nil
	}
	hc := s.hc
	chunked := kind == h1.BodyChunked
	hc.mu.Lock()
	if s.gotEnd && !s.dropped {
		data := s.body
		hc.mu.Unlock()
		if err := s.writeBody(sw, data, chunked); err != nil {
			return err
		}
		return s.endBody(sw, chunked)
	}
	s.dropped = true
	dl := time.Now().Add(hc.fe.client)
	for {
		for len(s.body) == 0 && !s.gotEnd && !s.reset && !hc.dead {
			if !hc.waitUntil(dl) {
				hc.mu.Unlock()
				return rerr(os.ErrDeadlineExceeded)
			}
		}
		if s.reset || hc.dead {
			hc.mu.Unlock()
			return rerr(errStreamReset)
		}
		data, end := s.body, s.gotEnd
		s.body = nil
		hc.mu.Unlock()
		if err := s.writeBody(sw, data, chunked); err != nil {
			return err
		}
		if end {
			return s.endBody(sw, chunked)
		}
		if len(data) > 0 {
			hc.mu.Lock()
			s.recvWin += int64(len(data))
			hc.mu.Unlock()
			hc.send(&h2frame{typ: fWindow, sid: s.id, n: uint32(len(data))})
		}
		dl = time.Now().Add(hc.fe.client)
		hc.mu.Lock()
	}
}

func (s *h2stream) writeBody(sw *bufWriter, data []byte, chunked bool) error {
	if len(data) == 0 {
		return nil
	}
	if chunked {
		if err := sw.ensure(24); err != nil {
			return werr(err)
		}
		sw.b = h1.AppendChunkSize(sw.b, int64(len(data)))
	}
	if err := sw.write(data); err != nil {
		return werr(err)
	}
	if chunked {
		if err := sw.write(crlf); err != nil {
			return werr(err)
		}
	}
	return nil
}

func (s *h2stream) endBody(sw *bufWriter, chunked bool) error {
	if !chunked {
		return nil
	}
	if err := sw.ensure(24); err != nil {
		return werr(err)
	}
	sw.b = h1.AppendChunkSize(sw.b, 0)
	if err := sw.write(crlf); err != nil {
		return werr(err)
	}
	return nil
}

func (s *h2stream) bodyDone() int64 {
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	return s.recvd
}

// sendHead sends a HEADERS frame (and CONTINUATIONs).
func (s *h2stream) sendHead(fields []hpack.HeaderField, end bool) error {
	hc := s.hc
	hc.mu.Lock()
	if s.reset || hc.dead {
		hc.mu.Unlock()
		return errStreamReset
	}
	if end {
		s.markEndLocked()
	}
	hc.mu.Unlock()
	f := s.frame(fHeaders)
	f.fields, f.end = fields, end
	return s.sendWait(f)
}

func (s *h2stream) markEndLocked() {
	s.endSent = true
	if s.gotEnd {
		s.hc.removeLocked(s)
	}
}

// sendData sends p as DATA frames within the flow-control windows, the
// last with END_STREAM when end is set. It waits for window at most
// timeout client.
func (s *h2stream) sendData(p []byte, end bool) error {
	hc := s.hc
	dl := time.Now().Add(hc.fe.client)
	for {
		hc.mu.Lock()
		for len(p) > 0 && !s.reset && !hc.dead && !hc.wdead.Load() && (hc.sendWin <= 0 || s.sendWin <= 0) {
			if !hc.waitUntil(dl) {
				hc.mu.Unlock()
				return os.ErrDeadlineExceeded
			}
		}
		if s.reset || hc.dead || hc.wdead.Load() {
			hc.mu.Unlock()
			return errStreamReset
		}
		n := int64(len(p))
		n = min(n, hc.sendWin, s.sendWin, int64(hc.peerFrame.Load()))
		hc.sendWin -= n
		s.sendWin -= n
		last := end && n == int64(len(p))
		if last {
			s.markEndLocked()
		}
		hc.mu.Unlock()
		f := s.frame(fData)
		f.end, f.data = last, p[:n]
		if err := s.sendWait(f); err != nil {
			return err
		}
		p = p[n:]
		if len(p) == 0 && (last || !end) {
			return nil
		}
	}
}

// reserve takes n bytes of both send windows for a last DATA frame and
// marks the stream ended; false (nothing taken) when they are short or
// the stream is gone.
func (s *h2stream) reserve(n int) bool {
	hc := s.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if s.reset || hc.dead || hc.wdead.Load() || int64(n) > hc.sendWin || int64(n) > s.sendWin || n > int(hc.peerFrame.Load()) {
		return false
	}
	hc.sendWin -= int64(n)
	s.sendWin -= int64(n)
	s.markEndLocked()
	return true
}

// Write is the response body writer's connection (bufWriter.c): the first
// write sends the pending head.
func (s *h2stream) Write(p []byte) (int, error) {
	if !s.hdrSent {
		s.hdrSent = true
		if err := s.sendHead(s.pending, false); err != nil {
			return 0, err
		}
	}
	if err := s.sendData(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *h2stream) Read(p []byte) (int, error)            { return 0, errStreamReset }
func (s *h2stream) Close() error                          { return nil }
func (s *h2stream) SetDeadline(t time.Time) error         { return nil }
func (s *h2stream) SetReadDeadline(t time.Time) error     { return nil }
func (s *h2stream) SetWriteDeadline(t time.Time) error    { return nil }
func (s *h2stream) SyscallConn() (syscall.RawConn, error) { return nil, errStreamReset }

// fieldsOf converts an HTTP/1.1 head to HTTP/2 fields, without the
// connection-specific headers (RFC 9113 8.2.2), appending to dst. The
// strings come from h2Strings (no allocation for the names and values
// seen lately).
func fieldsOf(dst []hpack.HeaderField, status int, hs []h1.Header) []hpack.HeaderField {
	dst = append(dst, hpack.HeaderField{Name: ":status", Value: statusString(status)})
	for i := range hs {
		dst = appendField(dst, &hs[i])
	}
	return dst
}

// appendField appends h as an HTTP/2 field, its name lower-cased, unless
// it is connection-specific.
func appendField(dst []hpack.HeaderField, h *h1.Header) []hpack.HeaderField {
	switch h.Kind {
	case h1.KindConnection, h1.KindKeepAlive, h1.KindTransferEncoding, h1.KindUpgrade, h1.KindProxyConnection, h1.KindTE, h1.KindTrailer:
		return dst
	}
	var name string
	var low [64]byte
	if len(h.Name) <= len(low) {
		n := low[:len(h.Name)]
		for k, c := range h.Name {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			n[k] = c
		}
		name = h2Strings.get(n)
	} else {
		name = strings.ToLower(string(h.Name))
	}
	return append(dst, hpack.HeaderField{Name: name, Value: h2Strings.get(h.Value)})
}

// responseFields converts the server's response to HTTP/2 fields as
// appendClientHead rewrites it when no response rule and no cookie
// applies (its framing headers out, Content-Length as the body kind
// says), without rendering and parsing that head; it returns the
// rendered head's length too, the bytes an HTTP/1.1 client would count.
// minor is the request's HTTP/1 minor version.
func responseFields(dst []hpack.HeaderField, resp *h1.Response, kind h1.BodyKind, minor int) ([]hpack.HeaderField, int) {
	// The parser's status has three digits.
	n := len("HTTP/1.x 200 ") + len(resp.Reason) + 2
	dst = append(dst, hpack.HeaderField{Name: ":status", Value: statusString(resp.Status)})
	for i := range resp.Headers {
		h := &resp.Headers[i]
		if proxyWrites(h.Kind) {
			continue
		}
		n += len(h.Name) + len(": ") + len(h.Value) + 2
		dst = appendField(dst, h)
	}
	switch {
	case respLength(resp, kind):
		var d [20]byte
		v := strconv.AppendInt(d[:0], resp.ContentLength, 10)
		n += len("Content-Length: ") + len(v) + 2
		dst = append(dst, hpack.HeaderField{Name: "content-length", Value: h2Strings.get(v)})
	case kind == h1.BodyChunked:
		n += len("Transfer-Encoding: chunked\r\n")
	}
	if minor == 0 {
		n += len("Connection: keep-alive\r\n")
	}
	return dst, n + 2
}

// statusString is strconv.Itoa(status), without allocating for the
// usual statuses.
func statusString(status int) string {
	if status >= 100 && status < 600 {
		if p := statusStrings[status-100].Load(); p != nil {
			return *p
		}
		v := strconv.Itoa(status)
		statusStrings[status-100].Store(&v)
		return v
	}
	return strconv.Itoa(status)
}

var statusStrings [500]atomic.Pointer[string]

// h2Strings interns short header names and values for HTTP/2 response
// fields, which the HPACK encoder may keep in its table (so they cannot
// point into reused buffers).
var h2Strings = newInterner()

// interner is a direct-mapped cache of strings: lock-free, bounded, a
// miss allocates the string and replaces the slot.
type interner struct {
	seed  maphash.Seed
	slots [4096]atomic.Pointer[string]
}

func newInterner() *interner { return &interner{seed: maphash.MakeSeed()} }

const internMax = 64

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMax {
		return string(b)
	}
	slot := &in.slots[maphash.Bytes(in.seed, b)%uint64(len(in.slots))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	v := string(b)
	slot.Store(&v)
	return v
}

// parseHead parses an HTTP/1.1 response head made by the proxy (error
// pages, the stats page, the rewritten server head) into HTTP/2 fields,
// appended to dst (hs: scratch for the parsed headers); it returns the
// head's length.
func parseHead(dst []hpack.HeaderField, hs []h1.Header, raw []byte) ([]hpack.HeaderField, int, error) {
	if hs == nil {
		hs = make([]h1.Header, 0, 16)
	}
	r := h1.Response{Head: h1.Head{Headers: hs}}
	if err := h1.ParseResponse(raw, &r); err != nil {
		return nil, 0, err
	}
	return fieldsOf(dst, r.Status, r.Headers), r.Len, nil
}

// sendPage answers with a complete HTTP/1.1 response made by the proxy.
func (s *h2stream) sendPage(raw []byte) error {
	fs, hs := s.scratch()
	fields, n, err := parseHead(fs, hs, raw)
	if err != nil {
		return err
	}
	body := raw[n:]
	if string(s.cc.req.Method) == "HEAD" {
		body = nil
	}
	if err := s.sendHead(fields, len(body) == 0); err != nil {
		return err
	}
	if len(body) > 0 {
		return s.sendData(body, true)
	}
	return nil
}

func (s *h2stream) sendInterim(resp *h1.Response) error {
	fs, _ := s.scratch()
	return s.sendHead(fieldsOf(fs, resp.Status, resp.Headers), false)
}

func (s *h2stream) sendContinue() error {
	return s.sendHead([]hpack.HeaderField{{Name: ":status", Value: "100"}}, false)
}

func (s *h2stream) startResponse(x *exchange, kind h1.BodyKind) *bufWriter {
	fs, hs := s.scratch()
	var fields []hpack.HeaderField
	var n int
	if s.cc.fe.respRules == nil && x.be.cookie == nil {
		// Nothing rewrites the server's head: its fields as they are.
		fields, n = responseFields(fs, &s.cc.resp, kind, s.cc.req.Minor)
	} else {
		hb := getBuf()
		head := s.cc.appendClientHead((*hb)[:0], x, true, kind)
		var err error
		fields, _, err = parseHead(fs, hs, head)
		if err != nil {
			fields = append(fs, hpack.HeaderField{Name: ":status", Value: statusString(s.cc.resp.Status)})
		}
		n = len(head)
		putBuf(hb) // the fields do not point into head
	}
	s.pending = fields
	s.out = bufWriter{c: s, n: int64(n)}
	s.out.hold()
	return &s.out
}

func (s *h2stream) finishResponse() error {
	data := s.out.b
	var err error
	if !s.hdrSent && len(data) > 0 && !s.lost && s.reserve(len(data)) {
		// The whole response fits the windows: one frame, posted without
		// waiting for the writer, which gives back the buffer and the
		// stream (unref) once it has written it. A write error after
		// this point is the connection's, as a failed flush is.
		s.hdrSent = true
		f := s.frame(fHeaders)
		f.fields, f.data, f.end, f.owner = s.pending, data, true, s
		s.refs.Store(2)
		s.out.n += int64(len(data))
		if !s.hc.post(f) {
			s.refs.Store(0)
			s.out.b = s.out.b[:0]
			s.out.releaseBuf()
			return errH2Closed
		}
		s.held = s.out
		s.out.buf, s.out.b = nil, nil
		return nil
	} else if !s.hdrSent {
		s.hdrSent = true
		err = s.sendHead(s.pending, len(data) == 0)
		if err == nil && len(data) > 0 {
			err = s.sendData(data, true)
		}
	} else {
		err = s.sendData(data, true)
	}
	s.out.n += int64(len(data))
	s.out.b = s.out.b[:0]
	s.out.releaseBuf()
	return err
}

func (s *h2stream) abortResponse(flush bool) int64 {
	if flush {
		s.out.flush()
	}
	n := s.out.n
	s.out.releaseBuf()
	return n
}
