package proxy

import (
	"context"
	"fmt"
	"github.com/lbd-ha/lbd/checks"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestTimeouts(t *testing.T) {
	t.Run("http_request 408 cR", func(t *testing.T) {
		a := newBackend(t, "a", nil)
		cfg := testConfig(srv("a", a.addr()))
		cfg.Frontends[0].HTTPRequestTimeout, cfg.Frontends[0].KeepAliveTimeout = 150*time.Millisecond, 150*time.Millisecond
		_, addr, sink := startEngine(t, cfg)
		rc := dialRaw(t, addr)
		rc.send("GET / HTTP/1.1\r\nHost: x\r\n") // never finishes: slowloris
		res, _ := rc.resp("GET")
		if res.StatusCode != 408 {
			t.Fatalf("status %d", res.StatusCode)
		}
		rc.expectClosed()
		if rec := sink.last(t); rec.Termination != "cR--" || rec.Status != 408 {
			t.Errorf("record %q %d", rec.Termination, rec.Status)
		}
	})
	t.Run("http_keep_alive closes silently", func(t *testing.T) {
		a := newBackend(t, "a", nil)
		cfg := testConfig(srv("a", a.addr()))
		cfg.Frontends[0].KeepAliveTimeout = 100 * time.Millisecond
		_, addr, sink := startEngine(t, cfg)
		rc := dialRaw(t, addr)
		rc.get("/")
		sink.last(t)
		n := len(sink.all())
		start := time.Now()
		rc.expectClosed()
		if time.Since(start) > 2*time.Second {
			t.Error("keep-alive timeout not applied")
		}
		time.Sleep(20 * time.Millisecond)
		if len(sink.all()) != n {
			t.Error("idle keep-alive expiry must not be logged")
		}
	})
	t.Run("server 504 sH", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { <-block })
		cfg := testConfig(srv("a", a.addr()))
		cfg.Backends[0].ServerTimeout = 150 * time.Millisecond
		_, addr, sink := startEngine(t, cfg)
		res, _ := dialRaw(t, addr).get("/")
		if res.StatusCode != 504 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if rec := sink.last(t); rec.Termination != "sH--" {
			t.Errorf("termination %q", rec.Termination)
		}
	})
	t.Run("client cD during body", func(t *testing.T) {
		a := newBackend(t, "a", nil)
		cfg := testConfig(srv("a", a.addr()))
		cfg.Frontends[0].ClientTimeout = 150 * time.Millisecond
		_, addr, sink := startEngine(t, cfg)
		rc := dialRaw(t, addr)
		rc.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		rc.expectClosed()
		if rec := sink.last(t); rec.Termination[:2] != "cD" {
			t.Errorf("termination %q", rec.Termination)
		}
	})
	t.Run("connect SC", func(t *testing.T) {
		// A non-routable address with a tiny connect timeout.
		cfg := testConfig(srv("a", "127.0.0.1:1"))
		cfg.Backends[0].Retries = 1
		cfg.Backends[0].ConnectTimeout = 50 * time.Millisecond
		_, addr, sink := startEngine(t, cfg)
		res, _ := dialRaw(t, addr).get("/")
		if res.StatusCode != 503 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if rec := sink.last(t); rec.Termination != "SC--" || rec.Retries != 1 || rec.Server != "a" {
			t.Errorf("record %+v", rec)
		}
	})
}

