package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Config is testConfig with the frontend speaking cleartext HTTP/2.
func h2Config(servers ...Server) *Config {
	cfg := testConfig(servers...)
	cfg.Frontends[0].H2C = true
	return cfg
}

// h2Client is an HTTP/2 client (prior knowledge, cleartext) that never
// retries: every request goes over the one connection it dials.
//
//lint:ignore SA1019 one prior-knowledge HTTP/2 connection per client, never retried: x/net/http2 gives exactly that
func h2Client(t *testing.T, addr string) (*http.Client, *http2.ClientConn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	//lint:ignore SA1019 one prior-knowledge HTTP/2 connection per client, never retried: x/net/http2 gives exactly that
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
		return nil, fmt.Errorf("unexpected dial")
	}}
	//lint:ignore SA1019 one prior-knowledge HTTP/2 connection per client, never retried: x/net/http2 gives exactly that
	cc, err := tr.NewClientConn(c)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: cc, Timeout: 10 * time.Second}, cc
}

func TestH2GetPostCookie(t *testing.T) {
	b1 := newBackend(t, "s1", nil)
	b2 := newBackend(t, "s2", nil)
	cfg := h2Config(srv("s1", b1.addr()), srv("s2", b2.addr()))
	cfg.Backends[0].Cookie = &Cookie{Name: "SRV", Mode: CookieInsert, Indirect: true, NoCache: true}
	_, addr, sink := startEngine(t, cfg)
	cl, _ := h2Client(t, addr)

	res, err := cl.Get("http://" + addr + "/a?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from s") || res.ProtoMajor != 2 {
		t.Fatalf("GET: %d %q proto %d", res.StatusCode, body, res.ProtoMajor)
	}
	sc := res.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "SRV=s") || res.Header.Get("Cache-Control") != "private" {
		t.Fatalf("no inserted cookie: %q %q", sc, res.Header.Get("Cache-Control"))
	}
	want := res.Header.Get("X-Server")
	if r := sink.last(t); r.RequestLine != "GET /a?x=1 HTTP/2.0" || r.Status != 200 {
		t.Fatalf("log: %+v", r)
	}

	// The cookie sends the next requests to the same server.
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest("POST", "http://"+addr+"/post", strings.NewReader(strings.Repeat("x", 100000)))
		req.Header.Set("Cookie", strings.SplitN(sc, ";", 2)[0])
		req.Header.Add("Cookie", "other=1")
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Server") != want {
			t.Fatalf("POST %d: %d from %q, want %q", i, res.StatusCode, res.Header.Get("X-Server"), want)
		}
		if res.Header.Get("Set-Cookie") != "" {
			t.Fatalf("indirect: cookie set again: %q", res.Header.Get("Set-Cookie"))
		}
	}
	var got *http.Request
	for _, r := range append(b1.requests(), b2.requests()...) {
		if r.Method == "POST" {
			got = r
		}
	}
	if got == nil || got.ContentLength != 100000 && len(got.TransferEncoding) == 0 {
		t.Fatalf("backend request: %+v", got)
	}
	if c := got.Header.Get("Cookie"); c != "other=1" {
		t.Fatalf("backend cookie: %q (the persistence cookie is removed in indirect mode)", c)
	}
}

// rawH2 is a raw framer client.
type rawH2 struct {
	t   *testing.T
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func dialH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := &rawH2{t: t, c: c}
	r.enc = hpack.NewEncoder(&r.buf)
	io.WriteString(c, http2.ClientPreface)
	r.fr = http2.NewFramer(c, c)
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.fr.WriteSettings()
	return r
}

func (r *rawH2) headers(id uint32, end bool, kv ...string) []byte {
	r.buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.buf.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		r.t.Fatal(err)
	}
	return r.buf.Bytes()
}

func (r *rawH2) get(id uint32, path string) {
	r.headers(id, true, ":method", "GET", ":scheme", "http", ":path", path, ":authority", "test")
}

// until reads frames until match returns true; it returns the GOAWAY seen
// (if any) or fails on timeout.
func (r *rawH2) until(match func(http2.Frame) bool) {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		if match(f) {
			return
		}
	}
}

