package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2conn is one HTTP/2 client connection (cleartext with prior knowledge,
// or TLS after ALPN "h2"). Its goroutine reads frames; a writer goroutine
// writes them in order (h2_write.go); each stream's request runs the
// exchange on a goroutine of its own (h2_stream.go), through the same
// downstream seam as HTTP/1.1.
type h2conn struct {
	e   *Engine
	fe  *frontend
	cur *atomic.Pointer[frontend]
	gt  *gate
	c   net.Conn
	// src and dst are the client's addresses (the PROXY header's when the
	// bind accepts one), given to every stream.
	src, dst netip.AddrPort
	tls      *tlsState // TLS connections (ALPN h2): ssl_fc* fetches
	// ct: the tcp-request connection rules' trackers, seen by every
	// stream's rules, released when serveH2 returns; nil if none.
	ct *connTrack
	br *bufio.Reader
	// now: when the reader's last read from the socket returned (reader
	// goroutine only): the frames of one read share it (the streams'
	// start times).
	now time.Time
	lr  limitReader // counts the bytes of one ReadFrame (header blocks)
	fr  *http2.Framer
	// hdec is the HPACK decoder and blk the header block it decodes into
	// (reader goroutine only).
	hdec *hpack.Decoder
	blk  h2block

	wch  chan *h2frame // to the writer goroutine
	quit chan struct{} // closed when the connection ends
	wwg  sync.WaitGroup

	// Under mu: the streams, windows and the peer's settings.
	mu        sync.Mutex
	cond      *sync.Cond
	streams   map[uint32]*h2stream
	running   int           // stream goroutines alive
	maxSeen   uint32        // highest client stream id
	sendWin   int64         // connection send window
	peerInit  int64         // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame atomic.Uint32 // the peer's SETTINGS_MAX_FRAME_SIZE
	dead      bool
	wdead     atomic.Bool // the writer failed
	swg       sync.WaitGroup

	recentResets [64]uint32 // streams reset lately (frames in flight are ignored)
	resetPos     int

	recvWin int64 // connection receive window
	resets  bucket
	ctrl    bucket
	idle    atomic.Bool
	// noDeadline: the reader's deadline is off (streams run); under mu.
	noDeadline bool
	goingOut   bool // GOAWAY sent or received: no new streams
	awaySent   bool // our GOAWAY NO_ERROR is sent (soft stop)
}

// limitReader counts the bytes read through it since the last reset and
// fails past max.
type limitReader struct {
	r   io.Reader
	n   int
	max int
}

var errHeaderFlood = errors.New("h2: header block too large on the wire")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n >= l.max {
		return 0, errHeaderFlood
	}
	if len(p) > l.max-l.n {
		p = p[:l.max-l.n]
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

// softStop follows the soft-stop rule (softstop.go) for an HTTP/2
// connection once the engine stops, its listener is retired (reload,
// runtime pause) or a reload gave its listener another frontend: it sends
// GOAWAY (NO_ERROR, the last stream id it has processed), accepts no new
// stream, serves the running ones to their end and then closes
// (armIdleLocked makes the reader end once no stream runs). An idle
// connection ends at once, with the same GOAWAY (serve). Engine calls it
// through softStopConns; it does nothing while the connection may stay.
func (hc *h2conn) softStop() {
	if !hc.e.stopping.Load() && hc.cur.Load() == hc.fe {
		return
	}
	hc.mu.Lock()
	if hc.dead || hc.awaySent {
		hc.mu.Unlock()
		return
	}
	hc.goingOut = true
	var away *h2frame
	if hc.running == 0 {
		// Idle (or still reading the preface): the reader ends now and
		// serve sends the GOAWAY.
		hc.c.SetReadDeadline(time.Unix(1, 0))
	} else {
		// Streams run, so the writer runs: GOAWAY now, close later.
		hc.awaySent = true
		away = &h2frame{typ: fGoAway, sid: hc.maxSeen, code: http2.ErrCodeNo}
	}
	hc.mu.Unlock()
	if away != nil {
		go hc.send(away)
	}
}

func (hc *h2conn) forceClose() { hc.c.Close() }

// serveH2c serves a cleartext HTTP/2 connection (bind proto h2); src and
// dst are the client's addresses (the PROXY header's on accept_proxy
// binds; dst invalid: the socket's own); ct holds the trackers of the
// tcp-request connection rules (nil if none).
func (e *Engine) serveH2c(c *net.TCPConn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], src, dst netip.AddrPort, ct *connTrack) {
	e.serveH2(c, fe, gt, cur, src, orLocal(dst, c), nil, ct)
}

// serveH2TLS is h2Server (conn_tls.go): a TLS connection whose ALPN chose
// "h2".
func serveH2TLS(e *Engine, c *tls.Conn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], src, dst netip.AddrPort, ts *tlsState, ct *connTrack) {
	e.serveH2(c, fe, gt, cur, src, dst, ts, ct)
}

