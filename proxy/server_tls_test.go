package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/certs/certstest"
)

// tlsOrigin is an HTTPS test server on loopback (crypto/tls) that counts
// its handshakes, remembers the SNI of each and which connection (by
// client address) served each request, and whether it resumed.
type tlsOrigin struct {
	clientCAs  atomic.Pointer[x509.CertPool] // set: client certificates required
	maxVersion atomic.Uint32                 // with clientCAs: the highest TLS version (0: 1.3)
	addr       string
	caFile     string // its self-signed certificate, as a ca-file
	mu         sync.Mutex
	hellos     []string          // SNI of every ClientHello (one per handshake)
	connSNI    map[string]string // client address -> SNI
	reqs       []originReq
}

type originReq struct {
	remote, host, sni string
	resumed           bool
}

// requireClient makes the origin require a client certificate from pool.
func (o *tlsOrigin) requireClient(pool *x509.CertPool) { o.clientCAs.Store(pool) }

func (o *tlsOrigin) handshakes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.hellos)
}

func (o *tlsOrigin) requests() []originReq {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]originReq(nil), o.reqs...)
}

// newTLSOrigin serves HTTPS for names with a fresh self-signed
// certificate; h (nil: a short body) answers.
func newTLSOrigin(t *testing.T, h http.HandlerFunc, names ...string) *tlsOrigin {
	t.Helper()
	dir := t.TempDir()
	o := &tlsOrigin{caFile: filepath.Join(dir, "origin.pem"), connSNI: map[string]string{}}
	certstest.Write(t, o.caFile, certstest.Spec{Names: names})
	kp, err := tls.LoadX509KeyPair(o.caFile, o.caFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg0 *tls.Config
	cfg := &tls.Config{
		Certificates: []tls.Certificate{kp},
		NextProtos:   []string{"http/1.1"},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			o.mu.Lock()
			o.hellos = append(o.hellos, hi.ServerName)
			o.connSNI[hi.Conn.RemoteAddr().String()] = hi.ServerName
			o.mu.Unlock()
			if p := o.clientCAs.Load(); p != nil {
				c := cfg0.Clone()
				c.GetConfigForClient = nil
				// Any certificate, then a check that it is one of p's (the
				// test certificates are made for server auth only).
				c.ClientAuth = tls.RequireAnyClientCert
				c.MaxVersion = uint16(o.maxVersion.Load())
				c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
					cert, err := x509.ParseCertificate(raw[0])
					if err != nil {
						return err
					}
					_, err = cert.Verify(x509.VerifyOptions{Roots: p, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
					return err
				}
				return c, nil
			}
			return nil, nil
		},
	}
	cfg0 = cfg
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, originReq{remote: r.RemoteAddr, host: r.Host, sni: r.TLS.ServerName, resumed: r.TLS.DidResume})
		o.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "tls hello %s", r.TLS.ServerName)
	}), TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return o
}

// tlsSrv is a server of weight 1 speaking TLS with the given options.
func tlsSrv(name, addr string, o certs.ClientOptions, sni SNI) Server {
	s := srv(name, addr)
	s.TLS = &ServerTLS{Options: o, SNI: sni}
	return s
}

// syncBuf is a goroutine-safe log buffer.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startEngineLog is startEngine with the engine's log in a buffer.
func startEngineLog(t *testing.T, cfg *Config) (*Engine, string, *logSink, *syncBuf) {
	t.Helper()
	sink, buf := &logSink{}, &syncBuf{}
	e, addr := startEngineWith(t, cfg, Options{AccessLog: sink.add, Logger: slog.New(slog.NewTextHandler(buf, nil))})
	return e, addr, sink, buf
}

func serverStatus(t *testing.T, e *Engine, be, name string) ServerStatus {
	t.Helper()
	for _, b := range e.Backends() {
		if b.Name != be {
			continue
		}
		for _, s := range b.Servers {
			if s.Name == name {
				return s
			}
		}
	}
	t.Fatalf("no server %s/%s", be, name)
	return ServerStatus{}
}

