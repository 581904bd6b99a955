package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDialPaceSlots: the pool's bookkeeping without a clock. freshMax
// dials go ahead; the next requests wait; a put hands its connection to
// the oldest waiter, an answer hands its slot to the oldest waiter, and a
// waiter that gives up dials with a slot counted (or takes what it was
// handed meanwhile). Every slot taken is given back once.
func TestDialPaceSlots(t *testing.T) {
	p := newConnPool()
	for i := 0; i < freshMax; i++ {
		if _, _, dial := p.reserve(); !dial {
			t.Fatalf("reserve %d of %d: told to wait below freshMax", i+1, freshMax)
		}
	}
	w1, seen, dial := p.reserve()
	if dial || w1 == nil {
		t.Fatal("reserve past freshMax: dial, want a wait")
	}
	w2, _, _ := p.reserve()
	w3, _, _ := p.reserve()

	c := &fakeConn{}
	p.put(idleConn{c: c, since: time.Now()})
	select {
	case ic := <-w1.ch:
		if ic.c != c {
			t.Fatalf("w1 got %v, want the connection put back", ic.c)
		}
	default:
		t.Fatal("put with a waiter: the oldest waiter got nothing")
	}
	if n := len(p.idle); n != 0 {
		t.Fatalf("%d idle connections; a put with a waiter must hand over, not pool", n)
	}
	if cur := p.progressCount(); !keepWaiting(cur, seen, 0, 0) {
		t.Fatal("a put is progress: a waiter must keep waiting")
	}

	p.answered() // one fresh connection answered: its slot goes to w2
	select {
	case ic := <-w2.ch:
		if ic.c != nil {
			t.Fatal("an answer handed a connection, want a slot (zero idleConn)")
		}
	default:
		t.Fatal("answer with a waiter: the oldest waiter got no slot")
	}
	if p.fresh != freshMax {
		t.Fatalf("fresh %d after the slot moved to w2, want %d", p.fresh, freshMax)
	}

	// w3 gives up (no progress): it dials with one more slot counted.
	if ic := p.giveUp(w3); ic.c != nil {
		t.Fatal("giveUp with nothing handed returned a connection")
	}
	if p.fresh != freshMax+1 || len(p.waiters) != 0 {
		t.Fatalf("after giveUp: fresh %d waiters %d, want %d and 0", p.fresh, len(p.waiters), freshMax+1)
	}

	// A waiter handed a connection just before it gave up keeps it.
	w4, _, _ := p.reserve()
	c2 := &fakeConn{}
	p.put(idleConn{c: c2, since: time.Now()})
	if ic := p.giveUp(w4); ic.c != c2 {
		t.Fatalf("giveUp after a hand-over returned %v, want the connection", ic.c)
	}

	for i := 0; i < freshMax+1; i++ {
		p.answered()
	}
	if p.fresh != 0 {
		t.Fatalf("fresh %d after every slot was given back, want 0", p.fresh)
	}
	// No waiter: a put pools the connection again.
	p.put(idleConn{c: &fakeConn{}, since: time.Now()})
	if len(p.idle) != 1 {
		t.Fatalf("%d idle after a put without waiters, want 1", len(p.idle))
	}
}

// TestKeepWaiting: a waiter waits on while the pool makes progress, up to
// paceMaxWait or the connect timeout if shorter; without progress it dials.
func TestKeepWaiting(t *testing.T) {
	for _, c := range []struct {
		progress, seen  uint64
		waited, connect time.Duration
		want            bool
	}{
		{5, 4, 0, 0, true},
		{5, 5, 0, 0, false}, // nothing put back or answered: dial
		{9, 4, paceMaxWait - time.Millisecond, 10 * time.Second, true},
		{9, 4, paceMaxWait, 10 * time.Second, false},
		{9, 4, 300 * time.Millisecond, 200 * time.Millisecond, false}, // connect timeout shorter
		{9, 4, 100 * time.Millisecond, 200 * time.Millisecond, true},
	} {
		if got := keepWaiting(c.progress, c.seen, c.waited, c.connect); got != c.want {
			t.Errorf("keepWaiting(%d, %d, %v, %v) = %v, want %v", c.progress, c.seen, c.waited, c.connect, got, c.want)
		}
	}
}

// holdAccepted accepts on ln until the test ends, holding every
// connection until then (closed at cleanup, with ln). each, if not nil,
// runs on the accept loop for every new connection. It returns the count
// of accepted connections.
func holdAccepted(t *testing.T, ln net.Listener, each func(net.Conn)) *atomic.Int32 {
	t.Helper()
	accepted := &atomic.Int32{}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if each != nil {
				each(c)
			}
		}
	}()
	return accepted
}

// slowAcceptServer is an HTTP/1.1 keep-alive server on loopback that
// accepts one connection per turn of every `turn` (an event-loop server
// busy with other connections, like nginx under load), and answers at
// once on the connections it has accepted, after `handle`.
func slowAcceptServer(t *testing.T, turn, handle time.Duration) (addr string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after holdAccepted's cleanup has closed the connections
	accepted = holdAccepted(t, ln, func(c net.Conn) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				req.Body.Close()
				time.Sleep(handle)
				if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")); err != nil {
					return
				}
			}
		}()
		time.Sleep(turn)
	})
	return ln.Addr().String(), accepted
}

