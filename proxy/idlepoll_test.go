package proxy

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
)

// shortPark sets idleParkAfter for a test; call it before starting the
// engine (restored after the engine's shutdown).
func shortPark(t *testing.T, d time.Duration) {
	old := idleParkAfter
	idleParkAfter = d
	t.Cleanup(func() { idleParkAfter = old })
}

// TestIdlePoller: a parked connection waits in the engine's idle poller,
// with no goroutine, and behaves as one waiting on a goroutine: it serves
// its next request (also when it arrives as the connection parks, and
// pipelined requests), ends when the peer closes, expires silently on
// http_keep_alive, and follows a runtime pause, a soft stop and a hard stop.
func TestIdlePoller(t *testing.T) {
	shortPark(t, 20*time.Millisecond)
	start := func(t *testing.T, ka time.Duration) (*Engine, string, *logSink) {
		a := newBackend(t, "a", nil)
		cfg := testConfig(srv("a", a.addr()))
		cfg.Frontends[0].KeepAliveTimeout = ka
		return startEngine(t, cfg)
	}
	parked := func(t *testing.T, e *Engine, n int) {
		t.Helper()
		waitFor(t, "parked connections", func() bool { return e.idle.parkedConns() == n })
	}
	get := func(t *testing.T, rc *rawClient, path string, wantClose bool) {
		t.Helper()
		rc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if res, body := rc.get(path); res.StatusCode != 200 || body != "hello from a" || res.Close != wantClose {
			t.Fatalf("%s: %d %q close=%v", path, res.StatusCode, body, res.Close)
		}
	}

	t.Run("resumes and serves pipelined requests", func(t *testing.T) {
		e, addr, sink := start(t, time.Minute)
		rc := dialRaw(t, addr)
		get(t, rc, "/1", false)
		parked(t, e, 1)
		rc.send("GET /2 HTTP/1.1\r\nHost: test\r\n\r\nGET /3 HTTP/1.1\r\nHost: test\r\n\r\n")
		for range 2 {
			if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "hello from a" {
				t.Fatalf("pipelined: %d %q", res.StatusCode, body)
			}
		}
		parked(t, e, 1)
		get(t, rc, "/4", false)
		if n := len(sink.all()); n != 4 {
			t.Errorf("%d access-log records, want 4", n)
		}
	})
	t.Run("request arriving as the connection parks", func(t *testing.T) {
		e, addr, _ := start(t, time.Minute)
		rc := dialRaw(t, addr)
		p0 := e.idleParks.Load()
		for range 60 {
			get(t, rc, "/", false)
			// The park comes 15-20 ms after the response.
			time.Sleep(13*time.Millisecond + time.Duration(rand.IntN(10000))*time.Microsecond)
		}
		get(t, rc, "/last", false)
		if e.idleParks.Load() == p0 {
			t.Errorf("no park in 60 tries")
		}
	})
	t.Run("peer closes while parked", func(t *testing.T) {
		e, addr, sink := start(t, time.Minute)
		rc := dialRaw(t, addr)
		get(t, rc, "/", false)
		parked(t, e, 1)
		rc.c.Close()
		waitFor(t, "the session to end", func() bool {
			return e.Frontends()[0].Sessions == 0 && e.actConn.Load() == 0 && e.idle.parkedConns() == 0
		})
		if n := len(sink.all()); n != 1 {
			t.Errorf("%d access-log records, want 1", n)
		}
	})
	t.Run("keep-alive expiry while parked", func(t *testing.T) {
		const ka = 400 * time.Millisecond
		e, addr, sink := start(t, ka)
		rc := dialRaw(t, addr)
		get(t, rc, "/", false)
		served := time.Now()
		parked(t, e, 1)
		rc.expectClosed()
		if d := time.Since(served); d < ka-ka/8 || d > ka+500*time.Millisecond {
			t.Errorf("closed %v after the response, want about %v", d, ka)
		}
		waitFor(t, "the session to end", func() bool {
			return e.Frontends()[0].Sessions == 0 && e.actConn.Load() == 0 && e.idle.parkedConns() == 0
		})
		if n := len(sink.all()); n != 1 {
			t.Errorf("the expiry was logged: %d records", n)
		}
	})
	t.Run("disable frontend", func(t *testing.T) {
		const ka = 500 * time.Millisecond
		e, addr, _ := start(t, ka)
		a, b := dialRaw(t, addr), dialRaw(t, addr)
		get(t, a, "/a", false)
		get(t, b, "/b", false)
		parked(t, e, 2)
		paused := time.Now()
		if err := e.SetFrontendEnabled("fe", false); err != nil {
			t.Fatal(err)
		}
		// a's next request is served, with Connection: close.
		get(t, a, "/a2", true)
		a.expectClosed()
		// b, idle, closes at its keep-alive expiry.
		b.expectClosed()
		if d := time.Since(paused); d > ka+500*time.Millisecond {
			t.Errorf("the idle connection closed %v after the pause, want within %v", d, ka)
		}
		waitFor(t, "the sessions to end", func() bool { return e.actConn.Load() == 0 && e.idle.parkedConns() == 0 })
	})
	t.Run("soft stop then hard stop", func(t *testing.T) {
		e, addr, _ := start(t, time.Minute)
		rcs := []*rawClient{dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)}
		for _, rc := range rcs {
			get(t, rc, "/", false)
		}
		parked(t, e, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.Shutdown(ctx) }()
		waitFor(t, "the soft stop", e.stopping.Load)
		// One parked connection serves its next request and closes.
		get(t, rcs[0], "/", true)
		rcs[0].expectClosed()
		// The others stay until the hard stop closes them.
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Shutdown returned before its bound with idle connections open")
			}
		case <-time.After(3 * time.Second):
			t.Fatal("Shutdown did not end at its bound with parked connections")
		}
		for _, rc := range rcs[1:] {
			rc.expectClosed()
		}
		if n := e.actConn.Load(); n != 0 {
			t.Errorf("%d connections left after the hard stop", n)
		}
		if n := e.idle.parkedConns(); n != 0 {
			t.Errorf("%d parked connections after the hard stop", n)
		}
	})
	t.Run("tls", func(t *testing.T) {
		be := newBackend(t, "b", nil)
		cfg := testConfig(srv("s1", be.addr()))
		fe := &cfg.Frontends[0]
		fe.KeepAliveTimeout = 500 * time.Millisecond
		addr := freeAddr(t)
		fe.Binds = []string{addr}
		fe.TLS = map[string]*tls.Config{addr: tlsTestConfig(t, nil, "a.test")}
		e, _, _ := startEngine(t, cfg)
		tc := dialTLS(t, addr, "a.test", nil)
		for i := range 3 {
			if res, body := tc.get("/"); res.StatusCode != 200 || body != "hello from b" {
				t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
			}
			parked(t, e, 1)
		}
		tc.expectClosed()
		waitFor(t, "the session to end", func() bool { return e.actConn.Load() == 0 && e.idle.parkedConns() == 0 })
	})
}