// TestServerTLSVerify: verify required with the right CA passes and sends
// the configured SNI; with a wrong CA the client gets 503 SC, the engine
// logs "SSL handshake failure" with the reason, and the server's stats
// count it; verify none accepts the same certificate.
func TestServerTLSVerify(t *testing.T) {
	o := newTLSOrigin(t, nil, "www.example.test")
	wrong := filepath.Join(t.TempDir(), "other.pem")
	certstest.Write(t, wrong, certstest.Spec{Names: []string{"www.example.test"}})
	fixed := SNI{From: SNIFixed, Name: "www.example.test"}

	cfg := testConfig(tlsSrv("ok", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, fixed))
	cfg.Backends = append(cfg.Backends,
		testBackendCfg("wrong", tlsSrv("bad", o.addr, certs.ClientOptions{Verify: true, CAFile: wrong}, fixed)),
		testBackendCfg("none", tlsSrv("any", o.addr, certs.ClientOptions{Verify: false, CAFile: wrong}, SNI{})),
		testBackendCfg("badname", tlsSrv("name", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, SNI{From: SNIFixed, Name: "other.test"})),
	)
	cfg.Backends[1].Retries = 0
	cfg.Backends[3].Retries = 0
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{{Name: "w", Criterion: "path_beg", Values: []string{"/wrong"}}, {Name: "n", Criterion: "path_beg", Values: []string{"/none"}}, {Name: "bn", Criterion: "path_beg", Values: []string{"/badname"}}}
	fe.UseBackends = []UseBackend{{Backend: "wrong", If: "w"}, {Backend: "none", If: "n"}, {Backend: "badname", If: "bn"}}
	e, addr, sink, logs := startEngineLog(t, cfg)

	rc := dialRaw(t, addr)
	res, body := rc.get("/")
	if res.StatusCode != 200 || body != "tls hello www.example.test" {
		t.Fatalf("verify required: %d %q", res.StatusCode, body)
	}
	if got := o.requests()[0].sni; got != "www.example.test" {
		t.Fatalf("server saw SNI %q", got)
	}

	rc = dialRaw(t, addr)
	res, _ = rc.get("/wrong")
	if res.StatusCode != 503 {
		t.Fatalf("wrong CA: status %d", res.StatusCode)
	}
	if r := sink.last(t); r.Termination[:2] != "SC" || r.Server != "bad" {
		t.Fatalf("wrong CA: log %q server %q", r.Termination, r.Server)
	}
	waitFor(t, "the handshake failure log line", func() bool {
		l := logs.String()
		return strings.Contains(l, "SSL handshake failure") && strings.Contains(l, "certificate verify failed") && strings.Contains(l, "server=bad")
	})
	if st := serverStatus(t, e, "wrong", "bad"); st.TLSFailures != 1 || !st.TLS || st.ErrorsConn != 1 || st.TLSFailureReasons["bad_server_cert"] != 1 {
		t.Fatalf("wrong CA stats: %+v", st)
	}

	rc = dialRaw(t, addr)
	res, body = rc.get("/none")
	if res.StatusCode != 200 || body != "tls hello " {
		t.Fatalf("verify none: %d %q", res.StatusCode, body)
	}

	rc = dialRaw(t, addr)
	res, _ = rc.get("/badname")
	if res.StatusCode != 503 {
		t.Fatalf("name mismatch: status %d", res.StatusCode)
	}
	if st := serverStatus(t, e, "be", "ok"); st.TLSHandshakes != 1 || st.TLSFailures != 0 {
		t.Fatalf("ok stats: %+v", st)
	}
}

