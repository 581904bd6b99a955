package proxy

import (
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
	round := func() { sendAll(t, conns) }
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

// blockConn is a fakeConn whose Close waits for unblock (a slow close: a
// TLS close_notify, or many connections closed in a row).
type blockConn struct {
	fakeConn
	closing chan struct{}
	unblock chan struct{}
}

func (c *blockConn) Close() error {
	close(c.closing)
	<-c.unblock
	return c.fakeConn.Close()
}

// TestPoolReapClosesOutsideTheLock: the reaper closes expired connections
// without holding the pool's lock, so that a server's requests (get, put)
// do not wait while it closes the connections a burst left idle (up to
// poolMaxIdle of them).
func TestPoolReapClosesOutsideTheLock(t *testing.T) {
	p := newConnPool()
	t0 := time.Now()
	bc := &blockConn{closing: make(chan struct{}), unblock: make(chan struct{})}
	p.put(idleConn{c: bc, since: t0})
	reaped := make(chan struct{})
	go func() { p.reap(t0.Add(poolIdleTimeout)); close(reaped) }()
	<-bc.closing
	put := make(chan struct{})
	go func() { p.put(idleConn{c: &fakeConn{}, since: t0.Add(poolIdleTimeout)}); close(put) }()
	select {
	case <-put:
	case <-time.After(2 * time.Second):
		t.Error("put waited for the reaper's close: the pool's lock is held while closing")
	}
	close(bc.unblock)
	<-reaped
	<-put
	if !bc.closed.Load() || len(p.idle) != 1 {
		t.Fatalf("after the reap: closed %v, %d idle (want the fresh one)", bc.closed.Load(), len(p.idle))
	}
}

// TestPoolReapShrinks: once a burst's idle connections are reaped, the
// pool's slice does not keep the burst's size (112 bytes a connection, up
// to poolMaxIdle).
func TestPoolReapShrinks(t *testing.T) {
	p := newConnPool()
	t0 := time.Now()
	for i := 0; i < 10000; i++ {
		p.put(idleConn{c: &fakeConn{}, since: t0})
	}
	p.put(idleConn{c: &fakeConn{}, since: t0.Add(time.Second)})
	p.reap(t0.Add(poolIdleTimeout))
	if len(p.idle) != 1 || cap(p.idle) > 1024 {
		t.Fatalf("after the reap: %d idle, capacity %d; want 1 and a small capacity", len(p.idle), cap(p.idle))
	}
}

// TestPoolRetiredClosesLatePut: a pool dropped by a reload (its server
// removed or changed) or by Shutdown is no longer reaped; a connection an
// exchange in flight puts back afterwards is closed, not kept open for
// ever, and a per-SNI pool is not made in it any more.
func TestPoolRetiredClosesLatePut(t *testing.T) {
	p := newConnPool()
	np := p.named([]byte("a.test"))
	p.retire()
	c1, c2 := &fakeConn{}, &fakeConn{}
	p.put(idleConn{c: c1, since: time.Now()})
	np.put(idleConn{c: c2, since: time.Now()})
	if !c1.closed.Load() || !c2.closed.Load() || len(p.idle) != 0 || len(np.idle) != 0 {
		t.Fatalf("put after retire: closed %v %v, idle %d %d", c1.closed.Load(), c2.closed.Load(), len(p.idle), len(np.idle))
	}
	if p.named([]byte("b.test")) != nil {
		t.Fatal("a retired pool made a per-SNI pool")
	}
	// closeAll (a server going down) leaves the pool usable.
	q := newConnPool()
	q.closeAll()
	c3 := &fakeConn{}
	q.put(idleConn{c: c3, since: time.Now()})
	if c3.closed.Load() || len(q.idle) != 1 {
		t.Fatal("after closeAll the pool must keep connections again")
	}
}