// TestIdlePollerMany: 10,000 parked connections (fewer if the open-file
// limit cannot be raised; 2,000 under the race detector, which allows 8,128
// goroutines) wait with no goroutine of their own, then serve their next
// request, and end when their clients close. The poller releases the
// memory of the wave once.
func TestIdlePollerMany(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections; not in -short")
	}
	old := trimGrowth // the wave is opened one connection at a time here
	trimGrowth = 1 << 20
	t.Cleanup(func() { trimGrowth = old })
	n := 10000
	if raceBuild {
		n = 2000
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(2*n+500) {
		want := lim
		want.Cur = uint64(2*n + 500)
		if want.Max < want.Cur {
			want.Max = want.Cur
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			n = (int(lim.Cur) - 1000) / 2
			t.Logf("open files limited to %d (%v): %d connections", lim.Cur, err, n)
		} else {
			t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
		}
	}
	shortPark(t, 20*time.Millisecond)
	debug.FreeOSMemory() // what earlier tests left free must not hide the wave's growth (the trimmer's base)
	cfg := testConfig(srv("s1", rawServer(t)))
	cfg.Maxconn = 0
	cfg.Frontends[0].KeepAliveTimeout = time.Minute
	e, addr, sink := startEngine(t, cfg)
	ap := netip.MustParseAddrPort(addr)
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	buf := make([]byte, 4096)
	read := func(fd int) {
		t.Helper()
		if k, err := rawResponse(fd, buf); err != nil {
			t.Fatalf("reading the response on %d: %d bytes, %v (%d connections, %d parked, %d fds, log %+v)", fd, k, err, e.actConn.Load(), e.idle.parkedConns(), nfds(), sink.last(t))
		}
	}
	g0 := runtime.NumGoroutine()
	trims0 := e.trims.n.Load()
	for range n {
		fd := rawRequest(t, sa, 10*time.Second)
		fds = append(fds, fd)
		read(fd)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.idle.parkedConns() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := e.idle.parkedConns(); p != n {
		t.Fatalf("%d of %d connections parked", p, n)
	}
	if g := runtime.NumGoroutine() - g0; g > 50 {
		t.Errorf("%d goroutines for %d parked connections", g, n)
	}
	// The wave's memory is given back once its connections have parked
	// (trim.go counts parks as activity).
	waitFor(t, "a trim after the wave", func() bool { return e.trims.n.Load() > trims0 })
	// The next requests, 200 at a time (each takes a server connection:
	// four descriptors in this process).
	for i := 0; i < len(fds); i += 200 {
		batch := fds[i:min(i+200, len(fds))]
		for _, fd := range batch {
			if _, err := syscall.Write(fd, benchReq); err != nil {
				t.Fatal(err)
			}
		}
		for _, fd := range batch {
			read(fd)
		}
	}
	for _, fd := range fds {
		syscall.Close(fd)
	}
	fds = fds[:0]
	deadline = time.Now().Add(10 * time.Second)
	for e.actConn.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c, p := e.actConn.Load(), e.idle.parkedConns(); c != 0 || p != 0 {
		t.Errorf("after the clients closed: %d connections, %d parked", c, p)
	}
}

func nfds() int {
	d, _ := os.ReadDir("/proc/self/fd")
	return len(d)
}