// TestServerTLSReuse: keep-alive requests through lbd reuse one server TLS
// connection, across client connections too; with server-close each
// request takes a new connection that resumes the session.
func TestServerTLSReuse(t *testing.T) {
	const n = 20
	o := newTLSOrigin(t, nil, "www.example.test")
	cfg := testConfig(tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, SNI{From: SNIFixed, Name: "www.example.test"}))
	_, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	for i := 0; i < n; i++ {
		if res, _ := rc.get("/"); res.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	for i := 0; i < n; i++ {
		rc := dialRaw(t, addr)
		if res, _ := rc.get("/"); res.StatusCode != 200 {
			t.Fatalf("client %d: %d", i, res.StatusCode)
		}
	}
	if h := o.handshakes(); h != 1 {
		t.Fatalf("%d requests made %d handshakes at the server, want 1", 2*n, h)
	}
	t.Logf("keep-alive: %d requests, %d server handshake(s)", 2*n, o.handshakes())

	o2 := newTLSOrigin(t, nil, "www.example.test")
	cfg = testConfig(tlsSrv("s1", o2.addr, certs.ClientOptions{Verify: true, CAFile: o2.caFile}, SNI{From: SNIFixed, Name: "www.example.test"}))
	cfg.Frontends[0].HTTPServerClose = true
	_, addr, _ = startEngine(t, cfg)
	rc = dialRaw(t, addr)
	for i := 0; i < 5; i++ {
		if res, _ := rc.get("/"); res.StatusCode != 200 {
			t.Fatalf("server-close request %d: %d", i, res.StatusCode)
		}
	}
	reqs := o2.requests()
	resumed := 0
	for _, r := range reqs[1:] {
		if r.resumed {
			resumed++
		}
	}
	if o2.handshakes() != 5 || reqs[0].resumed || resumed != 4 {
		t.Fatalf("server-close: %d handshakes, first resumed %v, %d of 4 later ones resumed", o2.handshakes(), reqs[0].resumed, resumed)
	}
	t.Logf("server-close: 5 requests, %d handshakes, %d resumed", o2.handshakes(), resumed)
}

// TestServerTLSPerRequestSNI: with sni req.hdr(host) each request goes on
// a connection made for its own Host, never on one made for another name.
func TestServerTLSPerRequestSNI(t *testing.T) {
	o := newTLSOrigin(t, nil, "a.test", "b.test")
	cfg := testConfig(tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, SNI{From: SNIHost}))
	cfg.Backends[0].Retries = 0
	_, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	hosts := []string{"a.test", "b.test:8443", "a.test", "b.test", "a.test:80", "b.test"}
	for i, h := range hosts {
		rc.send("GET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n")
		res, body := rc.resp("GET")
		want := "tls hello " + strings.Split(h, ":")[0]
		if res.StatusCode != 200 || body != want {
			t.Fatalf("request %d (%s): %d %q", i, h, res.StatusCode, body)
		}
	}
	// A name the certificate does not cover fails verification.
	rc.send("GET / HTTP/1.1\r\nHost: c.test\r\n\r\n")
	if res, _ := rc.resp("GET"); res.StatusCode != 503 {
		t.Fatalf("c.test: %d", res.StatusCode)
	}
	for i, r := range o.requests() {
		if r.sni != strings.Split(r.host, ":")[0] {
			t.Fatalf("request %d: Host %q on a connection with SNI %q", i, r.host, r.sni)
		}
	}
	if h := o.handshakes(); h != 3 { // a.test, b.test, c.test (refused)
		t.Fatalf("%d handshakes, want 3", h)
	}
}

// TestServerTLSH2Client: an HTTP/2 client through lbd to a TLS server.
func TestServerTLSH2Client(t *testing.T) {
	o := newTLSOrigin(t, nil, "www.example.test")
	cfg, addr := h2TLSConfig(t, tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, SNI{From: SNIFrontend}))
	startEngine(t, cfg)
	cl := h2TLSClient(t, addr, "www.example.test")
	for i := 0; i < 5; i++ {
		res, err := cl.Get("https://www.example.test/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "tls hello www.example.test" || res.ProtoMajor != 2 {
			t.Fatalf("h2: %d %q proto %d", res.StatusCode, b, res.ProtoMajor)
		}
	}
	if h := o.handshakes(); h != 1 {
		t.Fatalf("%d handshakes, want 1", h)
	}
}