func TestMaxconnQueueAndQueueTimeout(t *testing.T) {
	var active, peak atomic.Int64
	release := make(chan struct{})
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if r.URL.Path == "/slow" {
			<-release
		}
		active.Add(-1)
		w.Write([]byte("ok"))
	})
	cfg := testConfig(Server{Weight: 1, Name: "a", Address: a.addr(), Maxconn: 2})
	cfg.Backends[0].QueueTimeout = 5 * time.Second
	e, addr, sink := startEngine(t, cfg)
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := dialRaw(t, addr).get("/slow")
			codes <- res.StatusCode
		}()
	}
	waitFor(t, "4 queued requests", func() bool { return e.Backends()[0].Queue == 4 })
	if s := e.Backends()[0].Servers[0].Sessions; s != 2 {
		t.Errorf("server sessions %d, want 2 (maxconn)", s)
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("queued request got %d", c)
		}
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("server saw %d concurrent requests, maxconn 2", p)
	}
	bs := e.Backends()[0]
	if bs.MaxQueue != 4 || bs.Queue != 0 {
		t.Errorf("queue stats cur %d max %d", bs.Queue, bs.MaxQueue)
	}

	// timeout queue -> 503 sQ.
	block := make(chan struct{})
	defer close(block)
	b := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) { <-block })
	cfg2 := testConfig(Server{Weight: 1, Name: "b", Address: b.addr(), Maxconn: 1})
	cfg2.Backends[0].QueueTimeout = 100 * time.Millisecond
	cfg2.Backends[0].ServerTimeout = 5 * time.Second
	e2, addr2, sink2 := startEngine(t, cfg2)
	bg, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer bg.Close()
	io.WriteString(bg, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "server busy", func() bool { return e2.Backends()[0].Servers[0].Sessions == 1 })
	res, _ := dialRaw(t, addr2).get("/")
	if res.StatusCode != 503 {
		t.Fatalf("queue timeout status %d", res.StatusCode)
	}
	if rec := sink2.last(t); rec.Termination != "sQ--" || rec.Tw < 100*time.Millisecond {
		t.Errorf("record term %q Tw %v", rec.Termination, rec.Tw)
	}
	_ = sink
}

func TestFrontendMaxconnStopsAccepting(t *testing.T) {
	block := make(chan struct{})
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { <-block; w.Write([]byte("ok")) })
	cfg := testConfig(srv("a", a.addr()))
	cfg.Frontends[0].Maxconn = 1
	e, addr, _ := startEngine(t, cfg)
	first := dialRaw(t, addr)
	first.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "first connection accepted", func() bool { return e.Frontends()[0].Sessions == 1 })
	second := dialRaw(t, addr) // completes in the kernel backlog
	second.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	if fs := e.Frontends()[0]; fs.Sessions != 1 || fs.Total != 1 {
		t.Errorf("frontend sessions %d total %d while at maxconn 1", fs.Sessions, fs.Total)
	}
	close(block)
	first.resp("GET")
	first.c.Close()
	if res, _ := second.resp("GET"); res.StatusCode != 200 {
		t.Errorf("second: %d", res.StatusCode)
	}
}

func TestRetriesRedispatchZeroErrors(t *testing.T) {
	good := newBackend(t, "good", nil)
	// A port that refuses connections.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	cfg := testConfig(srv("dead", dead), srv("good", good.addr()))
	cfg.Backends[0].Redispatch = true
	cfg.Frontends[0].HTTPServerClose = true
	e, addr, sink := startEngine(t, cfg)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := dialRaw(t, addr)
			for i := 0; i < 25; i++ {
				res, _ := rc.get("/")
				if res.StatusCode != 200 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d client errors with a refusing server and redispatch", n)
	}
	bs := e.Backends()[0]
	if bs.Redispatch == 0 || bs.Servers[0].ErrorsConn == 0 {
		t.Errorf("redispatch %d econ %d", bs.Redispatch, bs.Servers[0].ErrorsConn)
	}
	var saw bool
	for _, r := range sink.all() {
		if r.Redispatch && r.Retries == 1 && r.Server == "good" {
			saw = true
		}
	}
	if !saw {
		t.Error("no log record with +1 retries on good")
	}
}

// serveLoopback accepts connections on a loopback port until the test ends
// and runs handle on each in its own goroutine, closing it afterwards.
func serveLoopback(tb testing.TB, handle func(c net.Conn)) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln
}

// scriptedServer reads one request from each connection and hands the
// connection to answer (which may say nothing: the server then "dies").
func scriptedServer(t *testing.T, answer func(c net.Conn)) net.Listener {
	t.Helper()
	return serveLoopback(t, func(c net.Conn) {
		if _, err := c.Read(make([]byte, 4096)); err == nil {
			answer(c)
		}
	})
}

