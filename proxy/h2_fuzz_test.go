package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var fuzzH2 struct {
	once sync.Once
	addr string
	err  error
}

// fuzzH2Addr starts one h2c engine (kept for the fuzzing run) in front of
// fuzzServe.
func fuzzH2Addr(t *testing.T) string {
	fuzzH2.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fuzzH2.err = err
			return
		}
		go fuzzServe(ln)
		cfg := h2Config(srv("s", ln.Addr().String()))
		fe := &cfg.Frontends[0]
		// Short, but long enough for a loaded machine (fuzz workers
		// take every CPU): the health check must not meet them.
		fe.ClientTimeout, fe.HTTPRequestTimeout, fe.KeepAliveTimeout = time.Second, time.Second, time.Second
		cfg.Backends[0].ServerTimeout = 300 * time.Millisecond
		e, err := New(cfg, Options{})
		if err == nil {
			err = e.Start(context.Background())
		}
		if err != nil {
			fuzzH2.err = err
			return
		}
		fuzzH2.addr = e.BoundAddrs("fe")[0]
	})
	if fuzzH2.err != nil {
		t.Fatal(fuzzH2.err)
	}
	return fuzzH2.addr
}

// h2Seed builds frames with a Framer: a client's usual openings.
func h2Seed(build func(fr *http2.Framer, hdr func(kv ...string) []byte)) []byte {
	var out, hb bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	enc := hpack.NewEncoder(&hb)
	build(fr, func(kv ...string) []byte {
		hb.Reset()
		for i := 0; i+1 < len(kv); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	})
	return out.Bytes()
}

// FuzzH2Frames feeds arbitrary bytes after the client preface into the
// HTTP/2 connection loop (a real h2c frontend, a fake backend): lbd must
// answer or close within its timeouts, never panic, and keep serving.
func FuzzH2Frames(f *testing.F) {
	get := func(fr *http2.Framer, hdr func(kv ...string) []byte) {
		fr.WriteSettings()
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
			BlockFragment: hdr(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a", "cookie", "a=b", "cookie", "c=d")})
	}
	f.Add(h2Seed(get))
	f.Add(h2Seed(func(fr *http2.Framer, hdr func(kv ...string) []byte) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		fr.WriteWindowUpdate(0, 100)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
			BlockFragment: hdr(":method", "POST", ":scheme", "http", ":path", "/p", ":authority", "a", "content-length", "5")})
		fr.WriteData(1, false, []byte("hel"))
		fr.WriteDataPadded(1, true, []byte("lo"), []byte{0, 0})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: false,
			BlockFragment: hdr(":method", "PUT", ":scheme", "http", ":path", "/q", ":authority", "a")})
		fr.WriteContinuation(3, true, hdr("x-a", "b"))
		fr.WriteData(3, false, []byte("chunked body"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndStream: true, EndHeaders: true, BlockFragment: hdr("x-trailer", "1")})
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
		fr.WritePing(false, [8]byte{1})
		fr.WritePriority(5, http2.PriorityParam{StreamDep: 3, Weight: 10})
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	}))
	f.Add(h2Seed(func(fr *http2.Framer, hdr func(kv ...string) []byte) {
		fr.WriteSettings()
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
			BlockFragment: hdr(":method", "CONNECT", ":authority", "a:443")})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true,
			BlockFragment: hdr(":method", "GET", ":scheme", "http", ":path", "/", "connection", "close")})
	}))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		addr := fuzzH2Addr(t)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, http2.ClientPreface)
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("proxy neither answered nor closed: %v", err)
		}
		c.Close()
		// Still healthy: a GET is answered.
		c2, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(3 * time.Second))
		c2.Write(append([]byte(http2.ClientPreface), h2Seed(get)...))
		fr := http2.NewFramer(nil, c2)
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		for {
			fr2, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("proxy unhealthy after %q: %v", data, err)
			}
			if ga, ok := fr2.(*http2.GoAwayFrame); ok {
				t.Fatalf("GOAWAY %v on the health check after %q", ga.ErrCode, data)
			}
			if h, ok := fr2.(*http2.MetaHeadersFrame); ok {
				if s := h.PseudoValue("status"); s != "200" {
					t.Fatalf("proxy answered %s after %q", s, data)
				}
				return
			}
		}
	})
}