// TestServerTLSWebSocket: a WebSocket tunnel to a TLS server, from a plain
// and from a TLS client.
func TestServerTLSWebSocket(t *testing.T) {
	o := newTLSOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprintf(brw, "echo %s", line)
			brw.Flush()
		}
	}, "www.example.test")
	cfg := testConfig(tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, SNI{From: SNIFixed, Name: "www.example.test"}))
	tlsAddr := freeAddr(t)
	fe := &cfg.Frontends[0]
	fe.Binds = append(fe.Binds, tlsAddr)
	fe.TLS = map[string]*tls.Config{tlsAddr: tlsTestConfig(t, nil, "a.test")}
	_, addr, sink := startEngine(t, cfg)
	for _, rc := range []*rawClient{dialRaw(t, addr), dialTLS(t, tlsAddr, "a.test", nil)} {
		rc.send("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		if h := rc.rawHead(); !strings.HasPrefix(h, "HTTP/1.1 101") {
			t.Fatalf("head %q", h)
		}
		for _, m := range []string{"ping\n", strings.Repeat("x", 40000) + "\n"} {
			rc.send(m)
			line, err := rc.r.ReadString('\n')
			if err != nil || line != "echo "+m {
				t.Fatalf("tunnel: %d bytes %v", len(line), err)
			}
		}
		rc.c.Close()
		waitFor(t, "the tunnel's log record", func() bool {
			all := sink.all()
			return len(all) > 0 && all[len(all)-1].Status == 101
		})
	}
}

// TestServerTLSModeTCP: mode tcp to a TLS server: bytes both ways, the
// server's half-close seen by the client.
func TestServerTLSModeTCP(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "echo.pem")
	certstest.Write(t, ca, certstest.Spec{Names: []string{"echo.test"}})
	kp, err := tls.LoadX509KeyPair(ca, ca)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{kp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	sniSeen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if tc.Handshake() == nil {
			sniSeen <- tc.ConnectionState().ServerName
		}
		br := bufio.NewReader(c)
		line, _ := br.ReadString('\n')
		fmt.Fprintf(c, "echo %s", line)
	}()
	_, addr, sink := startEngine(t, tcpConfig(tlsSrv("s1", ln.Addr().String(), certs.ClientOptions{Verify: true, CAFile: ca}, SNI{From: SNIFixed, Name: "echo.test"})))
	c := dialDeadline(t, addr, 5*time.Second)
	fmt.Fprintf(c, "hello\n")
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "echo hello\n" {
		t.Fatalf("tcp over tls: %q %v", b, err)
	}
	c.Close()
	if s := <-sniSeen; s != "echo.test" {
		t.Fatalf("SNI %q", s)
	}
	if r := sink.last(t); r.Server != "s1" || r.BytesRead != int64(len(b)) {
		t.Fatalf("log: %+v", r)
	}
}