// TestIdempotentRetriedAfterEmptyResponse: a server that closes without a
// byte of answer makes an idempotent request go again (HAProxy's retry-on
// empty-response), counted as a retry, instead of a 502.
func TestIdempotentRetriedAfterEmptyResponse(t *testing.T) {
	var n atomic.Int64
	ln := scriptedServer(t, func(c net.Conn) {
		if n.Add(1) == 1 {
			return // dies before answering
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
	})
	_, addr, sink := startEngine(t, testConfig(srv("a", ln.Addr().String())))
	if res, body := dialRaw(t, addr).get("/"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET after an empty response: %d %q", res.StatusCode, body)
	}
	if rec := sink.last(t); rec.Retries != 1 || rec.Status != 200 {
		t.Errorf("record retries %d status %d, want 1 retry and 200", rec.Retries, rec.Status)
	}
	if n.Load() != 2 {
		t.Errorf("server saw %d requests, want 2", n.Load())
	}
}

func TestBackendDiesMidResponse(t *testing.T) {
	var n atomic.Int64
	ln := scriptedServer(t, func(c net.Conn) {
		switch n.Add(1) {
		case 1: // dies before answering
		case 2: // dies in the middle of the body
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
		case 3: // garbage
			c.Write([]byte("SMTP ready\r\n\r\n"))
		default:
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
		}
	})
	_, addr, sink := startEngine(t, testConfig(srv("a", ln.Addr().String())))
	// A POST is not idempotent: a server dying before answering gives 502.
	pc := dialRaw(t, addr)
	pc.send("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n")
	if res, _ := pc.resp("POST"); res.StatusCode != 502 {
		t.Fatalf("died before answering: %d", res.StatusCode)
	}

	if rec := sink.last(t); rec.Termination != "SH--" || rec.Status != 502 {
		t.Errorf("record %q %d", rec.Termination, rec.Status)
	}
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	head := rc.rawHead()
	if !strings.HasPrefix(head, "HTTP/1.1 200") {
		t.Fatalf("head %q", head)
	}
	if rest, _ := io.ReadAll(rc.r); string(rest) != "partial" {
		t.Errorf("truncated body %q", rest)
	}
	waitFor(t, "SD record", func() bool { r := sink.all(); return r[len(r)-1].Termination == "SD--" })
	if res, _ := dialRaw(t, addr).get("/"); res.StatusCode != 502 {
		t.Errorf("garbage response: %d", res.StatusCode)
	}
	if rec := sink.last(t); rec.Termination != "PH--" {
		t.Errorf("garbage termination %q", rec.Termination)
	}
	// The proxy keeps serving.
	if res, body := dialRaw(t, addr).get("/"); res.StatusCode != 200 || body != "ok" {
		t.Errorf("after failures: %d %q", res.StatusCode, body)
	}
}

func TestReloadKeepsListenersAndServesNewRoutes(t *testing.T) {
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	// A fixed port so the bind survives the reload.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	bindAddr := l.Addr().String()
	l.Close()
	cfg := testConfig(srv("a", a.addr()))
	cfg.Frontends[0].Binds = []string{bindAddr}
	e, addr, _ := startEngine(t, cfg)
	old := dialRaw(t, addr)
	if res, _ := old.get("/"); res.Header.Get("X-Server") != "a" {
		t.Fatal("before reload")
	}
	e.SetServerWeight("be", "a", 7)

	cfg2 := testConfig(srv("a", a.addr()))
	cfg2.Frontends[0].Binds = []string{bindAddr}
	cfg2.Backends = append(cfg2.Backends, testBackendCfg("new", srv("b", b.addr())))
	cfg2.Frontends[0].ACLs = []ACL{{Name: "n", Criterion: "path_beg", Values: []string{"/new"}}}
	cfg2.Frontends[0].UseBackends = []UseBackend{{Backend: "new", If: "n"}}

	bad := testConfig(srv("a", a.addr()))
	bad.Frontends[0].DefaultBackend = "missing"
	if err := e.Reload(bad); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("invalid reload accepted: %v", err)
	}
	if err := e.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if got := e.BoundAddrs("fe"); len(got) != 1 || got[0] != bindAddr {
		t.Errorf("listeners after reload %v", got)
	}
	fresh := dialRaw(t, addr)
	if res, _ := fresh.get("/new/x"); res.Header.Get("X-Server") != "b" {
		t.Errorf("new route not served: %s", res.Header.Get("X-Server"))
	}
	// The old keep-alive connection finishes on its old configuration,
	// then closes so that its client reconnects to the new one.
	if res, _ := old.get("/new/x"); res.Header.Get("X-Server") != "a" || !res.Close {
		t.Errorf("old connection after reload: served by %s, Connection: close %v", res.Header.Get("X-Server"), res.Close)
	}
	old.expectClosed()
	bs := e.Backends()
	if bs[0].Servers[0].Total < 2 || bs[0].Servers[0].Weight != 7 {
		t.Errorf("server a lost counters/state across reload: %+v", bs[0].Servers[0])
	}

	// Moving the bind: the old address closes, the new one serves.
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	bind2 := l2.Addr().String()
	l2.Close()
	cfg3 := testConfig(srv("a", a.addr()))
	cfg3.Frontends[0].Binds = []string{bind2}
	if err := e.Reload(cfg3); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", bindAddr, time.Second); err == nil {
		t.Error("removed listener still accepts")
	}
	if res, _ := dialRaw(t, bind2).get("/"); res.StatusCode != 200 {
		t.Error("new listener not serving")
	}
	// A keep-alive connection of the removed listener serves its next
	// request, with Connection: close (soft stop).
	if res, _ := fresh.get("/"); res.StatusCode != 200 || !res.Close {
		t.Errorf("connection of a removed listener: %d, Connection: close %v", res.StatusCode, res.Close)
	}
	fresh.expectClosed()
	if !e.FrontendServing("fe") || e.FrontendServing("nope") {
		t.Error("FrontendServing")
	}
}

