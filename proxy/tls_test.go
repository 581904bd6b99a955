package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/certs/certstest"
)

// tlsTestConfig builds the tls.Config of a bind serving a new certificate
// for names (through package certs, as lbd's daemon does).
func tlsTestConfig(t *testing.T, alpn []string, names ...string) *tls.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "site.pem")
	certstest.Write(t, p, certstest.Spec{Names: names})
	st, _, err := certs.New(certs.Options{Crt: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := certs.ServerOptions{ALPN: alpn}.Config(st)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func dialTLS(t *testing.T, addr, sni string, cfg *tls.Config) *rawClient {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.InsecureSkipVerify = true
	cfg.ServerName = sni
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

// TestTLSBind: a TLS bind next to a plain one: requests (with and without
// a body) over TLS, ssl_fc / ssl_fc_sni / ssl_fc_protocol routing,
// redirect scheme https from the plain bind, X-Forwarded-Proto, the access
// log's TLS flag, the handshake counters and a refused TLS 1.1 client.
func TestTLSBind(t *testing.T) {
	plainBE := newBackend(t, "plain", nil)
	tlsBE := newBackend(t, "secure", nil)
	sniBE := newBackend(t, "sni", nil)
	cfg := testConfig(srv("p1", plainBE.addr()))
	cfg.Backends = append(cfg.Backends, testBackendCfg("sec", srv("s1", tlsBE.addr())), testBackendCfg("api", srv("a1", sniBE.addr())))
	tlsAddr := freeAddr(t)
	fe := &cfg.Frontends[0]
	fe.Binds = append(fe.Binds, tlsAddr)
	fe.TLS = map[string]*tls.Config{tlsAddr: tlsTestConfig(t, []string{"http/1.1"}, "www.example.test", "api.example.test")}
	fe.ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	fe.ACLs = []ACL{
		{Name: "is_tls", Criterion: "ssl_fc"},
		{Name: "api", Criterion: "ssl_fc_sni", IgnoreCase: true, Values: []string{"API.example.test"}},
		{Name: "v13", Criterion: "ssl_fc_protocol", Values: []string{"TLSv1.3"}},
		{Name: "plainpath", Criterion: "path_beg", Values: []string{"/plain"}},
	}
	fe.Redirects = []Redirect{{Scheme: "https", Code: 301, If: "!{ ssl_fc } !plainpath"}}
	fe.UseBackends = []UseBackend{{Backend: "api", If: "api v13"}, {Backend: "sec", If: "is_tls"}}
	e, plainAddr, sink := startEngine(t, cfg)

	// Plain bind: redirected, except /plain.
	rc := dialRaw(t, plainAddr)
	res, _ := rc.get("/a/b?x=1")
	if res.StatusCode != 301 || res.Header.Get("Location") != "https://test/a/b?x=1" {
		t.Fatalf("redirect: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if r := sink.last(t); r.Status != 301 || r.Termination[:2] != "LR" || r.TLS {
		t.Errorf("redirect log record: %+v", r)
	}
	res, body := rc.get("/plain") // same connection: the redirect kept it alive
	if res.StatusCode != 200 || body != "hello from plain" {
		t.Fatalf("plain: %d %q", res.StatusCode, body)
	}
	if got := plainBE.requests()[0].Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto over plain = %q", got)
	}

	// TLS bind, default SNI: backend sec, two requests on one connection,
	// one with a body (the ordinary path).
	tc := dialTLS(t, tlsAddr, "www.example.test", nil)
	res, body = tc.get("/x", "X-Forwarded-Proto: spoofed\r\n")
	if res.StatusCode != 200 || body != "hello from secure" {
		t.Fatalf("tls: %d %q", res.StatusCode, body)
	}
	if h := tlsBE.requests()[0].Header.Values("X-Forwarded-Proto"); len(h) != 1 || h[0] != "https" {
		t.Errorf("X-Forwarded-Proto over TLS = %q", h)
	}
	if r := sink.last(t); !r.TLS || r.Backend != "sec" {
		t.Errorf("TLS log record: %+v", r)
	}
	tc.send("POST /p HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
	if res, body = tc.resp("POST"); res.StatusCode != 200 || body != "hello from secure" {
		t.Fatalf("tls POST: %d %q", res.StatusCode, body)
	}

	// SNI api over TLS 1.3: backend api; over TLS 1.2: sec.
	tc = dialTLS(t, tlsAddr, "api.example.test", nil)
	if _, body = tc.get("/"); body != "hello from sni" {
		t.Errorf("sni api over 1.3: %q", body)
	}
	tc = dialTLS(t, tlsAddr, "api.example.test", &tls.Config{MaxVersion: tls.VersionTLS12})
	if _, body = tc.get("/"); body != "hello from secure" {
		t.Errorf("sni api over 1.2: %q", body)
	}

	// TLS 1.1 is refused and counted.
	c, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	waitFor(t, "the handshake counters", func() bool {
		fs := e.Frontends()[0]
		return fs.TLSHandshakes == 3 && fs.TLSFailures["protocol_version"] == 1
	})
}

// TestTLSHandshakeTimeout: a client that connects and never sends a
// ClientHello is closed after timeout http-request and counted.
func TestTLSHandshakeTimeout(t *testing.T) {
	be := newBackend(t, "b", nil)
	cfg := testConfig(srv("s1", be.addr()))
	fe := &cfg.Frontends[0]
	fe.HTTPRequestTimeout = 300 * time.Millisecond
	addr := freeAddr(t)
	fe.Binds = []string{addr}
	fe.TLS = map[string]*tls.Config{addr: tlsTestConfig(t, nil, "a.test")}
	e, _, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	rc.expectClosed()
	waitFor(t, "the timeout counter", func() bool { return e.Frontends()[0].TLSFailures["timeout"] == 1 })
	// Garbage instead of a ClientHello: other.
	rc = dialRaw(t, addr)
	rc.send(strings.Repeat("GET / HTTP/1.1\r\n", 4) + "\r\n")
	rc.expectClosed()
	waitFor(t, "the other counter", func() bool { return e.Frontends()[0].TLSFailures["other"] == 1 })
}

// TestTLSWebSocket: an Upgrade over TLS is tunnelled through the tls.Conn.
func TestTLSWebSocket(t *testing.T) {
	be := newBackend(t, "ws", func(w http.ResponseWriter, r *http.Request) {
		hj := w.(http.Hijacker)
		c, brw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		fmt.Fprintf(brw, "echo %s", line)
		brw.Flush()
	})
	cfg := testConfig(srv("s1", be.addr()))
	addr := freeAddr(t)
	fe := &cfg.Frontends[0]
	fe.Binds = []string{addr}
	fe.TLS = map[string]*tls.Config{addr: tlsTestConfig(t, nil, "a.test")}
	startEngine(t, cfg)
	tc := dialTLS(t, addr, "a.test", nil)
	tc.send("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if h := tc.rawHead(); !strings.HasPrefix(h, "HTTP/1.1 101") {
		t.Fatalf("head %q", h)
	}
	tc.send("ping\n")
	line, err := tc.r.ReadString('\n')
	if err != nil || line != "echo ping\n" {
		t.Fatalf("tunnel: %q %v", line, err)
	}
}

func TestTLSReasonIndex(t *testing.T) {
	if len(certs.ServerReasons) != numSrvTLSReasons || certs.ServerReasons[numSrvTLSReasons-1] != certs.ReasonOther {
		t.Fatalf("certs has %d server reasons, numSrvTLSReasons is %d", len(certs.ServerReasons), numSrvTLSReasons)
	}
	if len(certs.Reasons) != numTLSReasons {
		t.Fatalf("certs has %d reasons, numTLSReasons is %d", len(certs.Reasons), numTLSReasons)
	}
	for i, r := range certs.Reasons {
		if reasonIndex(r) != i {
			t.Errorf("reasonIndex(%s) = %d", r, reasonIndex(r))
		}
	}
}

// TestTLSIdleKeepAlive: a TLS keep-alive connection idle past the idle
// park delay (plain connections park there) still serves its next request,
// and closes at the keep-alive timeout.
func TestTLSIdleKeepAlive(t *testing.T) {
	be := newBackend(t, "b", nil)
	cfg := testConfig(srv("s1", be.addr()))
	fe := &cfg.Frontends[0]
	fe.KeepAliveTimeout = 600 * time.Millisecond
	addr := freeAddr(t)
	fe.Binds = []string{addr}
	fe.TLS = map[string]*tls.Config{addr: tlsTestConfig(t, nil, "a.test")}
	startEngine(t, cfg)
	tc := dialTLS(t, addr, "a.test", nil)
	for i := 0; i < 2; i++ {
		if res, body := tc.get("/"); res.StatusCode != 200 || body != "hello from b" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
		}
		time.Sleep(3 * idleParkAfter)
	}
	start := time.Now()
	tc.expectClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want the keep-alive timeout", d)
	}
}

// TestTLSShutdownDuringHandshake: a handshake still waiting for its
// ClientHello is closed by the hard stop that ends a soft stop (Shutdown's
// context), without counting as a handshake failure.
func TestTLSShutdownDuringHandshake(t *testing.T) {
	be := newBackend(t, "b", nil)
	cfg := testConfig(srv("s1", be.addr()))
	addr := freeAddr(t)
	fe := &cfg.Frontends[0]
	fe.Binds = []string{addr}
	fe.HTTPRequestTimeout = 10 * time.Second
	fe.TLS = map[string]*tls.Config{addr: tlsTestConfig(t, nil, "a.test")}
	e, _, _ := startEngine(t, cfg)
	dialRaw(t, addr)
	waitFor(t, "the connection", func() bool { return e.Frontends()[0].Sessions == 1 })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	e.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a handshake pending", d)
	}
	if n := e.Frontends()[0].TLSFailures["timeout"] + e.Frontends()[0].TLSFailures["other"]; n != 0 {
		t.Errorf("the hard stop counted %d handshake failures", n)
	}
}

// FuzzCondition: conditions with anonymous ACLs ({ ssl_fc }, { path_beg
// /x }) never panic, compiled or evaluated.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"!{ ssl_fc }", "a || !{ ssl_fc_sni -i x.test }", "{", "}", "!{}", "{ path_reg ( }", "a or { src 10.0.0.0/8 } b"} {
		f.Add(s)
	}
	named := map[string][]*acl{"a": {{kind: aclSSLFc}}, "b": {{kind: aclSSLFc}}}
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := compileCondition(expr, false, named)
		if err != nil {
			return
		}
		c.eval(&matchCtx{})
		c.eval(&matchCtx{tls: &tlsState{sni: []byte("x.test"), version: nameTLS13}})
	})
}
