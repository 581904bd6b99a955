package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testConfig is one frontend "fe" on 127.0.0.1:0 with default backend "be"
// holding the given servers; timeouts short enough for tests.
func testConfig(servers ...Server) *Config {
	return &Config{
		Maxconn: 1000,
		Frontends: []Frontend{{
			Name: "fe", Binds: []string{"127.0.0.1:0"}, DefaultBackend: "be", Log: true,
			HTTPRequestTimeout: 5 * time.Second, KeepAliveTimeout: 5 * time.Second, ClientTimeout: 5 * time.Second,
		}},
		Backends: []Backend{testBackendCfg("be", servers...)},
	}
}

// testBackendCfg is a backend with the timeouts and retries of testConfig.
func testBackendCfg(name string, servers ...Server) Backend {
	return Backend{
		Name: name, Servers: servers, Retries: 3,
		ConnectTimeout: time.Second, ServerTimeout: 5 * time.Second, QueueTimeout: time.Second,
	}
}

// srv is a server of weight 1 whose cookie is its name.
func srv(name, addr string) Server {
	return Server{Name: name, Address: addr, Cookie: name, Weight: 1}
}

// logSink collects access-log records.
type logSink struct {
	mu   sync.Mutex
	recs []LogRecord
}

func (l *logSink) add(r *LogRecord) {
	l.mu.Lock()
	l.recs = append(l.recs, *r)
	l.mu.Unlock()
}

func (l *logSink) all() []LogRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LogRecord(nil), l.recs...)
}

// waitFor polls cond (the access log is written after the response).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (l *logSink) last(t *testing.T) LogRecord {
	t.Helper()
	var r LogRecord
	waitFor(t, "an access-log record", func() bool {
		all := l.all()
		if len(all) == 0 {
			return false
		}
		r = all[len(all)-1]
		return true
	})
	return r
}

// startEngine starts cfg and returns the engine, the first frontend
// address and the log sink.
func startEngine(t *testing.T, cfg *Config) (*Engine, string, *logSink) {
	t.Helper()
	sink := &logSink{}
	e, addr := startEngineWith(t, cfg, Options{AccessLog: sink.add})
	return e, addr, sink
}

// startEngineWith starts cfg with opts, stops it when the test ends, and
// returns the engine and the first frontend address.
func startEngineWith(t *testing.T, cfg *Config, opts Options) (*Engine, string) {
	t.Helper()
	e, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	addrs := e.BoundAddrs(cfg.Frontends[0].Name)
	if len(addrs) == 0 {
		t.Fatal("no bound address")
	}
	return e, addrs[0]
}

// backend is a Go test server on loopback that records requests.
type testBackend struct {
	name string
	ln   net.Listener
	srv  *http.Server
	mu   sync.Mutex
	reqs []*http.Request
	h    http.HandlerFunc
}

func newBackend(t *testing.T, name string, h http.HandlerFunc, opts ...func(*http.Server)) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{name: name, ln: ln, h: h}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r)
		h := b.h
		b.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Server", name)
		fmt.Fprintf(w, "hello from %s", name)
	}), ReadHeaderTimeout: 5 * time.Second}
	for _, o := range opts {
		o(b.srv)
	}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *testBackend) addr() string { return b.ln.Addr().String() }

func (b *testBackend) setHandler(h http.HandlerFunc) {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
}

func (b *testBackend) requests() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.reqs...)
}

// rawClient speaks raw HTTP/1.1 over one connection.
type rawClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawClient) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// resp reads one response (head and body as delimited).
func (rc *rawClient) resp(method string) (*http.Response, string) {
	rc.t.Helper()
	req, _ := http.NewRequest(method, "/", nil)
	res, err := http.ReadResponse(rc.r, req)
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		rc.t.Fatalf("reading body: %v", err)
	}
	return res, string(body)
}

// rawHead reads the raw response head bytes.
func (rc *rawClient) rawHead() string {
	rc.t.Helper()
	var b strings.Builder
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("reading head: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

func (rc *rawClient) get(path string, hdrs ...string) (*http.Response, string) {
	rc.t.Helper()
	rc.send("GET " + path + " HTTP/1.1\r\nHost: test\r\n" + strings.Join(hdrs, "") + "\r\n")
	return rc.resp("GET")
}

// expectClosed asserts the proxy closes the connection.
func (rc *rawClient) expectClosed() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := rc.r.Read(make([]byte, 1))
	if err == nil {
		rc.t.Fatalf("connection still open (read %d bytes)", n)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		rc.t.Fatal("connection not closed by the proxy")
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sendAll sends one GET on every connection at once and fails the test on
// any answer but 200 "ok".
func sendAll(t *testing.T, conns []*rawClient) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, rc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "ok" {
				errs <- fmt.Errorf("%d %q", res.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// rawRequest opens a blocking socket to sa with a receive timeout (no
// Go poller, so the test's own memory and goroutines stay out of the
// figures) and writes benchReq on it; the caller reads and closes.
func rawRequest(t *testing.T, sa syscall.Sockaddr, timeout time.Duration) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	if err := syscall.Connect(fd, sa); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if _, err := syscall.Write(fd, benchReq); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	return fd
}

// tcpConfig is testConfig in mode tcp (frontend and backend).
func tcpConfig(servers ...Server) *Config {
	cfg := testConfig(servers...)
	cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
	return cfg
}

// dialDeadline connects to addr with a deadline d for all I/O; the
// connection closes when the test ends.
func dialDeadline(t *testing.T, addr string, d time.Duration) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(d))
	return c.(*net.TCPConn)
}

// rawResponse reads from a rawRequest socket into buf until the response
// ends in the test backend's "hello, world\n"; on failure it returns the
// last read's count (0 or less at EOF or error) and error.
func rawResponse(fd int, buf []byte) (int, error) {
	got := 0
	for !bytes.HasSuffix(buf[:got], []byte("hello, world\n")) {
		k, err := syscall.Read(fd, buf[got:])
		if err == syscall.EINTR { // the runtime's signals (SO_RCVTIMEO: no restart)
			continue
		}
		if err != nil || k <= 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return k, err
		}
		got += k
	}
	return got, nil
}