func TestBadRequestsThroughProxy(t *testing.T) {
	a := newBackend(t, "a", nil)
	_, addr, sink := startEngine(t, testConfig(srv("a", a.addr())))
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty\r\n\r\n",
		"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 16000) + "\r\n\r\n",
	} {
		rc := dialRaw(t, addr)
		rc.send(raw)
		res, _ := rc.resp("GET")
		if res.StatusCode != 400 {
			t.Errorf("%.40q: %d", raw, res.StatusCode)
		}
		rc.expectClosed()
	}
	if len(a.requests()) != 0 {
		t.Errorf("server saw %d bad requests", len(a.requests()))
	}
	if rec := sink.last(t); rec.Termination != "PR--" || rec.RequestLine != "<BADREQ>" {
		t.Errorf("record %q %q", rec.Termination, rec.RequestLine)
	}

	// CL + TE: CL is dropped, body read as chunked, connection closed.
	seen := make(chan string, 1)
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen <- fmt.Sprintf("%v|%d|%s", r.TransferEncoding, r.ContentLength, body)
	})
	rc := dialRaw(t, addr)
	rc.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	res, _ := rc.resp("POST")
	if got := <-seen; got != "[chunked]|-1|hello" || !res.Close {
		t.Errorf("CL+TE forwarded as %q, close=%v", got, res.Close)
	}
}

