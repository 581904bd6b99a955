package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2TLSConfig is testConfig with a TLS bind offering h2 and http/1.1 by
// ALPN; it returns the config and the bind address.
func h2TLSConfig(t *testing.T, servers ...Server) (*Config, string) {
	cfg := testConfig(servers...)
	addr := freeAddr(t)
	fe := &cfg.Frontends[0]
	fe.Binds = []string{addr}
	fe.TLS = map[string]*tls.Config{addr: tlsTestConfig(t, []string{"h2", "http/1.1"}, "a.test")}
	return cfg, addr
}

// h2TLSClient is an HTTP/2 client over TLS (ALPN h2) on one connection,
// without retries.
func h2TLSClient(t *testing.T, addr, sni string) *http.Client {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: sni, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q", p)
	}
	//lint:ignore SA1019 one prior-knowledge HTTP/2 connection per client, never retried: x/net/http2 gives exactly that
	cc, err := (&http2.Transport{}).NewClientConn(c)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: cc, Timeout: 10 * time.Second}
}

// TestH2TLS: ALPN h2 is served by the HTTP/2 loop: cookie persistence,
// ssl_fc_sni ACLs on the streams, the access log; http/1.1 still works.
func TestH2TLS(t *testing.T) {
	b1 := newBackend(t, "s1", nil)
	b2 := newBackend(t, "s2", nil)
	cfg, addr := h2TLSConfig(t, srv("s1", b1.addr()), srv("s2", b2.addr()))
	cfg.Backends[0].Cookie = &Cookie{Name: "SRV", Mode: CookieInsert, Indirect: true}
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{{Name: "site", Criterion: "ssl_fc_sni", Values: []string{"a.test"}}}
	fe.UseBackends = []UseBackend{{Backend: "be", If: "site"}}
	fe.DefaultBackend = ""
	e, _, sink := startEngine(t, cfg)

	cl := h2TLSClient(t, addr, "a.test")
	res, err := cl.Get("https://a.test/x")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	res.Body.Close()
	sc := res.Header.Get("Set-Cookie")
	if res.StatusCode != 200 || res.ProtoMajor != 2 || !strings.HasPrefix(sc, "SRV=s") {
		t.Fatalf("GET: %d proto %d cookie %q", res.StatusCode, res.ProtoMajor, sc)
	}
	if r := sink.last(t); r.RequestLine != "GET /x HTTP/2.0" {
		t.Fatalf("log: %+v", r)
	}
	want := res.Header.Get("X-Server")
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest("POST", "https://a.test/p", strings.NewReader(strings.Repeat("y", 70000)))
		req.Header.Set("Cookie", strings.SplitN(sc, ";", 2)[0])
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Server") != want {
			t.Fatalf("POST %d: %d from %q, want %q (persistence)", i, res.StatusCode, res.Header.Get("X-Server"), want)
		}
	}
	// Another SNI: the ssl_fc_sni ACL does not hold on its streams.
	cl2 := h2TLSClient(t, addr, "b.test")
	res, err = cl2.Get("https://b.test/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("sni b.test: %d, want 503 (no backend)", res.StatusCode)
	}
	tc := dialTLS(t, addr, "a.test", &tls.Config{NextProtos: []string{"http/1.1"}})
	if res, _ := tc.get("/"); res.StatusCode != 200 {
		t.Fatalf("http/1.1 over ALPN: %d", res.StatusCode)
	}
	if f := e.Frontends()[0]; f.H2Streams != 6 || f.TLSHandshakes != 3 {
		t.Fatalf("counters: %d streams, %d handshakes", f.H2Streams, f.TLSHandshakes)
	}
}

// TestH2TLSCurl: curl --http2 over TLS through lbd.
func TestH2TLSCurl(t *testing.T) {
	bin := findTool(t, "curl", "apt-get install curl")
	b := newBackend(t, "s1", nil)
	cfg, addr := h2TLSConfig(t, srv("s1", b.addr()))
	startEngine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-sS", "--http2", "-k", "--max-time", "10",
		"-w", " %{http_version} %{http_code}", "https://"+addr+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if s := string(out); !strings.HasPrefix(s, "hello from s1") || !strings.HasSuffix(s, " 2 200") {
		t.Fatalf("curl --http2: %q", s)
	}
}

// TestH2SpecTLS runs h2spec against a TLS frontend (ALPN h2).
func TestH2SpecTLS(t *testing.T) {
	bin := findTool(t, "h2spec", "run `make test-tools` (installs it into bin/tools)")
	b := newBackend(t, "s1", nil)
	cfg, addr := h2TLSConfig(t, srv("s1", b.addr()))
	startEngine(t, cfg)
	runH2Spec(t, "h2spec (TLS)", bin, addr, "-t", "-k")
}

// proxyServer is a send-proxy server: it reads the PROXY header and one
// HTTP/1.1 request per connection and answers 200; it reports the header's
// addresses.
func proxyServer(t *testing.T) (string, chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				src, dst, err := readProxyHeader(c.(*net.TCPConn), time.Now().Add(5*time.Second))
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				got <- fmt.Sprintf("%v %v %s", src, dst, req.URL.Path)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}()
		}
	}()
	return ln.Addr().String(), got
}