func TestH2RapidReset(t *testing.T) {
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, "slow")
	})
	e, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
	r := dialH2(t, addr)
	go func() {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		for id := uint32(1); id < 20000; id += 2 {
			buf.Reset()
			for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "test"}} {
				enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
			}
			if r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}) != nil {
				return
			}
			if r.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	var ga *http2.GoAwayFrame
	r.until(func(f http2.Frame) bool {
		ga, _ = f.(*http2.GoAwayFrame)
		return ga != nil
	})
	if ga.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", ga.ErrCode)
	}
	// Far fewer requests than resets reached the server.
	if n := len(b.requests()); n > 300 {
		t.Fatalf("%d requests reached the server", n)
	}
	// The attacker's connection and all its streams are gone.
	waitFor(t, "the attack's streams to end", func() bool {
		fs := e.Frontends()[0]
		return fs.H2StreamsCur == 0 && fs.Sessions == 0 && fs.H2Calm == 1
	})
	t.Logf("%d streams reset, %d reached the server", e.Frontends()[0].H2Resets, len(b.requests()))
	// Another client is served.
	cl, _ := h2Client(t, addr)
	res, err := cl.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "slow" {
		t.Fatalf("after the attack: %d %q", res.StatusCode, body)
	}
}

func TestH2ContinuationFlood(t *testing.T) {
	b := newBackend(t, "s1", nil)
	_, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
	for _, empty := range []bool{true, false} {
		r := dialH2(t, addr)
		r.buf.Reset()
		r.enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.buf.Bytes()})
		go func() {
			frag := []byte{}
			if !empty {
				r.buf.Reset()
				r.enc.WriteField(hpack.HeaderField{Name: "x-a", Value: strings.Repeat("a", 1000)})
				frag = append(frag, r.buf.Bytes()...)
			}
			for i := 0; i < 1000000; i++ {
				if r.fr.WriteContinuation(1, false, frag) != nil {
					return
				}
			}
		}()
		var ga *http2.GoAwayFrame
		r.until(func(f http2.Frame) bool {
			ga, _ = f.(*http2.GoAwayFrame)
			return ga != nil
		})
		if ga.ErrCode == http2.ErrCodeNo {
			t.Fatalf("GOAWAY %v after a CONTINUATION flood", ga.ErrCode)
		}
	}
	cl, _ := h2Client(t, addr)
	res, err := cl.Get("http://" + addr + "/")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after the flood: %v %v", res, err)
	}
}

func TestH2StatsAndErrors(t *testing.T) {
	b := newBackend(t, "s1", nil)
	cfg := h2Config(srv("s1", b.addr()))
	cfg.Frontends[0].Stats = &Stats{URI: "/lbstats"}
	e, addr, _ := startEngine(t, cfg)
	cl, _ := h2Client(t, addr)
	res, err := cl.Get("http://" + addr + "/lbstats")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	if res.StatusCode != 503 { // no StatsHandler in this engine
		t.Fatalf("stats: %d", res.StatusCode)
	}
	// CONNECT is refused.
	r := dialH2(t, addr)
	r.headers(1, true, ":method", "CONNECT", ":authority", "example:443")
	r.until(func(f http2.Frame) bool {
		h, ok := f.(*http2.MetaHeadersFrame)
		if ok && h.PseudoValue("status") != "405" {
			t.Fatalf("CONNECT: %s", h.PseudoValue("status"))
		}
		return ok
	})
	fs := e.Frontends()
	if fs[0].H2Streams < 2 {
		t.Fatalf("H2Streams = %d", fs[0].H2Streams)
	}
}

