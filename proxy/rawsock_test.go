package proxy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestRawSock: the socket under crypto/tls reads what arrives, writes more
// than the socket buffers take (waiting for writability) with every byte
// arriving once and in order, reads and writes at once, reports a read
// deadline as os.ErrDeadlineExceeded, the peer's close as io.EOF, and its
// own close as a closed connection.
func TestRawSock(t *testing.T) {
	a, b := tcpPair(t)
	s := newRawSock(a)
	if _, ok := s.(*rawSock); !ok {
		t.Fatalf("newRawSock gave %T, want *rawSock", s)
	}
	if _, err := b.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
	}

	// A large write while the other direction reads: both complete.
	got := readLate(b)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	readDone := make(chan error, 1)
	go func() {
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := s.Read(buf)
		if err == nil && string(buf[:n]) != "ping" {
			err = errors.New("read " + string(buf[:n]))
		}
		readDone <- err
	}()
	if _, err := b.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	s.SetWriteDeadline(time.Now().Add(10 * time.Second))
	n, err = s.Write(payload)
	if err != nil || n != len(payload) {
		t.Fatalf("Write = %d, %v; want %d", n, err, len(payload))
	}
	if err := <-readDone; err != nil {
		t.Fatalf("concurrent Read: %v", err)
	}
	a.CloseWrite()
	if g := <-got; !bytes.Equal(g, payload) {
		t.Fatalf("peer got %d bytes, want the %d written, in order", len(g), len(payload))
	}

	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	s.SetReadDeadline(time.Time{})
	b.Close()
	if _, err := s.Read(buf); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want io.EOF", err)
	}
	s.Close()
	if _, err := s.Read(buf); !isClosed(err) {
		t.Fatalf("Read after Close: %v, want a closed-connection error", err)
	}
}
