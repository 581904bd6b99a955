package proxy

import (
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestInqRecvReportsQueueAndFIN: with TCP_INQ a read tells how much is
// still queued, and a FIN queued behind the data shows as 1 (tcpraw.go):
// what lets the tcp copy wait without a read that returns EAGAIN.
func TestInqRecvReportsQueueAndFIN(t *testing.T) {
	a, b := tcpPair(t)
	var r inqRecv
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ierr error
	recv := func(p []byte) (n, inq int) {
		t.Helper()
		rc.Read(func(fd uintptr) bool {
			n, inq, ierr = r.recv(int(fd), p)
			return ierr != syscall.EAGAIN
		})
		if ierr != nil {
			t.Fatalf("recv: %v", ierr)
		}
		return n, inq
	}
	rc.Control(func(fd uintptr) { r.enable(int(fd)) })
	if !r.inqOn() {
		t.Skip("TCP_INQ not in use (race build, or a kernel before 4.18): the copy reads until EAGAIN")
	}
	b.Write([]byte("hello"))
	time.Sleep(20 * time.Millisecond)
	if n, inq := recv(make([]byte, 64)); n != 5 || inq != 0 {
		t.Fatalf("drained read: n=%d inq=%d, want 5, 0", n, inq)
	}
	b.Write([]byte("hello world"))
	b.CloseWrite()
	time.Sleep(20 * time.Millisecond)
	// 6 bytes queued, plus 1 for the FIN (it takes a sequence number).
	if n, inq := recv(make([]byte, 5)); n != 5 || inq < 6 {
		t.Fatalf("partial read: n=%d inq=%d, want 5, >= 6", n, inq)
	}
	if n, inq := recv(make([]byte, 64)); n != 6 || inq < 1 {
		t.Fatalf("last data before the FIN: n=%d inq=%d, want 6, >= 1", n, inq)
	}
	if n, _ := recv(make([]byte, 64)); n != 0 {
		t.Fatalf("at the FIN: n=%d, want 0", n)
	}
}

// TestPipeFINAfterShortReads: messages with pauses between them, then the
// FIN on its own: the copy waits between messages (no EAGAIN read with
// TCP_INQ) and still sees the end of the stream at once.
func TestPipeFINAfterShortReads(t *testing.T) {
	src, feed := tcpPair(t)
	dst, peer := tcpPair(t)
	go func() {
		for _, m := range []string{"one", "two", "three"} {
			feed.Write([]byte(m))
			time.Sleep(30 * time.Millisecond)
		}
		feed.CloseWrite()
	}()
	var last atomic.Int64
	t0 := time.Now()
	n, err := pipe(dst, src, 10*time.Second, &last)
	if err != nil || n != 11 {
		t.Fatalf("pipe: %d bytes, err %v", n, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("pipe ended after %v: the FIN was missed until the idle timeout", d)
	}
	dst.CloseWrite()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(peer); err != nil || string(got) != "onetwothree" {
		t.Errorf("peer got %q, %v", got, err)
	}
}

// TestPipeIdleTimeoutAfterData: after a message the copy waits for the next
// one under the inactivity timeout and reports errIdleTimeout, with the
// bytes it copied.
func TestPipeIdleTimeoutAfterData(t *testing.T) {
	src, feed := tcpPair(t)
	dst, _ := tcpPair(t)
	feed.Write([]byte("only message"))
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	t0 := time.Now()
	n, err := pipe(dst, src, 200*time.Millisecond, &last)
	if !errors.Is(err, errIdleTimeout) || n != 12 {
		t.Fatalf("pipe: %d bytes, err %v; want 12, idle timeout", n, err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle timeout after %v, want about 200ms", d)
	}
}

// TestTCPModeBothWaysChecksum: mode tcp, both directions at once, small
// messages then bulk (raw copy, the splice switch and back) then small
// again: every byte arrives in order (SHA-256), half-closes pass through,
// and the log record and the stats count the bytes of each direction.
func TestTCPModeBothWaysChecksum(t *testing.T) {
	type result struct {
		sum [32]byte
		n   int64
	}
	srvGot := make(chan result, 1)
	// Stream: 200 messages of 1-300 bytes, 24 MiB in 64 KiB writes, 200 messages.
	stream := func(seed uint64) []byte {
		rng := rand.New(rand.NewPCG(seed, 1))
		var out []byte
		msg := func() {
			b := make([]byte, 1+rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			out = append(out, b...)
		}
		for range 200 {
			msg()
		}
		bulk := make([]byte, 24<<20)
		for i := 0; i < len(bulk); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				bulk[i+j] = byte(v >> (8 * j))
			}
		}
		out = append(out, bulk...)
		for range 200 {
			msg()
		}
		return out
	}
	up, down := stream(1), stream(2)
	// send writes small pieces with short pauses (one message per read on
	// the proxy), the bulk part in 64 KiB writes, then closes its write half.
	send := func(c *net.TCPConn, p []byte) {
		off := 0
		for i := 0; i < 100 && off < len(p); i++ {
			k := min(1+i%300, len(p)-off)
			c.Write(p[off : off+k])
			off += k
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		for off < len(p) {
			k := min(64<<10, len(p)-off)
			if _, err := c.Write(p[off : off+k]); err != nil {
				return
			}
			off += k
		}
		c.CloseWrite()
	}
	hashAll := func(c net.Conn) result {
		h := sha256.New()
		n, _ := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n = n
		return r
	}
	ln := serveLoopback(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		sent := make(chan struct{})
		go func() { send(c.(*net.TCPConn), down); close(sent) }()
		srvGot <- hashAll(c)
		<-sent // the connection closes when this handler returns
	})
	e, addr, sink := startEngine(t, tcpConfig(srv("db", ln.Addr().String())))
	c := dialDeadline(t, addr, 30*time.Second)
	go send(c, up)
	got := hashAll(c)
	if want := sha256.Sum256(down); got.sum != want || got.n != int64(len(down)) {
		t.Fatalf("client received %d bytes (want %d), checksum match %v", got.n, len(down), got.sum == want)
	}
	var sg result
	select {
	case sg = <-srvGot:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not see the end of the upload")
	}
	if want := sha256.Sum256(up); sg.sum != want || sg.n != int64(len(up)) {
		t.Fatalf("server received %d bytes (want %d), checksum match %v", sg.n, len(up), sg.sum == want)
	}
	rec := sink.last(t)
	if !rec.TCP || rec.BytesRead != int64(len(down)) || rec.Termination != "--" {
		t.Errorf("record: TCP %v, bytes read %d (want %d), termination %q", rec.TCP, rec.BytesRead, len(down), rec.Termination)
	}
	for _, f := range e.Frontends() {
		if f.BytesIn != uint64(len(up)) || f.BytesOut != uint64(len(down)) {
			t.Errorf("frontend %s bytes in/out %d/%d, want %d/%d", f.Name, f.BytesIn, f.BytesOut, len(up), len(down))
		}
	}
	for _, b := range e.Backends() {
		if b.BytesIn != uint64(len(up)) || b.BytesOut != uint64(len(down)) {
			t.Errorf("backend %s bytes in/out %d/%d, want %d/%d", b.Name, b.BytesIn, b.BytesOut, len(up), len(down))
		}
	}
}

// TestTCPModeHalfCloseBothOrders: the client's FIN reaches the server while
// the server still answers; and a server that closes its sending side first
// still receives what the client sends afterwards.
func TestTCPModeHalfCloseBothOrders(t *testing.T) {
	late := make(chan string, 1)
	ln := serveLoopback(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if string(buf) == "first" {
			// Client speaks first and half-closes: read to its FIN, then answer.
			rest, err := io.ReadAll(c)
			if err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
			c.Write(append([]byte("got "), rest...))
			c.(*net.TCPConn).CloseWrite()
			return
		}
		// "later": the server half-closes first, then reads on.
		c.Write([]byte("bye"))
		c.(*net.TCPConn).CloseWrite()
		rest, _ := io.ReadAll(c)
		late <- string(rest)
	})
	_, addr, sink := startEngine(t, tcpConfig(srv("db", ln.Addr().String())))
	c := dialDeadline(t, addr, 10*time.Second)
	c.Write([]byte("first request"))
	c.CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "got  request" {
		t.Fatalf("client first: got %q, %v", got, err)
	}
	if rec := sink.last(t); rec.BytesRead != 12 || rec.Termination != "--" {
		t.Errorf("client-first record: bytes read %d, termination %q", rec.BytesRead, rec.Termination)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	c2.Write([]byte("later"))
	buf := make([]byte, 16)
	n, err := io.ReadFull(c2, buf[:3])
	if err != nil || string(buf[:n]) != "bye" {
		t.Fatalf("server first: got %q, %v", buf[:n], err)
	}
	if n, err := c2.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the server's FIN: %d bytes, %v; want EOF", n, err)
	}
	// The client can still send: the server reads it after its own FIN.
	if _, err := c2.Write([]byte(" and more")); err != nil {
		t.Fatalf("write after the server's FIN: %v", err)
	}
	c2.(*net.TCPConn).CloseWrite()
	select {
	case got := <-late:
		if got != " and more" {
			t.Errorf("server read %q after its FIN, want \" and more\"", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the client's data and FIN")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.all()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	all := sink.all()
	if len(all) < 2 {
		t.Fatal("second session not logged")
	}
	if rec := all[len(all)-1]; rec.BytesRead != 3 {
		t.Errorf("server-first record: bytes read %d, want 3", rec.BytesRead)
	}
}