// TestH2ChunkedAndLarge: a chunked server response reaches the client as
// plain DATA, a large one within the flow-control windows.
func TestH2ChunkedAndLarge(t *testing.T) {
	big := strings.Repeat("abcdefgh", 200000) // 1.6 MB: many window updates
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/chunked" {
			for i := 0; i < 5; i++ {
				io.WriteString(w, "part")
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		io.WriteString(w, big)
	})
	_, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
	cl, _ := h2Client(t, addr)
	res, err := cl.Get("http://" + addr + "/chunked")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != strings.Repeat("part", 5) {
		t.Fatalf("chunked: %q", body)
	}
	// Several large responses at once on one connection.
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			res, err := cl.Get("http://" + addr + "/big")
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(res.Body)
			if err == nil && string(body) != big {
				err = fmt.Errorf("body of %d bytes differs", len(body))
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestH2Timeouts: a preface that never comes is bounded by timeout
// http-request; an idle connection gets GOAWAY after timeout
// http-keep-alive; streams over SETTINGS_MAX_CONCURRENT_STREAMS are
// refused.
func TestH2Timeouts(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	defer close(release)
	cfg := h2Config(srv("s1", b.addr()))
	cfg.Frontends[0].HTTPRequestTimeout = 200 * time.Millisecond
	cfg.Frontends[0].KeepAliveTimeout = 300 * time.Millisecond
	_, addr, _ := startEngine(t, cfg)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil || time.Since(t0) > 2*time.Second {
		t.Fatalf("no preface: closed after %v (%v)", time.Since(t0), err)
	}

	r := dialH2(t, addr)
	r.get(1, "/")
	t0 = time.Now()
	var ga *http2.GoAwayFrame
	r.until(func(f http2.Frame) bool {
		ga, _ = f.(*http2.GoAwayFrame)
		return ga != nil
	})
	if ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 1 || time.Since(t0) < 250*time.Millisecond {
		t.Fatalf("idle GOAWAY %v last %d after %v", ga.ErrCode, ga.LastStreamID, time.Since(t0))
	}

	r = dialH2(t, addr)
	for id := uint32(1); id <= 2*h2MaxStreams-1; id += 2 {
		r.get(id, "/hold")
	}
	r.get(2*h2MaxStreams+1, "/hold")
	r.until(func(f http2.Frame) bool {
		rst, ok := f.(*http2.RSTStreamFrame)
		if ok && (rst.StreamID != 2*h2MaxStreams+1 || rst.ErrCode != http2.ErrCodeRefusedStream) {
			t.Fatalf("RST_STREAM %d %v", rst.StreamID, rst.ErrCode)
		}
		return ok
	})
}

// TestH2RoutingForwardFor: ACLs, use_backends and option forwardfor apply
// per stream, and retries move a request off a dead server.
func TestH2RoutingForwardFor(t *testing.T) {
	web := newBackend(t, "web", nil)
	api := newBackend(t, "api", nil)
	cfg := h2Config(srv("dead", freeAddr(t)), srv("web", web.addr()))
	cfg.Backends[0].Redispatch = true
	cfg.Backends = append(cfg.Backends, testBackendCfg("apis", srv("api", api.addr())))
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{{Name: "is_api", Criterion: "path_beg", Values: []string{"/api"}}}
	fe.UseBackends = []UseBackend{{Backend: "apis", If: "is_api"}}
	fe.ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	_, addr, sink := startEngine(t, cfg)
	cl, _ := h2Client(t, addr)
	for _, c := range []struct{ path, server string }{{"/api/x", "api"}, {"/", "web"}, {"/", "web"}, {"/api/y", "api"}} {
		res, err := cl.Get("http://" + addr + c.path)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Server") != c.server {
			t.Fatalf("%s: %d from %q, want %s", c.path, res.StatusCode, res.Header.Get("X-Server"), c.server)
		}
	}
	for _, r := range append(web.requests(), api.requests()...) {
		if r.Header.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Fatalf("X-Forwarded-For %q", r.Header.Get("X-Forwarded-For"))
		}
	}
	retried := false
	for _, r := range sink.all() {
		retried = retried || r.Retries > 0
	}
	if !retried {
		t.Log("no request went to the dead server first (balancing order); retries not exercised")
	}
}

// TestH2Shutdown: a stream running at shutdown completes, then the
// connection gets GOAWAY.
func TestH2Shutdown(t *testing.T) {
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, strings.Repeat("z", 200000)) // needs WINDOW_UPDATEs
	})
	e, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
	r := dialH2(t, addr)
	r.get(1, "/")
	time.Sleep(100 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.Shutdown(ctx)
	}()
	got, goaway := 0, false
	r.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.DataFrame:
			got += len(f.Data())
			r.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
			r.fr.WriteWindowUpdate(1, uint32(len(f.Data())))
			if f.StreamEnded() && got != 200000 {
				t.Fatalf("stream ended after %d bytes", got)
			}
		case *http2.GoAwayFrame:
			goaway = true
		case *http2.RSTStreamFrame:
			t.Fatalf("stream reset: %v", f.ErrCode)
		}
		return goaway && got == 200000
	})
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestH2SettingsAckBeforeData: a SETTINGS_INITIAL_WINDOW_SIZE that opens
// a blocked stream's window is acknowledged before the DATA it allows
// (h2spec 6.9.2/1 waits for the ACK, skipping other frames, then for the
// DATA). The hook holds the reader after the windows have changed, so
// that a stream woken by them runs first.
func TestH2SettingsAckBeforeData(t *testing.T) {
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	_, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
	r := dialH2(t, addr)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	acks := 0
	r.until(func(f http2.Frame) bool {
		if sf, ok := f.(*http2.SettingsFrame); ok && sf.IsAck() {
			acks++
		}
		return acks == 2
	})
	r.get(1, "/")
	r.until(func(f http2.Frame) bool {
		if _, ok := f.(*http2.DataFrame); ok {
			t.Fatal("DATA with a zero window")
		}
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamID == 1
	})
	hold := func() { time.Sleep(100 * time.Millisecond) }
	h2SettingsApplied.Store(&hold)
	defer h2SettingsApplied.Store(nil)
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
	f, err := r.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || !sf.IsAck() {
		t.Fatalf("got %v before the SETTINGS ACK", f.Header())
	}
	f, err = r.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if df, ok := f.(*http2.DataFrame); !ok || len(df.Data()) != 1 {
		t.Fatalf("got %v, want DATA of 1 byte", f.Header())
	}
}