// TestServerTLSClientCert: a server that requires a client certificate
// gets the one of ssl.crt. Without it the server refuses with an alert,
// which TLS 1.3 delivers only on lbd's first read after its side of the
// handshake is done: still a failed handshake, so 503 SC, the "SSL
// handshake failure" line and the server's tls_failures, as with TLS 1.2.
func TestServerTLSClientCert(t *testing.T) {
	dir := t.TempDir()
	clientPEM := filepath.Join(dir, "client.pem")
	clientCert := certstest.Write(t, clientPEM, certstest.Spec{Names: []string{"lbd.client.test"}})
	o := newTLSOrigin(t, nil, "www.example.test")
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	// Require the client certificate: wrap the origin's ClientHello hook.
	o.requireClient(pool)
	fixed := SNI{From: SNIFixed, Name: "www.example.test"}
	cfg := testConfig(tlsSrv("crt", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile, CertFile: clientPEM}, fixed))
	cfg.Backends = append(cfg.Backends, testBackendCfg("nocrt", tlsSrv("nocrt", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, fixed)))
	cfg.Backends[1].Retries = 0
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{{Name: "n", Criterion: "path_beg", Values: []string{"/nocrt"}}}
	fe.UseBackends = []UseBackend{{Backend: "nocrt", If: "n"}}
	e, addr, sink, logBuf := startEngineLog(t, cfg)
	rc := dialRaw(t, addr)
	if res, body := rc.get("/"); res.StatusCode != 200 {
		t.Fatalf("with crt: %d %q", res.StatusCode, body)
	}
	for _, v := range []struct {
		name        string
		max         uint16
		retries     int
		fails       uint64
		wantRetries int
		body        int // POST a body this large (0: GET)
	}{
		{"tls13", 0, 0, 1, 0, 0},
		{"tls12", tls.VersionTLS12, 0, 1, 0, 0},
		{"tls13-retries", 0, 2, 3, 2, 0},
		// Writing the request fails before lbd reads: the alert is
		// still found.
		{"tls13-large-body", 0, 0, 1, 0, 1 << 20},
	} {
		t.Run(v.name, func(t *testing.T) {
			o.maxVersion.Store(uint32(v.max))
			cfg.Backends[1].Retries = v.retries
			if err := e.Reload(cfg); err != nil {
				t.Fatal(err)
			}
			before := serverStatus(t, e, "nocrt", "nocrt")
			n := len(sink.all())
			srvTLSLog.sec.Store(0) // a fresh second for the rate-limited lines
			lines := strings.Count(logBuf.String(), "SSL handshake failure")
			c := dialRaw(t, addr)
			if v.body > 0 {
				// Written aside: lbd answers before it has read it all.
				go io.WriteString(c.c, fmt.Sprintf("POST /nocrt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", v.body, strings.Repeat("x", v.body)))
				if res, body := c.resp("POST"); res.StatusCode != 503 {
					t.Fatalf("without crt, large body: %d %q", res.StatusCode, body)
				}
			} else if res, body := c.get("/nocrt"); res.StatusCode != 503 {
				t.Fatalf("without crt: %d %q", res.StatusCode, body)
			}
			st := serverStatus(t, e, "nocrt", "nocrt")
			if got := st.TLSFailures - before.TLSFailures; got != v.fails {
				t.Errorf("tls failures +%d, want +%d", got, v.fails)
			}
			if got := st.TLSFailureReasons["refused"] - before.TLSFailureReasons["refused"]; got != v.fails {
				t.Errorf("refused +%d, want +%d (%v)", got, v.fails, st.TLSFailureReasons)
			}
			if got := st.ErrorsConn - before.ErrorsConn; got != v.fails {
				t.Errorf("connection errors +%d, want +%d", got, v.fails)
			}
			if st.ErrorsResp != before.ErrorsResp {
				t.Errorf("response errors +%d, want none", st.ErrorsResp-before.ErrorsResp)
			}
			waitFor(t, "the access log", func() bool { return len(sink.all()) > n })
			if r := sink.all()[n]; r.Status != 503 || r.Termination != "SC--" || r.Retries != v.wantRetries {
				t.Errorf("log: %d %s retries %d, want 503 SC-- retries %d", r.Status, r.Termination, r.Retries, v.wantRetries)
			}
			if l := logBuf.String(); strings.Count(l, "SSL handshake failure") == lines || !strings.Contains(l, "server=nocrt") {
				t.Errorf("no handshake failure line: %s", l)
			}
		})
	}
	if v := logBuf.String(); !strings.Contains(v, "certificate required") {
		t.Errorf("the TLS 1.3 refusal's reason is not logged: %s", v)
	}
}

// TestServerTLSHandshakeTimeout: a server that accepts and never answers
// the ClientHello fails the handshake after the connect timeout: 503 SC,
// counted under the timeout reason.
func TestServerTLSHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	holdAccepted(t, ln, nil)
	cfg := testConfig(tlsSrv("mute", ln.Addr().String(), certs.ClientOptions{}, SNI{}))
	cfg.Backends[0].Retries = 0
	cfg.Backends[0].ConnectTimeout = 200 * time.Millisecond
	e, addr, sink, _ := startEngineLog(t, cfg)
	if res, _ := dialRaw(t, addr).get("/"); res.StatusCode != 503 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if r := sink.last(t); r.Termination != "SC--" {
		t.Errorf("termination %q", r.Termination)
	}
	if st := serverStatus(t, e, "be", "mute"); st.TLSFailures != 1 || st.TLSFailureReasons["timeout"] != 1 {
		t.Errorf("stats: %d failures %v", st.TLSFailures, st.TLSFailureReasons)
	}
}