func init() { h2Server = serveH2TLS }

// serveH2 serves an HTTP/2 connection whose next bytes are the client
// preface: a cleartext one (bind proto h2) or a TLS one whose ALPN chose
// "h2" (ts describes its session for the ssl_fc* fetches). Every stream
// takes src and dst as its client addresses (ACLs, forwardfor, send-proxy,
// the log) and sees ct, the trackers of the tcp-request connection rules
// (sc* fetches). When the connection has ended, and its streams with it,
// it releases ct and calls connDone.
func (e *Engine) serveH2(c net.Conn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], src, dst netip.AddrPort, ts *tlsState, ct *connTrack) {
	hc := &h2conn{
		e: e, fe: fe, cur: cur, gt: gt, c: c, src: src, dst: dst, tls: ts, ct: ct,
		streams:  map[uint32]*h2stream{},
		sendWin:  65535,
		peerInit: 65535,
		recvWin:  65535,
		wch:      make(chan *h2frame, 64),
		quit:     make(chan struct{}),
	}
	hc.cond = sync.NewCond(&hc.mu)
	hc.peerFrame.Store(16384)
	e.track(hc)
	defer func() {
		e.untrack(hc)
		ct.release(0, 0)
		e.connDone(fe, gt)
	}()
	// A stop or reload that came before track: no stream will be taken.
	hc.softStop()
	hc.serve()
}

// h2ConnErr ends the connection with GOAWAY and the code.
type h2ConnErr struct {
	code http2.ErrCode
	why  string
}

func (e h2ConnErr) Error() string { return "h2: " + e.code.String() + ": " + e.why }

func (hc *h2conn) serve() {
	fe := hc.fe
	// The preface, bounded by timeout http-request.
	hc.c.SetReadDeadline(time.Now().Add(fe.httpRequest))
	hc.br = bufio.NewReaderSize(hc.c, 16<<10)
	var pre [len(h2Preface)]byte
	if _, err := io.ReadFull(hc.br, pre[:]); err != nil || string(pre[:]) != h2Preface {
		if err == nil {
			fe.st.errReq.Add(1)
		}
		hc.c.Close()
		return
	}
	hc.now = time.Now() // for the frames that came with the preface
	hc.lr = limitReader{r: hc.br, max: h2MaxHeaderBlockWire}
	hc.fr = http2.NewFramer(hc.c, &hc.lr)
	hc.fr.SetMaxReadFrameSize(h2MaxFrame)
	// Header blocks are decoded here (h2_headers.go), not by the
	// Framer's ReadMetaHeaders, whose MetaHeadersFrame and field slices
	// cost several allocations per request.
	hc.hdec = hpack.NewDecoder(h2TableSize, hc.emit)
	hc.hdec.SetMaxStringLength(h2MaxHeaderList)
	hc.fr.MaxHeaderListSize = h2MaxHeaderList
	hc.fr.SetReuseFrames()
	hc.wwg.Add(1)
	go hc.writer()
	hc.send(&h2frame{typ: fSettings})
	// Our initial window (65535) is the RFC default; the connection
	// window is refunded as DATA arrives, so it needs no update here.

	err := hc.readLoop()
	code, graceful := http2.ErrCodeNo, false
	var ce h2ConnErr
	switch {
	case errors.As(err, &ce):
		code = ce.code
		fe.st.errReq.Add(1)
		if ce.code == http2.ErrCodeEnhanceYourCalm {
			fe.st.h2Calm.Add(1)
		}
	case errors.Is(err, errHeaderFlood):
		code = http2.ErrCodeEnhanceYourCalm
		fe.st.h2Calm.Add(1)
		fe.st.errReq.Add(1)
	case isTimeout(err):
		graceful = true // idle, or shutting down: let streams finish
	default:
		var fce http2.ConnectionError
		if errors.As(err, &fce) {
			code = http2.ErrCode(fce)
			fe.st.errReq.Add(1)
		} else if errors.Is(err, http2.ErrFrameTooLarge) {
			code = http2.ErrCodeFrameSize
			fe.st.errReq.Add(1)
		} else {
			// EOF or a read error: nothing to say.
			hc.close()
			return
		}
	}
	hc.mu.Lock()
	hc.goingOut = true
	last := hc.maxSeen
	again := hc.awaySent && code == http2.ErrCodeNo
	hc.mu.Unlock()
	if !again {
		hc.sendWait(&h2frame{typ: fGoAway, sid: last, code: code})
	}
	if graceful {
		hc.waitStreams(fe.client)
	}
	hc.close()
}