// firstRequests sends n clients' first requests at once through addr and
// returns the status of each (0: no answer) and the slowest answer.
func firstRequests(t *testing.T, addr string, n int) ([]int, time.Duration) {
	t.Helper()
	status := make([]int, n)
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(15 * time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			if _, err := fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i); err != nil {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return
			}
			resp.Body.Close()
			status[i], lat[i] = resp.StatusCode, time.Since(t0)
		}()
	}
	close(start)
	wg.Wait()
	var worst time.Duration
	for _, d := range lat {
		worst = max(worst, d)
	}
	return status, worst
}

// TestDialPaceSlowAccept: 200 clients' first requests at once to a server
// that accepts one connection every 20 ms are served over the connections
// it has accepted, instead of 200 new connections each waiting its turn in
// the accept queue (the last 4 s later; before dial pacing, all 200 were
// dialed at once).
func TestDialPaceSlowAccept(t *testing.T) {
	addr, accepted := slowAcceptServer(t, 20*time.Millisecond, 0)
	_, fe, _ := startEngine(t, testConfig(srv("s1", addr)))
	const n = 200
	status, worst := firstRequests(t, fe, n)
	for i, s := range status {
		if s != 200 {
			t.Fatalf("client %d: status %d, want 200", i, s)
		}
	}
	if a := accepted.Load(); a > n/2 {
		t.Errorf("the server accepted %d connections for %d requests at once: new connections were not paced", a, n)
	}
	if worst > 2*time.Second {
		t.Errorf("slowest first request %v: requests waited in the accept queue", worst)
	}
	t.Logf("%d requests, %d server connections, slowest %v", n, accepted.Load(), worst)
}

// TestDialPaceSlowHandler: a server that takes 400 ms per request (long
// poll) and accepts at once: the requests past freshMax wait at most
// about paceQuiet for a connection that does not come back, then dial.
// None is refused, none waits for another's answer.
func TestDialPaceSlowHandler(t *testing.T) {
	const handle = 400 * time.Millisecond
	addr, accepted := slowAcceptServer(t, 0, handle)
	_, fe, _ := startEngine(t, testConfig(srv("s1", addr)))
	const n = 3 * freshMax
	status, worst := firstRequests(t, fe, n)
	for i, s := range status {
		if s != 200 {
			t.Fatalf("client %d: status %d, want 200 (pacing must never refuse)", i, s)
		}
	}
	if a := accepted.Load(); a != n {
		t.Errorf("%d server connections for %d long requests at once, want %d", a, n, n)
	}
	if limit := handle + 3*paceQuiet; worst > limit {
		t.Errorf("slowest request %v, want under %v: a waiter waited for a connection held by a long request", worst, limit)
	}
}

// TestLogTrCountsServerWait: the access log's Tr is the wait for the
// server's answer also on the sendAwait path (a fresh or recently pooled
// connection), where the answer's wait used to be left out of every timer.
func TestLogTrCountsServerWait(t *testing.T) {
	const delay = 150 * time.Millisecond
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprint(w, "ok")
	})
	_, fe, sink := startEngine(t, testConfig(srv("s1", b.addr())))
	c := dialRaw(t, fe)
	for i := 0; i < 2; i++ { // a fresh connection, then the pooled one
		if resp, _ := c.get("/"); resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		waitFor(t, "the request's log record", func() bool { return len(sink.all()) == i+1 })
		r := sink.all()[i]
		if r.Tr < delay-10*time.Millisecond || r.Tr > r.Ta {
			t.Errorf("request %d: Tr %v Ta %v, want Tr >= %v (the server's delay) and <= Ta", i, r.Tr, r.Ta, delay)
		}
	}
}

// TestDialPaceServerCloses: a server that closes after each answer
// (Connection: close) gives nothing back to wait for: once it has said so,
// concurrent requests dial at once instead of waiting for answers' slots.
func TestDialPaceServerCloses(t *testing.T) {
	const handle = 50 * time.Millisecond
	b := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(handle)
		w.Header().Set("Connection", "close")
		fmt.Fprint(w, "ok")
	})
	_, fe, _ := startEngine(t, testConfig(srv("s1", b.addr())))
	if resp, _ := dialRaw(t, fe).get("/"); resp.StatusCode != 200 { // the server says close once
		t.Fatalf("first request: status %d", resp.StatusCode)
	}
	const n = 8 * freshMax
	status, worst := firstRequests(t, fe, n)
	for i, s := range status {
		if s != 200 {
			t.Fatalf("client %d: status %d, want 200", i, s)
		}
	}
	// Waiting for slots (freshMax per answer) would take 8 handler times.
	if limit := 4 * handle; worst > limit {
		t.Errorf("slowest request %v, want under %v: requests waited for slots of a server that closes", worst, limit)
	}
}
