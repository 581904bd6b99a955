package proxy

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection. (Shrinking the
// socket buffers instead of writing more stalls loopback TCP in the
// persist timer for seconds.)
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		done <- c
	}()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	b = <-done
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// readLate reads everything from c after a pause, so that the writer's
// socket buffer fills first.
func readLate(c net.Conn) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		ch <- got
	}()
	return ch
}

// TestBufWriterRawWriteFallsBack: a write made while the descriptor is
// held goes out raw as far as the socket takes it; the rest waits in
// c.Write, and every byte arrives once, in order.
func TestBufWriterRawWriteFallsBack(t *testing.T) {
	a, b := tcpPair(t)
	got := readLate(b)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: more than the socket buffers take
	w := bufWriter{c: a, timeout: 10 * time.Second}
	w.hold()
	defer w.releaseBuf()
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	rc.Control(func(fd uintptr) {
		w.held, w.fd = true, int(fd)
		werr = writeInPieces(&w, payload)
		w.held = false
	})
	if werr != nil {
		t.Fatal(werr)
	}
	a.CloseWrite()
	want := append(append([]byte{}, payload...), payload[:100000]...)
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("received %d bytes, want %d (or different content)", len(g), len(want))
	}
	if w.n != int64(len(want)) {
		t.Errorf("counted %d bytes written, want %d", w.n, len(want))
	}
}

// TestRawPipeWaitsForWritability: the tcp-mode copy writes raw and, when
// the destination is full, waits for writability (a non-TCP destination,
// so it never switches to splice).
func TestRawPipeWaitsForWritability(t *testing.T) {
	src, feed := tcpPair(t)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
	dst := os.NewFile(uintptr(fds[0]), "dst")
	pf := os.NewFile(uintptr(fds[1]), "peer")
	peer, err := net.FileConn(pf) // a dup of the descriptor
	pf.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close(); peer.Close() })
	got := readLate(peer)
	payload := bytes.Repeat([]byte("fedcba9876543210"), 1<<20) // 16 MiB
	go func() { feed.Write(payload); feed.CloseWrite() }()
	var last atomic.Int64
	t0 := time.Now()
	n, err := pipe(dst, src, 10*time.Second, &last)
	if err != nil || n != int64(len(payload)) {
		t.Fatalf("pipe: %d bytes, err %v", n, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("pipe took %v: the end of the stream was seen late (idle timeout 10s)", d)
	}
	dst.Close()
	if g := <-got; !bytes.Equal(g, payload) {
		t.Fatalf("received %d bytes, want %d (or different content)", len(g), len(payload))
	}
}

// TestPipeSeesFINQueuedWithData: data and the FIN already queued when the
// copy starts (one readiness edge for both): the copy ends at once, not
// at the idle timeout.
func TestPipeSeesFINQueuedWithData(t *testing.T) {
	src, feed := tcpPair(t)
	dst, peer := tcpPair(t)
	feed.Write([]byte("last words"))
	feed.CloseWrite()
	time.Sleep(20 * time.Millisecond) // both are queued on src
	var last atomic.Int64
	t0 := time.Now()
	n, err := pipe(dst, src, 10*time.Second, &last)
	if err != nil || n != 10 {
		t.Fatalf("pipe: %d bytes, err %v", n, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("pipe ended after %v: the FIN was missed until the idle timeout", d)
	}
	dst.CloseWrite()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(peer); err != nil || string(got) != "last words" {
		t.Errorf("peer got %q, %v", got, err)
	}
}

// TestPipeClosedByOtherDirection: when the other direction closes a server
// connection (an *os.File from the lean dialer), the copy's read or write
// error on it is one isClosed recognises, so the session is logged by the
// side that failed first (SD, not CD).
func TestPipeClosedByOtherDirection(t *testing.T) {
	ln := serveLoopback(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	dialClosed := func() conn {
		s, err := dialServer(ln.Addr().String(), resolveDialAddr(ln.Addr().String()), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*os.File); !ok {
			t.Fatalf("lean dialer gave %T, want *os.File", s)
		}
		s.Close()
		return s
	}
	var last atomic.Int64
	t.Run("write", func(t *testing.T) {
		src, feed := tcpPair(t)
		feed.Write([]byte("to a closed server"))
		_, err := pipe(dialClosed(), src, 2*time.Second, &last)
		if err == nil || !isClosed(err) {
			t.Fatalf("pipe error %v: not recognised as closed", err)
		}
	})
	t.Run("read", func(t *testing.T) {
		dst, _ := tcpPair(t)
		_, err := pipe(dst, dialClosed(), 2*time.Second, &last)
		if err == nil || !isClosed(err) {
			t.Fatalf("pipe error %v: not recognised as closed", err)
		}
	})
}

// TestSysReadWriteSocketAndPipe: sysRead and sysWrite move bytes on a TCP
// socket (recvfrom/sendto) and on a descriptor that is not a socket (a
// pipe: the ENOTSOCK fallback to read/write), and report EAGAIN on an
// empty non-blocking socket.
func TestSysReadWriteSocketAndPipe(t *testing.T) {
	a, b := tcpPair(t)
	raw := func(c syscall.Conn) int {
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var fd int
		rc.Control(func(f uintptr) { fd = int(f) })
		return fd
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, c := range []struct {
		name   string
		wfd    int
		rfd    int
		settle time.Duration
	}{
		{"tcp", raw(a), raw(b), 50 * time.Millisecond},
		{"pipe", int(pw.Fd()), int(pr.Fd()), 0},
	} {
		msg := []byte("GET / HTTP/1.1\r\n\r\n")
		n, err := sysWrite(c.wfd, msg)
		if err != nil || n != len(msg) {
			t.Fatalf("%s: sysWrite = %d, %v; want %d, nil", c.name, n, err, len(msg))
		}
		time.Sleep(c.settle) // loopback delivery
		buf := make([]byte, 64)
		n, err = sysRead(c.rfd, buf)
		if err != nil || string(buf[:n]) != string(msg) {
			t.Fatalf("%s: sysRead = %q, %v; want %q", c.name, buf[:max(n, 0)], err, msg)
		}
	}
	if _, err := sysRead(raw(b), make([]byte, 8)); err != syscall.EAGAIN {
		t.Fatalf("sysRead on an empty socket: %v, want EAGAIN", err)
	}
}

// writeInPieces writes payload to w in 3,000-byte pieces, then its first
// 100,000 bytes at once (larger than the buffer: written directly), then
// flushes.
func writeInPieces(w *bufWriter, payload []byte) error {
	for off := 0; off < len(payload); off += 3000 {
		if err := w.write(payload[off:min(off+3000, len(payload))]); err != nil {
			return err
		}
	}
	if err := w.write(payload[:100000]); err != nil {
		return err
	}
	return w.flush()
}