func TestTunnelTimeoutAndDontLogNull(t *testing.T) {
	ln := serveLoopback(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	cfg := testConfig(srv("db", ln.Addr().String()))
	cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
	cfg.Backends[0].TunnelTimeout = 150 * time.Millisecond
	cfg.Frontends[0].DontLogNull = true
	_, addr, sink := startEngine(t, cfg)
	// A silent session: closed by timeout tunnel and, with dontlognull, not logged.
	rc := dialRaw(t, addr)
	rc.expectClosed()
	// A session that sent data: closed by the timeout and logged.
	rc2 := dialRaw(t, addr)
	rc2.send("hello")
	rc2.expectClosed()
	rec := sink.last(t)
	if !rec.TCP || rec.Termination[1] != 'D' || (rec.Termination[0] != 'c' && rec.Termination[0] != 's') {
		t.Errorf("record %+v", rec)
	}
	if n := len(sink.all()); n != 1 {
		t.Errorf("%d records, want 1 (null session not logged)", n)
	}
}

func TestBindFreebindAndIPv6(t *testing.T) {
	a := newBackend(t, "a", nil)
	cfg := testConfig(srv("a", a.addr()))
	// 192.0.2.1 (TEST-NET-1) is not configured here: binding works only
	// thanks to IP_FREEBIND. No traffic is sent to it.
	cfg.Frontends[0].Binds = []string{"127.0.0.1:0", "192.0.2.1:0"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		cfg.Frontends[0].Binds = append(cfg.Frontends[0].Binds, "[::1]:0")
	}
	e, _, _ := startEngine(t, cfg)
	addrs := e.BoundAddrs("fe")
	if len(addrs) != len(cfg.Frontends[0].Binds) {
		t.Fatalf("bound %v", addrs)
	}
	for _, ad := range addrs {
		if strings.HasPrefix(ad, "192.0.2.1") {
			continue
		}
		if res, _ := dialRaw(t, ad).get("/"); res.StatusCode != 200 {
			t.Errorf("%s: %d", ad, res.StatusCode)
		}
	}
	if !e.FrontendServing("fe") {
		t.Error("frontend not serving")
	}
}

func TestPooledConnectionClosedByServer(t *testing.T) {
	// The server closes idle keep-alive connections after 40ms.
	a := newBackend(t, "a", nil, func(s *http.Server) { s.IdleTimeout = 40 * time.Millisecond })
	_, addr, sink := startEngine(t, testConfig(srv("a", a.addr())))
	rc := dialRaw(t, addr)
	for i := 0; i < 4; i++ {
		if res, _ := rc.get("/"); res.StatusCode != 200 {
			t.Fatalf("request %d after the server closed the pooled connection: %d", i, res.StatusCode)
		}
		time.Sleep(120 * time.Millisecond)
	}
	for _, r := range sink.all() {
		if r.Status != 200 {
			t.Errorf("record %+v", r)
		}
	}
}

func TestPersistentRequestsUseServerQueue(t *testing.T) {
	release := make(chan struct{})
	slow := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Header().Set("X-Server", "s1")
	})
	other := newBackend(t, "s2", nil)
	cfg := testConfig(Server{Weight: 1, Name: "s1", Address: slow.addr(), Cookie: "s1", Maxconn: 1},
		Server{Weight: 1, Name: "s2", Address: other.addr(), Cookie: "s2"})
	cfg.Backends[0].Cookie = &Cookie{Name: "SERVERID", Indirect: true}
	e, addr, sink := startEngine(t, cfg)
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=s1\r\n\r\n")
	waitFor(t, "s1 busy", func() bool { return e.Backends()[0].Servers[0].Sessions == 1 })
	// A persistent request waits in s1's queue instead of going to s2.
	done := make(chan string, 1)
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			done <- err.Error()
			return
		}
		defer c.Close()
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=s1\r\n\r\n")
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		done <- string(buf[:n])
	}()
	waitFor(t, "a request in s1's queue", func() bool { return e.Backends()[0].Servers[0].Queue == 1 })
	if q := e.Backends()[0].Queue; q != 0 {
		t.Errorf("backend queue %d, want 0 (server queue used)", q)
	}
	// A new client is not queued: it goes to s2.
	if res, _ := dialRaw(t, addr).get("/"); res.Header.Get("X-Server") != "s2" {
		t.Errorf("new client went to %q", res.Header.Get("X-Server"))
	}
	close(release)
	busy.resp("GET")
	if got := <-done; !strings.Contains(got, "X-Server: s1") {
		t.Errorf("queued persistent request answered by %q", got)
	}
	waitFor(t, "queued record", func() bool {
		for _, r := range sink.all() {
			if r.SrvQueue == 1 && r.Server == "s1" {
				return true
			}
		}
		return false
	})
}

