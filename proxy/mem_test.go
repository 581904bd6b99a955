package proxy

import (
	"net"
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
