package proxy

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type fakeConn struct{ closed atomic.Bool }

func (c *fakeConn) Read(p []byte) (int, error)            { return 0, nil }
func (c *fakeConn) Write(p []byte) (int, error)           { return len(p), nil }
func (c *fakeConn) Close() error                          { c.closed.Store(true); return nil }
func (c *fakeConn) SetDeadline(time.Time) error           { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error       { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error      { return nil }
func (c *fakeConn) SyscallConn() (syscall.RawConn, error) { return nil, nil }

// TestPoolKeepsWhatTheLoadUsedThenPurges: a server with many requests in
// flight at once keeps all their connections when they come back (no cap
// at a few hundred, which made a busy proxy close and redial), serves the
// most recent first, and the reaper closes those idle poolIdleTimeout.
func TestPoolKeepsWhatTheLoadUsedThenPurges(t *testing.T) {
	p := newConnPool()
	t0 := time.Now()
	const n = 1000
	conns := make([]*fakeConn, n)
	for i := range conns {
		conns[i] = &fakeConn{}
		p.put(idleConn{c: conns[i], since: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	for i, c := range conns {
		if c.closed.Load() {
			t.Fatalf("connection %d of %d closed on put: the pool must keep what the load used", i, n)
		}
	}
	ic, ok := p.get(t0.Add(time.Second))
	if !ok || ic.c != conns[n-1] {
		t.Fatal("get must return the most recently used connection")
	}
	p.put(ic)
	// 500 ms later than the oldest's expiry: the 500 oldest are purged.
	p.reap(t0.Add(poolIdleTimeout + 500*time.Millisecond - time.Nanosecond))
	closed := 0
	for _, c := range conns {
		if c.closed.Load() {
			closed++
		}
	}
	if closed != 500 || len(p.idle) != 500 {
		t.Fatalf("after the reap: %d closed, %d idle; want 500 and 500", closed, len(p.idle))
	}
	p.reap(t0.Add(poolIdleTimeout + n*time.Millisecond))
	if len(p.idle) != 0 {
		t.Fatalf("%d idle connections left after all expired", len(p.idle))
	}
}

// TestManyInFlightReuseServerConns: two rounds of 300 requests in flight
// at once to one server; the second round reuses the first round's
// server connections instead of dialing.
func TestManyInFlightReuseServerConns(t *testing.T) {
	const n = 300
	var opened atomic.Int64
	var inFlight atomic.Int64
	var mu sync.Mutex
	release := make(chan struct{})
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ch := release
		mu.Unlock()
		if inFlight.Add(1) == n {
			close(ch)
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("ok"))
	}, func(s *http.Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				opened.Add(1)
			}
		}
	})
	_, addr, _ := startEngine(t, testConfig(srv("a", be.addr())))
	conns := make([]*rawClient, n)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
	}
	round := func() {
		var wg sync.WaitGroup
		errs := make(chan error, n)
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
	round()
	first := opened.Load()
	if first < n {
		t.Fatalf("first round opened %d server connections for %d requests in flight", first, n)
	}
	mu.Lock()
	release = make(chan struct{})
	inFlight.Store(0)
	mu.Unlock()
	round()
	if extra := opened.Load() - first; extra > n/20 {
		t.Errorf("second round dialed %d new server connections, want the %d idle ones reused", extra, first)
	}
}