// waitStreams waits (at most d) for the running streams to finish.
func (hc *h2conn) waitStreams(d time.Duration) {
	dl := time.Now().Add(d)
	hc.mu.Lock()
	for hc.running > 0 && !hc.dead && hc.waitUntil(dl) {
	}
	hc.mu.Unlock()
}

// close tears the connection down: streams are aborted (their server
// connections closed), the writer stops, the socket is closed after a short
// drain so that a GOAWAY is not lost to a reset.
func (hc *h2conn) close() {
	hc.mu.Lock()
	hc.dead = true
	for _, s := range hc.streams {
		s.abortLocked()
	}
	hc.cond.Broadcast()
	hc.mu.Unlock()
	close(hc.quit)
	hc.wwg.Wait()
	if cw, ok := hc.c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		hc.c.SetReadDeadline(time.Now().Add(time.Second))
		var junk [4096]byte
		for i := 0; i < 64; i++ {
			if _, err := hc.c.Read(junk[:]); err != nil {
				break
			}
		}
	}
	hc.c.Close()
	hc.swg.Wait()
}

// waitUntil waits on cond (mu held) until a broadcast or dl; false: dl
// has passed.
func (hc *h2conn) waitUntil(dl time.Time) bool {
	d := time.Until(dl)
	if d <= 0 {
		return false
	}
	t := time.AfterFunc(d, func() {
		hc.mu.Lock()
		hc.cond.Broadcast()
		hc.mu.Unlock()
	})
	hc.cond.Wait()
	t.Stop()
	return true
}

// setReadDeadline arms the reader's deadline: timeout http-keep-alive
// while no stream runs (the connection is idle), none while streams run
// (they are bounded by their own timeouts; the last one to end re-arms).
func (hc *h2conn) armIdleLocked() {
	if hc.running == 0 {
		hc.idle.Store(true)
		hc.noDeadline = false
		hc.c.SetReadDeadline(time.Now().Add(hc.fe.keepAlive))
		if hc.e.stopping.Load() || hc.cur.Load() != hc.fe {
			hc.c.SetReadDeadline(time.Unix(1, 0))
		}
	} else if !hc.noDeadline {
		// Once per busy period, not once per frame.
		hc.idle.Store(false)
		hc.noDeadline = true
		hc.c.SetReadDeadline(time.Time{})
	}
}

func (hc *h2conn) readLoop() error {
	// The first frame must be SETTINGS (RFC 9113 3.4).
	first := true
	for {
		hc.mu.Lock()
		hc.armIdleLocked()
		hc.mu.Unlock()
		if !hc.blk.active {
			// The bound is per header block: HEADERS and all its
			// CONTINUATIONs.
			hc.lr.n = 0
		}
		buffered := hc.br.Buffered()
		f, err := hc.fr.ReadFrame()
		if err != nil || 9+int(f.Header().Length) > buffered {
			// The frame needed a read from the socket.
			hc.now = time.Now()
		}
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) && !first {
				hc.fe.st.errReq.Add(1)
				if err := hc.streamError(se.StreamID, se.Code); err != nil {
					return err
				}
				continue
			}
			if errors.As(err, &se) {
				return h2ConnErr{http2.ErrCodeProtocol, "bad first frame"}
			}
			return err
		}
		if first {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return h2ConnErr{http2.ErrCodeProtocol, "preface not followed by SETTINGS"}
			}
			first = false
		}
		if err := hc.handle(f); err != nil {
			return err
		}
	}
}

