package proxy

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// BenchmarkIdleKeepAliveMemory reports the Go memory (heap + goroutine
// stacks) per idle keep-alive client connection: each client sends one
// request, then stays connected. The figure includes the test client's own
// net.Conn objects, so it is an upper bound for the proxy side.
func BenchmarkIdleKeepAliveMemory(b *testing.B) {
	addr := benchEngine(b, false)
	const n = 2000
	for i := 0; i < b.N; i++ {
		conns := make([]net.Conn, 0, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		buf := make([]byte, 4096)
		var resp h1.Response
		for j := 0; j < n; j++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			c.Write(benchReq)
			readBenchResponse(b, c, buf, &resp)
		}
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := float64((after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse))
		b.ReportMetric(used/n, "B/idle-conn")
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestIdleConnMemory bounds what an idle, parked keep-alive connection
// holds, cheaply: 500 clients on raw sockets (no Go objects on the client
// side) send one request each and stay connected past the idle park. Every
// connection must have parked in the engine's idle poller (idlepoll.go),
// with no goroutine of its own. A first round of n connections, parked
// then closed, comes before the measure, so that what a peak of n
// connections leaves behind (the runtime's cache of exited goroutines with
// their stacks, the tracking map's and the poller's tables: about 0.4 KB
// per connection) is not counted. The Go heap and goroutine stacks
// allocated per connection must stay under 1 KB (measured 760-790 B of
// heap and no stack (the stacks shrink, freed after the first round): the
// 448-byte clientConn, the net.TCPConn and its netFD with the two
// addresses, and the test's fixed costs spread over 500), so a parked
// connection that kept its request state (1.2 KB plus two header tables), a
// 16 KB buffer or a goroutine (2-8 KB of stack) fails it. About 570 B
// outside the Go heap come on top (Go's poll descriptor with its deadline
// timers, the socket's finalizer: runtime/metrics memory/classes/other).
// bench (d) measures the whole process (bench/RESULTS.md).
func TestIdleConnMemory(t *testing.T) {
	old := idleParkAfter
	idleParkAfter = 20 * time.Millisecond
	defer func() { idleParkAfter = old }()
	e, err := New(testConfig(srv("s1", rawServer(t))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	}()
	ap := netip.MustParseAddrPort(e.BoundAddrs("fe")[0])
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	const n = 500
	var fds []int
	closeAll := func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		fds = fds[:0]
	}
	defer closeAll()
	buf := make([]byte, 4096)
	open := func() {
		for range n {
			fd := rawRequest(t, sa, 5*time.Second)
			fds = append(fds, fd)
			if k, err := rawResponse(fd, buf); err != nil {
				t.Fatalf("reading the response: %d bytes, %v", k, err)
			}
		}
	}
	// A first round, parked then closed, leaves what the runtime and the
	// engine keep after a peak of n connections (the exited goroutines'
	// cache, the tracking map's and the poller's tables) out of the figure.
	open()
	waitFor(t, "the first round to park", func() bool { return e.idle.parkedConns() == n })
	closeAll()
	waitFor(t, "the first round to end", func() bool { return e.actConn.Load() == 0 })
	var m0, m1 runtime.MemStats
	runtime.GC() // the closed connections' finalizers run
	runtime.GC()
	runtime.ReadMemStats(&m0)
	g0, parks0 := runtime.NumGoroutine(), e.idleParks.Load()
	open()
	deadline := time.Now().Add(5 * time.Second)
	for e.idleParks.Load()-parks0 < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := e.idleParks.Load() - parks0; p < n {
		t.Fatalf("%d of %d idle connections parked", p, n)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if g := runtime.NumGoroutine() - g0; g > 20 {
		t.Errorf("%d goroutines for %d parked connections", g, n)
	}
	if p := e.idle.parkedConns(); p != n {
		t.Errorf("%d of %d connections in the idle poller", p, n)
	}
	heap := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / n
	stack := (float64(m1.StackInuse) - float64(m0.StackInuse)) / n
	t.Logf("per idle connection: heap %.0f B, stacks %.0f B", heap, stack)
	if heap+max(stack, 0) > 1024 && !raceBuild {
		t.Errorf("heap and stacks per idle connection %.0f B, want <= 1024", heap+max(stack, 0))
	}
	if stack > 256 {
		t.Errorf("goroutine stacks per idle connection %.0f B, want <= 256", stack)
	}
}

// BenchmarkIdlePark reports the CPU cost of idle parks: 100 keep-alive
// clients send a request each, then pause 30 ms, with the park after
// 20 ms ("park") or never ("none"). The cpu-us/req difference between the
// two is the cost of one park (the whole process: clients and servers too).
func BenchmarkIdlePark(b *testing.B) {
	for _, bc := range []struct {
		name string
		park time.Duration
	}{{"none", time.Hour}, {"park", 20 * time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) { benchGaps(b, bc.park) })
	}
}

func benchGaps(b *testing.B, park time.Duration) {
	old := idleParkAfter
	idleParkAfter = park
	defer func() { idleParkAfter = old }()
	addr := benchEngine(b, false)
	cs := make([]net.Conn, 100)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	buf := make([]byte, 4096)
	var resp h1.Response
	round := func() {
		for _, c := range cs {
			c.Write(benchReq)
		}
		for _, c := range cs {
			readBenchResponse(b, c, buf, &resp)
		}
		time.Sleep(30 * time.Millisecond)
	}
	round()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	c0 := cpu()
	for i := 0; i < b.N; i++ {
		round()
	}
	b.ReportMetric(float64(cpu()-c0)/float64(b.N*len(cs))/1e3, "cpu-us/req")
}

// readBenchResponse reads one whole response to benchReq from c.
func readBenchResponse(b *testing.B, c net.Conn, buf []byte, resp *h1.Response) {
	b.Helper()
	got := 0
	for {
		k, err := c.Read(buf[got:])
		if err != nil {
			b.Fatal(err)
		}
		got += k
		if h1.ParseResponse(buf[:got], resp) == nil && got >= resp.Len+int(resp.ContentLength) {
			return
		}
	}
}