// TestH2SendProxy: h2c streams reach a send-proxy server with the client's
// addresses: the socket's without accept_proxy, the PROXY header's with it.
func TestH2SendProxy(t *testing.T) {
	for _, accept := range []bool{false, true} {
		saddr, got := proxyServer(t)
		cfg := h2Config(Server{Name: "s1", Address: saddr, Weight: 1, SendProxy: SendProxyV2})
		if accept {
			cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
		}
		_, addr, sink := startEngine(t, cfg)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		want := c.LocalAddr().String() + " " + addr + " /"
		if accept {
			c.Write(v2Header(t, "192.0.2.7:40000", "198.51.100.1:443"))
			want = "192.0.2.7:40000 198.51.100.1:443 /"
		}
		//lint:ignore SA1019 one prior-knowledge HTTP/2 connection per client, never retried: x/net/http2 gives exactly that
		cc, err := (&http2.Transport{AllowHTTP: true}).NewClientConn(c)
		if err != nil {
			t.Fatal(err)
		}
		cl := &http.Client{Transport: cc, Timeout: 10 * time.Second}
		for i := 0; i < 2; i++ {
			res, err := cl.Get("http://" + addr + "/")
			if err != nil {
				t.Fatalf("accept_proxy %v: %v", accept, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("accept_proxy %v: %d %q", accept, res.StatusCode, body)
			}
			if s := <-got; s != want {
				t.Errorf("accept_proxy %v: server saw %q, want %q", accept, s, want)
			}
		}
		if accept {
			if r := sink.last(t); r.Client != netip.MustParseAddrPort("192.0.2.7:40000") {
				t.Errorf("logged client %v", r.Client)
			}
		}
	}
}

// h2SoftStopCheck runs a slow stream, calls stop while it runs, and checks
// the soft-stop rule: the stream completes, GOAWAY (NO_ERROR, last stream
// id 1) arrives, then the connection is closed.
func h2SoftStopCheck(t *testing.T, addr string, stop func()) {
	t.Helper()
	r := dialH2(t, addr)
	r.get(1, "/")
	time.Sleep(100 * time.Millisecond)
	go stop()
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
			if f.ErrCode != http2.ErrCodeNo || f.LastStreamID != 1 {
				t.Fatalf("GOAWAY %v last %d", f.ErrCode, f.LastStreamID)
			}
			if got == 200000 {
				t.Errorf("GOAWAY only after the stream ended")
			}
			goaway = true
		case *http2.RSTStreamFrame:
			t.Fatalf("stream reset: %v", f.ErrCode)
		}
		return goaway && got == 200000
	})
	// A stream opened after the GOAWAY is ignored; the connection closes.
	r.get(3, "/")
	start := time.Now()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			break
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			t.Fatalf("stream %d served after GOAWAY", h.StreamID)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("connection closed %v after its last stream", d)
	}
}

func slowBigBackend(t *testing.T) *testBackend {
	return newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, strings.Repeat("z", 200000)) // needs WINDOW_UPDATEs
	})
}

// TestH2SoftStop: Shutdown, a reload that retires the listener, and a
// runtime pause each send GOAWAY to a busy HTTP/2 connection, which serves
// its stream to the end and then closes; an idle one closes at once.
func TestH2SoftStop(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		b := slowBigBackend(t)
		e, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
		done := make(chan error, 1)
		h2SoftStopCheck(t, addr, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- e.Shutdown(ctx)
		})
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
	t.Run("reload", func(t *testing.T) {
		b := slowBigBackend(t)
		cfg := h2Config(srv("s1", b.addr()))
		e, addr, _ := startEngine(t, cfg)
		next := h2Config(srv("s1", b.addr()))
		next.Frontends[0].Binds = []string{freeAddr(t)}
		h2SoftStopCheck(t, addr, func() {
			if err := e.Reload(next); err != nil {
				t.Errorf("Reload: %v", err)
			}
		})
	})
	t.Run("pause", func(t *testing.T) {
		b := slowBigBackend(t)
		cfg, addr := h2TLSConfig(t, srv("s1", b.addr()))
		cfg.Frontends[0].H2C = true // the TLS bind still follows ALPN
		e, _, _ := startEngine(t, cfg)
		// An idle TLS h2 connection: GOAWAY and closed at the pause.
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if f, err := fr.ReadFrame(); err != nil {
			t.Fatal(err)
		} else if _, ok := f.(*http2.SettingsFrame); !ok {
			t.Fatalf("first frame %T", f)
		}
		time.Sleep(50 * time.Millisecond)
		if err := e.SetFrontendEnabled("fe", false); err != nil {
			t.Fatal(err)
		}
		goaway := false
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				if isTimeout(err) {
					t.Fatal("idle connection not closed at the pause")
				}
				break
			}
			if _, ok := f.(*http2.GoAwayFrame); ok {
				goaway = true
			}
		}
		if !goaway {
			t.Error("no GOAWAY before the close")
		}
	})
	t.Run("pause-busy", func(t *testing.T) {
		b := slowBigBackend(t)
		e, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
		h2SoftStopCheck(t, addr, func() {
			if err := e.SetFrontendEnabled("fe", false); err != nil {
				t.Errorf("pause: %v", err)
			}
		})
	})
}