func TestRuntimeStateSurvivesReload(t *testing.T) {
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	bind := freeAddr(t)
	mk := func() *Config {
		cfg := testConfig(srv("a", a.addr()), srv("b", b.addr()))
		cfg.Frontends[0].Binds = []string{bind}
		return cfg
	}
	e, addr, _ := startEngine(t, mk())
	if err := e.SetServerState("be", "a", ServerState{Up: true, Admin: checks.Maint}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetServerWeight("be", "b", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.SetServerWeight("be", "b", 300); err == nil {
		t.Error("weight 300 accepted")
	}
	if err := e.SetServerState("nope", "a", ServerState{}); err == nil || !strings.Contains(err.Error(), "be") {
		t.Errorf("unknown backend error %v should list backends", err)
	}
	if e.BackendUsable("be") {
		t.Error("a in maint and b at weight 0: backend should be unusable")
	}
	if err := e.SetServerWeight("be", "b", 5); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, addr)
	for i := 0; i < 3; i++ {
		if res, _ := rc.get("/"); res.Header.Get("X-Server") != "b" {
			t.Fatalf("maint server got traffic")
		}
	}
	if err := e.Reload(mk()); err != nil {
		t.Fatal(err)
	}
	bs := e.Backends()[0]
	if bs.Servers[0].State != "MAINT" || bs.Servers[1].Weight != 5 || bs.Servers[1].Total != 3 {
		t.Errorf("after reload: %+v", bs.Servers)
	}
	if bs.Responses["2xx"] != 3 || bs.Total != 3 {
		t.Errorf("backend counters %+v", bs)
	}
	fs := e.Frontends()[0]
	if fs.Requests != 3 || fs.Responses["2xx"] != 3 || !fs.Serving || fs.BytesOut == 0 {
		t.Errorf("frontend status %+v", fs)
	}
}

// TestForwardedBytesAreCanonical records the exact bytes the server gets.
func TestForwardedBytesAreCanonical(t *testing.T) {
	got := make(chan string, 4)
	ln := serveLoopback(t, func(c net.Conn) {
		var acc []byte
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			acc = append(acc, buf[:n]...)
			if i := strings.Index(string(acc), "\r\n\r\n"); i >= 0 && (!strings.Contains(string(acc), "chunked") || strings.HasSuffix(string(acc), "0\r\n\r\n")) {
				got <- string(acc)
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
				return
			}
			if err != nil {
				got <- string(acc)
				return
			}
		}
	})
	cfg := testConfig(srv("raw", ln.Addr().String()))
	cfg.Frontends[0].HTTPServerClose = true
	_, addr, _ := startEngine(t, cfg)
	cases := []struct{ in, want string }{
		{
			"GET /a HTTP/1.1\r\nHost:   example.com  \r\nX-A:\tv \r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
			"GET /a HTTP/1.1\r\nHost: example.com\r\nX-A: v\r\nConnection: close\r\n\r\n",
		},
		{
			"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=x\r\nabc\r\n0\r\n\r\n",
			"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		},
		{
			"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 003, 3\r\n\r\nxyz",
			"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
		},
	}
	for _, c := range cases {
		rc := dialRaw(t, addr)
		rc.send(c.in)
		if res, _ := rc.resp("GET"); res.StatusCode != 200 {
			t.Fatalf("%q: %d", c.in, res.StatusCode)
		}
		if g := <-got; g != c.want {
			t.Errorf("forwarded\n%q\nwant\n%q", g, c.want)
		}
	}
}

// blackhole returns a loopback address whose accept queue is full, so new
// SYNs are dropped and connects time out.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue (backlog 0 still admits one connection).
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("kernel accepted a connection beyond the backlog; cannot build a blackhole here")
	}
	return addr
}

func TestConnectTimeout(t *testing.T) {
	cfg := testConfig(srv("hole", blackhole(t)))
	cfg.Backends[0].Retries = 1
	cfg.Backends[0].ConnectTimeout = 100 * time.Millisecond
	_, addr, sink := startEngine(t, cfg)
	start := time.Now()
	res, _ := dialRaw(t, addr).get("/")
	if res.StatusCode != 503 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// Two attempts of 100ms plus a 100ms turn-around.
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("answered after %v: connect timeout not applied", d)
	}
	if rec := sink.last(t); rec.Termination != "SC--" || rec.Retries != 1 || rec.Tc < 250*time.Millisecond {
		t.Errorf("record %q retries %d Tc %v", rec.Termination, rec.Retries, rec.Tc)
	}
}