// streamError resets a stream with code (RST_STREAM), aborting its
// exchange if it runs.
func (hc *h2conn) streamError(id uint32, code http2.ErrCode) error {
	hc.mu.Lock()
	if s := hc.streams[id]; s != nil {
		s.abortLocked()
		hc.removeLocked(s)
	}
	hc.mu.Unlock()
	hc.send(&h2frame{typ: fRst, sid: id, code: code})
	return nil
}

// state of a client stream id: idle (never opened), open (in the map),
// closed.
func (hc *h2conn) lookup(id uint32) (s *h2stream, idle bool) {
	if s = hc.streams[id]; s != nil {
		return s, false
	}
	return nil, id > hc.maxSeen
}

func (hc *h2conn) calm(b *bucket, burst, rate float64) error {
	if !b.take(time.Now(), burst, rate) {
		return h2ConnErr{http2.ErrCodeEnhanceYourCalm, "frame flood"}
	}
	return nil
}

func (hc *h2conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		return hc.onHeaderFrag(f.StreamID, f.HeaderBlockFragment(), f.HeadersEnded(), f)
	case *http2.DataFrame:
		return hc.onData(f)
	case *http2.SettingsFrame:
		if err := hc.calm(&hc.ctrl, h2CtrlBurst, h2CtrlRate); err != nil {
			return err
		}
		return hc.onSettings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		if err := hc.calm(&hc.ctrl, h2CtrlBurst, h2CtrlRate); err != nil {
			return err
		}
		hc.send(&h2frame{typ: fPing, ping: f.Data})
		return nil
	case *http2.WindowUpdateFrame:
		return hc.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return hc.onReset(f)
	case *http2.PriorityFrame:
		if err := hc.calm(&hc.ctrl, h2CtrlBurst, h2CtrlRate); err != nil {
			return err
		}
		if f.StreamDep == f.StreamID {
			return hc.streamError(f.StreamID, http2.ErrCodeProtocol)
		}
		return nil
	case *http2.GoAwayFrame:
		// The client leaves: finish what runs, accept nothing new.
		hc.mu.Lock()
		hc.goingOut = true
		hc.mu.Unlock()
		return nil
	case *http2.PushPromiseFrame:
		return h2ConnErr{http2.ErrCodeProtocol, "PUSH_PROMISE from a client"}
	case *http2.ContinuationFrame:
		// The Framer only lets through CONTINUATIONs that follow a
		// HEADERS (or CONTINUATION) of the same stream without
		// END_HEADERS.
		if !hc.blk.active || f.StreamID != hc.blk.sid {
			return h2ConnErr{http2.ErrCodeProtocol, "stray CONTINUATION"}
		}
		return hc.onHeaderFrag(f.StreamID, f.HeaderBlockFragment(), f.HeadersEnded(), nil)
	}
	return nil // unknown frame types are ignored (RFC 9113 4.1)
}

func (hc *h2conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	var table uint32
	hasTable := false
	hc.mu.Lock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			var ce http2.ConnectionError
			errors.As(err, &ce)
			return h2ConnErr{http2.ErrCode(ce), "invalid SETTINGS"}
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - hc.peerInit
			for _, st := range hc.streams {
				st.sendWin += delta
				if st.sendWin > 1<<31-1 {
					return h2ConnErr{http2.ErrCodeFlowControl, "window overflow"}
				}
			}
			hc.peerInit = int64(s.Val)
		case http2.SettingMaxFrameSize:
			hc.peerFrame.Store(s.Val)
		case http2.SettingHeaderTableSize:
			table, hasTable = s.Val, true
		}
		return nil
	})
	if err == nil {
		// The ACK is queued before any stream can use the new windows:
		// a DATA frame they allow never precedes the ACK on the wire
		// (h2spec 6.9.2/1 reads frames up to the ACK and then expects
		// the DATA that SETTINGS_INITIAL_WINDOW_SIZE allowed).
		hc.send(&h2frame{typ: fSettingsAck, hasTable: hasTable, n: table})
	}
	hc.cond.Broadcast()
	hc.mu.Unlock()
	if h := h2SettingsApplied.Load(); h != nil {
		(*h)()
	}
	return err
}

// h2SettingsApplied, when set (tests), runs after a SETTINGS frame has
// been applied and the streams woken.
var h2SettingsApplied atomic.Pointer[func()]

