package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkH2Request measures GET requests over one cleartext HTTP/2
// connection with h2BenchStreams concurrent streams (like h2load -m10) to
// the allocation-free raw servers. The client is a raw framer that reuses
// its frames and sends a pre-encoded header block, so that allocs/op is
// mostly lbd's.
func BenchmarkH2Request(b *testing.B) {
	const h2BenchStreams = 10
	s1, s2 := rawServer(b), rawServer(b)
	cfg := testConfig(Server{Weight: 1, Name: "s1", Address: s1}, Server{Weight: 1, Name: "s2", Address: s2})
	cfg.Frontends[0].H2C = true
	e, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	c, err := net.Dial("tcp", e.BoundAddrs("fe")[0])
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))

	// The first block adds the fields to the peer's table; the later ones
	// are indexed references, the same bytes every time.
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	fields := []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/index.html"}, {Name: ":authority", Value: "bench"},
		{Name: "user-agent", Value: "h2load"}, {Name: "accept", Value: "*/*"}}
	block := func() []byte {
		hb.Reset()
		for _, f := range fields {
			enc.WriteField(f)
		}
		return append([]byte(nil), hb.Bytes()...)
	}
	first, later := block(), block()

	var wmu sync.Mutex
	fr := http2.NewFramer(c, c)
	fr.SetReuseFrames()
	io.WriteString(c, http2.ClientPreface)
	fr.WriteSettings()

	sem := make(chan struct{}, h2BenchStreams)
	for i := 0; i < h2BenchStreams; i++ {
		sem <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		got, unacked := 0, uint32(0)
		for got < b.N {
			f, err := fr.ReadFrame()
			if err != nil {
				done <- err
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					fr.WriteSettingsAck()
					wmu.Unlock()
				}
			case *http2.RSTStreamFrame:
				done <- http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode}
				return
			case *http2.GoAwayFrame:
				done <- http2.ConnectionError(f.ErrCode)
				return
			case *http2.DataFrame:
				unacked += uint32(len(f.Data()))
				if unacked > 16<<10 {
					wmu.Lock()
					fr.WriteWindowUpdate(0, unacked)
					wmu.Unlock()
					unacked = 0
				}
			}
			if f.Header().Flags.Has(http2.FlagDataEndStream) && (f.Header().Type == http2.FrameData || f.Header().Type == http2.FrameHeaders) {
				got++
				sem <- struct{}{}
			}
		}
		done <- nil
	}()

	b.ReportAllocs()
	b.ResetTimer()
	id := uint32(1)
	for i := 0; i < b.N; i++ {
		select {
		case <-sem:
		case err := <-done:
			b.Fatalf("after %d requests: %v", i, err)
		}
		blk := later
		if i == 0 {
			blk = first
		}
		wmu.Lock()
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: true, EndHeaders: true})
		wmu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		id += 2
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