// TestInheritedListener: a listening socket handed over by a previous
// process (binary upgrade) is served as is: binding its address again
// would fail with EADDRINUSE, and Listeners offers it to the next upgrade.
func TestInheritedListener(t *testing.T) {
	b := newBackend(t, "web01", nil)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	cfg := testConfig(srv("web01", b.addr()))
	cfg.Frontends[0].Binds = []string{addr}
	var asked []string
	e, err := New(cfg, Options{Inherited: func(key string) (*net.TCPListener, error) {
		asked = append(asked, key)
		if key == "tcp4|"+addr {
			return ln, nil
		}
		return nil, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start with an inherited listener: %v", err)
	}
	defer e.Shutdown(context.Background())
	if len(asked) != 1 || asked[0] != "tcp4|"+addr {
		t.Errorf("Inherited asked for %q", asked)
	}
	resp, body := dialRaw(t, addr).get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, "web01") {
		t.Errorf("through the inherited listener: %d %q", resp.StatusCode, body)
	}
	if got := e.Listeners(); len(got) != 1 || got["tcp4|"+addr] != ln {
		t.Errorf("Listeners() = %v", got)
	}
}

// TestIdlePark: a keep-alive connection idle past idleParkAfter moves to a
// fresh goroutine (freeing the grown stack) and still behaves as before:
// it serves its next request, expires silently on http_keep_alive, closes
// on shutdown, and after a reload closes after its next response.
func TestIdlePark(t *testing.T) {
	old := idleParkAfter
	idleParkAfter = 40 * time.Millisecond
	t.Cleanup(func() { idleParkAfter = old }) // after the engines' shutdown
	mkConfig := func(ka time.Duration, backend, bind string) *Config {
		cfg := testConfig(srv("a", backend))
		cfg.Frontends[0].Binds = []string{bind} // fixed: kept across a reload
		cfg.Frontends[0].KeepAliveTimeout = ka
		return cfg
	}
	start := func(t *testing.T, ka time.Duration) (*Engine, string, *logSink, *rawClient) {
		a := newBackend(t, "a", nil)
		e, addr, sink := startEngine(t, mkConfig(ka, a.addr(), freeAddr(t)))
		rc := dialRaw(t, addr)
		if res, body := rc.get("/"); res.StatusCode != 200 || body != "hello from a" {
			t.Fatalf("first request: %d %q", res.StatusCode, body)
		}
		waitFor(t, "the idle connection to park", func() bool { return e.idleParks.Load() == 1 })
		return e, addr, sink, rc
	}
	sessions := func(e *Engine) int64 { return e.Frontends()[0].Sessions }

	t.Run("serves then expires", func(t *testing.T) {
		const ka = 600 * time.Millisecond
		e, _, sink, rc := start(t, ka)
		if res, body := rc.get("/again"); res.StatusCode != 200 || body != "hello from a" || res.Close {
			t.Fatalf("request after the park: %d %q close=%v", res.StatusCode, body, res.Close)
		}
		served := time.Now()
		waitFor(t, "the second park", func() bool { return e.idleParks.Load() == 2 })
		recs := sink.all()
		if len(recs) != 2 || recs[1].RequestLine != "GET /again HTTP/1.1" || recs[1].Termination != "----" || recs[1].Status != 200 {
			t.Fatalf("access log after the park: %+v", recs)
		}
		rc.expectClosed()
		if d := time.Since(served); d < ka-ka/8 || d > 2*time.Second {
			t.Errorf("keep-alive expiry after %v, want about %v", d, ka)
		}
		waitFor(t, "the session to end", func() bool { return sessions(e) == 0 && e.actConn.Load() == 0 })
		if n := len(sink.all()); n != 2 {
			t.Errorf("idle keep-alive expiry must not be logged (%d records)", n)
		}
		if n := e.idleParks.Load(); n != 2 {
			t.Errorf("%d parks, want 2", n)
		}
	})
	t.Run("shutdown: a parked connection serves its next request, then closes", func(t *testing.T) {
		e, _, _, rc := start(t, time.Minute)
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- e.Shutdown(ctx)
		}()
		waitFor(t, "the soft stop", e.stopping.Load)
		time.Sleep(60 * time.Millisecond) // past a park wake-up
		if res, body := rc.get("/after"); res.StatusCode != 200 || body != "hello from a" || !res.Close {
			t.Fatalf("request on a parked connection during shutdown: %d %q close=%v", res.StatusCode, body, res.Close)
		}
		rc.expectClosed()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	t.Run("parked connections give back their header tables", func(t *testing.T) {
		// A parked connection holds no header tables (reqState): the
		// next request on it, and on another connection that may get the
		// same pooled tables, must be forwarded byte-exact, whether it
		// has many headers (the table grows) or few (nothing stale).
		heads := make(chan string, 16)
		ln := serveLoopback(t, func(c net.Conn) {
			var acc []byte
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				acc = append(acc, buf[:n]...)
				for {
					i := strings.Index(string(acc), "\r\n\r\n")
					if i < 0 {
						break
					}
					heads <- string(acc[:i+4])
					acc = acc[i+4:]
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Resp: r\r\n\r\nok"))
				}
				if err != nil {
					return
				}
			}
		})
		e, addr, _ := startEngine(t, mkConfig(time.Minute, ln.Addr().String(), freeAddr(t)))
		request := func(path string, nh int) string {
			var b strings.Builder
			b.WriteString("GET " + path + " HTTP/1.1\r\nHost: test\r\n")
			for i := range nh {
				fmt.Fprintf(&b, "X-Header-%02d: value-%d%s\r\n", i, i, strings.Repeat("v", i))
			}
			b.WriteString("\r\n")
			return b.String()
		}
		exchange := func(rc *rawClient, path string, nh int) {
			t.Helper()
			in := request(path, nh)
			rc.send(in)
			if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "ok" || res.Header.Get("X-Resp") != "r" {
				t.Fatalf("%s: %d %q %v", path, res.StatusCode, body, res.Header)
			}
			if got := <-heads; got != in {
				t.Fatalf("%s forwarded\n%q\nwant\n%q", path, got, in)
			}
		}
		parks := func(n uint64) {
			t.Helper()
			waitFor(t, fmt.Sprintf("%d parks", n), func() bool { return e.idleParks.Load() == n })
			// Both connections are parked (the counter orders this read
			// after their putReq).
			e.connMu.Lock()
			defer e.connMu.Unlock()
			for tc := range e.conns {
				if cc, ok := tc.(*clientConn); ok && cc.reqState != nil {
					t.Fatalf("a parked connection holds its request state")
				}
			}
		}
		a, b := dialRaw(t, addr), dialRaw(t, addr)
		exchange(a, "/a1", 3)
		parks(1)
		exchange(b, "/b1", 40) // may get a's tables from the pool
		exchange(a, "/a2", 40)
		parks(3)
		exchange(a, "/a3", 0)
		exchange(b, "/b2", 1)
		parks(5)
		exchange(b, "/b3", 70)
		exchange(a, "/a4", 16)
	})
	t.Run("reload closes after the next response", func(t *testing.T) {
		e, addr, _, rc := start(t, time.Minute)
		if err := e.Reload(mkConfig(time.Minute, e.Backends()[0].Servers[0].Address, addr)); err != nil {
			t.Fatal(err)
		}
		if res, _ := rc.get("/"); res.StatusCode != 200 || !res.Close {
			t.Fatalf("parked connection after reload: %d close=%v", res.StatusCode, res.Close)
		}
		rc.expectClosed()
		waitFor(t, "the session to end", func() bool { return e.actConn.Load() == 0 })
	})
}

// TestServerAddressForms: IPv6 literals go through the lean dialer (IPv4
// literals everywhere else), host names through net.Dialer; a refused
// connection is an SC after the retries.
func TestServerAddressForms(t *testing.T) {
	var addrs []string
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		t.Cleanup(func() { ln.Close() })
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		addrs = append(addrs, ln.Addr().String())
	}
	a := newBackend(t, "host", nil)
	_, port, _ := net.SplitHostPort(a.addr())
	addrs = append(addrs, "localhost:"+port)
	for _, ad := range addrs {
		if da := resolveDialAddr(ad); (da.family != 0) != strings.HasPrefix(ad, "[") {
			t.Errorf("%s: family %d", ad, da.family)
		}
		_, addr, _ := startEngine(t, testConfig(srv("a", ad)))
		if res, _ := dialRaw(t, addr).get("/"); res.StatusCode != 200 {
			t.Errorf("%s: status %d", ad, res.StatusCode)
		}
	}

	// A closed port: connect is refused, every retry too.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	cfg := testConfig(srv("dead", dead))
	cfg.Backends[0].Retries = 2
	cfg.Backends[0].ConnectTimeout = 100 * time.Millisecond // also the pause between retries
	_, addr, sink := startEngine(t, cfg)
	res, _ := dialRaw(t, addr).get("/")
	if res.StatusCode != 503 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if rec := sink.last(t); rec.Termination != "SC--" || rec.Retries != 2 {
		t.Errorf("record %q retries %d", rec.Termination, rec.Retries)
	}
}
