package proxy

import (
	"net"
	"runtime"
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
			got := 0
			for {
				k, err := c.Read(buf[got:])
				if err != nil {
					b.Fatal(err)
				}
				got += k
				if h1.ParseResponse(buf[:got], &resp) == nil && got >= resp.Len+int(resp.ContentLength) {
					break
				}
			}
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