// closeCount is a server connection that counts its closes.
type closeCount struct {
	conn
	closes int
}

func (c *closeCount) Close() error { c.closes++; return nil }

// TestH2ResetAfterPooling: once the exchange has pooled its server
// connection, a reset of the stream (or the client connection's end) must
// not close it: another stream may have taken it from the pool.
func TestH2ResetAfterPooling(t *testing.T) {
	hc := &h2conn{}
	s := &h2stream{hc: hc}
	c := &closeCount{}
	if !s.useServer(c) {
		t.Fatal("useServer refused a live stream")
	}
	if !s.dropServer() {
		t.Fatal("dropServer: a live stream reads as reset")
	}
	hc.mu.Lock()
	s.abortLocked()
	hc.mu.Unlock()
	if c.closes != 0 {
		t.Fatal("the reset closed a pooled server connection")
	}
	// Reset before the exchange ends: the connection is closed and not
	// to be pooled.
	s2 := &h2stream{hc: hc}
	c2 := &closeCount{}
	s2.useServer(c2)
	hc.mu.Lock()
	s2.abortLocked()
	hc.mu.Unlock()
	if s2.dropServer() || c2.closes != 1 {
		t.Fatalf("reset stream: dropServer true or %d closes", c2.closes)
	}
}

// A stream's start time is its read's: the log record of a request that
// came in the same write as the preface, and of one sent later on the same
// connection, has the time it arrived (not a zero time) and a small TR.
func TestH2StreamStartTime(t *testing.T) {
	b := newBackend(t, "s1", nil)
	_, addr, sink := startEngine(t, h2Config(srv("s1", b.addr())))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	block := func() []byte {
		hb.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
			{Name: ":path", Value: "/"}, {Name: ":authority", Value: "t"}} {
			enc.WriteField(f)
		}
		return hb.Bytes()
	}
	var out bytes.Buffer
	out.WriteString(http2.ClientPreface)
	fw := http2.NewFramer(&out, nil)
	fw.WriteSettings()
	fw.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(), EndStream: true, EndHeaders: true})
	t0 := time.Now()
	if _, err := c.Write(out.Bytes()); err != nil { // preface, SETTINGS and HEADERS in one write
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	var t1 time.Time
	for ended := 0; ended < 2; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			fr.WriteSettingsAck()
		}
		if h := f.Header(); (h.Type == http2.FrameData || h.Type == http2.FrameHeaders) && h.Flags.Has(http2.FlagDataEndStream) {
			if ended++; ended == 1 {
				time.Sleep(50 * time.Millisecond)
				t1 = time.Now()
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block(), EndStream: true, EndHeaders: true})
			}
		}
	}
	var recs []LogRecord
	for time.Now().Before(t0.Add(5*time.Second)) && len(recs) < 2 {
		recs = sink.all()
		time.Sleep(10 * time.Millisecond)
	}
	if len(recs) != 2 {
		t.Fatalf("%d log records", len(recs))
	}
	for i, start := range []time.Time{t0, t1} {
		r := recs[i]
		if r.AcceptedAt.Before(start) || r.AcceptedAt.After(start.Add(time.Second)) || r.TR < 0 || r.TR > time.Second {
			t.Errorf("request %d sent at %v: accepted at %v, TR %v", i+1, start, r.AcceptedAt, r.TR)
		}
	}
}