func (hc *h2conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if f.StreamID == 0 {
		hc.sendWin += int64(f.Increment)
		if hc.sendWin > 1<<31-1 {
			return h2ConnErr{http2.ErrCodeFlowControl, "connection window overflow"}
		}
		hc.cond.Broadcast()
		return nil
	}
	s, idle := hc.lookup(f.StreamID)
	if idle {
		return h2ConnErr{http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream"}
	}
	if s == nil {
		return nil // closed: allowed for a while
	}
	s.sendWin += int64(f.Increment)
	if s.sendWin > 1<<31-1 {
		hc.mu.Unlock()
		err := hc.streamError(f.StreamID, http2.ErrCodeFlowControl)
		hc.mu.Lock()
		return err
	}
	hc.cond.Broadcast()
	return nil
}

func (hc *h2conn) onReset(f *http2.RSTStreamFrame) error {
	hc.mu.Lock()
	s, idle := hc.lookup(f.StreamID)
	if idle {
		hc.mu.Unlock()
		return h2ConnErr{http2.ErrCodeProtocol, "RST_STREAM on an idle stream"}
	}
	if s == nil {
		hc.mu.Unlock()
		return nil
	}
	s.peerReset = true
	s.abortLocked()
	hc.removeLocked(s)
	hc.mu.Unlock()
	hc.fe.st.h2Resets.Add(1)
	// Resets of streams still being served cost work: rate-limited
	// (rapid reset, CVE-2023-44487).
	return hc.calm(&hc.resets, h2ResetBurst, h2ResetRate)
}

func (hc *h2conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int64(f.Length)
	data := f.Data()
	// Connection-level flow control: every DATA frame is refunded at once
	// (each stream's own window bounds what is buffered).
	if n > hc.recvWin {
		return h2ConnErr{http2.ErrCodeFlowControl, "connection window exceeded"}
	}
	hc.mu.Lock()
	s, idle := hc.lookup(id)
	hc.mu.Unlock()
	if idle {
		return h2ConnErr{http2.ErrCodeProtocol, "DATA on an idle stream"}
	}
	if len(data) == 0 && !f.StreamEnded() {
		if err := hc.calm(&hc.ctrl, h2CtrlBurst, h2CtrlRate); err != nil {
			return err
		}
	}
	hc.mu.Lock()
	if s == nil || hc.streams[id] != s || s.gotEnd {
		hc.mu.Unlock()
		var err error
		if s != nil || !hc.wasReset(id) {
			err = hc.streamError(id, http2.ErrCodeStreamClosed)
		}
		if n > 0 {
			hc.send(&h2frame{typ: fWindow, n: uint32(n)})
		}
		return err
	}
	if n > 0 {
		hc.send(&h2frame{typ: fWindow, n: uint32(n)})
	}
	if n > s.recvWin {
		hc.mu.Unlock()
		return hc.streamError(id, http2.ErrCodeFlowControl)
	}
	s.recvWin -= n
	s.recvd += int64(len(data))
	if s.declLen >= 0 && s.recvd > s.declLen {
		hc.mu.Unlock()
		return hc.streamError(id, http2.ErrCodeProtocol)
	}
	s.body = append(s.body, data...)
	pad := n - int64(len(data))
	if f.StreamEnded() {
		s.gotEnd = true
		if s.declLen >= 0 && s.recvd != s.declLen {
			hc.mu.Unlock()
			return hc.streamError(id, http2.ErrCodeProtocol)
		}
		if s.endSent {
			hc.removeLocked(s)
		}
		pad = 0
	} else if pad > 0 {
		s.recvWin += pad
	}
	hc.cond.Broadcast()
	hc.mu.Unlock()
	if pad > 0 {
		hc.send(&h2frame{typ: fWindow, sid: id, n: uint32(pad)})
	}
	return nil
}

// wasReset: the stream was reset (by either side) recently; frames the
// client had in flight for it are ignored.
func (hc *h2conn) wasReset(id uint32) bool {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for _, r := range hc.recentResets {
		if r == id {
			return true
		}
	}
	return false
}

// removeLocked takes a stream out of the map (mu held).
func (hc *h2conn) removeLocked(s *h2stream) {
	if hc.streams[s.id] == s {
		delete(hc.streams, s.id)
		if s.reset && !s.peerReset {
			hc.recentResets[hc.resetPos%len(hc.recentResets)] = s.id
			hc.resetPos++
		}
	}
}

func (hc *h2conn) onHeaders(f *h2block) error {
	id := f.sid
	if id%2 != 1 {
		return h2ConnErr{http2.ErrCodeProtocol, "even stream id"}
	}
	if f.prio && f.dep == id {
		return hc.streamError(id, http2.ErrCodeProtocol)
	}
	hc.mu.Lock()
	if s := hc.streams[id]; s != nil {
		// Trailers: they end the request; their fields are dropped (the
		// body goes to the server chunked or with its length).
		if s.gotEnd {
			hc.mu.Unlock()
			return hc.streamError(id, http2.ErrCodeStreamClosed)
		}
		if !f.ended {
			hc.mu.Unlock()
			return hc.streamError(id, http2.ErrCodeProtocol)
		}
		if f.npseudo > 0 {
			hc.mu.Unlock()
			return hc.streamError(id, http2.ErrCodeProtocol)
		}
		s.gotEnd = true
		if s.declLen >= 0 && s.recvd != s.declLen {
			hc.mu.Unlock()
			return hc.streamError(id, http2.ErrCodeProtocol)
		}
		if s.endSent {
			hc.removeLocked(s)
		}
		hc.cond.Broadcast()
		hc.mu.Unlock()
		return nil
	}
	if id <= hc.maxSeen {
		hc.mu.Unlock()
		if hc.wasReset(id) {
			return nil
		}
		return h2ConnErr{http2.ErrCodeStreamClosed, "HEADERS on a closed stream"}
	}
	hc.maxSeen = id
	if hc.goingOut || hc.dead {
		hc.mu.Unlock()
		return nil // after GOAWAY: ignored (RFC 9113 6.8)
	}
	if hc.running >= h2MaxStreams {
		hc.mu.Unlock()
		hc.fe.st.h2Refused.Add(1)
		hc.send(&h2frame{typ: fRst, sid: id, code: http2.ErrCodeRefusedStream})
		// Refused streams count as resets: opening streams past the
		// limit over and over is the same flood.
		return hc.calm(&hc.resets, h2ResetBurst, h2ResetRate)
	}
	hc.mu.Unlock()

	s := newH2Stream(hc, id)
	if f.truncated {
		s.refuse = 431
	} else {
		code, status := s.buildRequest(f)
		if code != http2.ErrCodeNo {
			s.release()
			hc.fe.st.errReq.Add(1)
			return hc.streamError(id, code)
		}
		s.refuse = status
	}
	if s.refuse != 0 {
		hc.fe.st.errReq.Add(1)
	}
	hc.mu.Lock()
	if f.ended {
		s.gotEnd = true
	}
	s.sendWin = hc.peerInit
	hc.streams[id] = s
	hc.running++
	hc.swg.Add(1)
	hc.armIdleLocked()
	hc.mu.Unlock()
	hc.fe.st.h2Streams.Add(1)
	hc.fe.st.h2Cur.Add(1)
	go s.run()
	return nil
}

// streamDone is called by a stream's goroutine when its exchange has
// ended.
func (hc *h2conn) streamDone(s *h2stream) {
	var rst *h2frame
	hc.mu.Lock()
	if !s.endSent && !s.reset {
		// The exchange ended without a complete response.
		s.reset = true
		rst = &h2frame{typ: fRst, sid: s.id, code: http2.ErrCodeInternal}
	} else if !s.gotEnd && !s.reset {
		// Answered before the whole request arrived: the client may
		// stop sending (RFC 9113 8.1).
		s.reset = true
		rst = &h2frame{typ: fRst, sid: s.id, code: http2.ErrCodeNo}
	}
	hc.removeLocked(s)
	hc.mu.Unlock()
	if rst != nil {
		hc.send(rst)
	}
	s.release()
	hc.mu.Lock()
	hc.running--
	if !hc.dead {
		hc.armIdleLocked()
	}
	hc.cond.Broadcast()
	hc.mu.Unlock()
	hc.fe.st.h2Cur.Add(-1)
	hc.swg.Done()
	// Nothing reaches s any more: it is out of the map and its goroutine
	// ends here (the reader compares stale pointers only). A last frame
	// still queued keeps it until the writer has written it.
	if s.refs.Load() == 0 {
		putH2Stream(s)
	} else {
		s.unref()
	}
}

// lowerASCII reports whether b has no upper-case ASCII letter.

var _ = bytes.Equal
