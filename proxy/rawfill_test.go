package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingConn counts the calls of its connection's own Read and Write:
// the buffered reads and writes with a raw reader or writer must not make
// them, except to report an error of the RawConn (deadline, closed).
type countingConn struct {
	conn
	reads, writes atomic.Int32
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.conn.Write(p)
}

// serverPair dials a loopback listener the way the proxy dials servers
// (dialServer: an *os.File) and returns both ends.
func serverPair(t *testing.T) (conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	c, err := dialServer(addr, resolveDialAddr(addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*os.File); !ok {
		t.Fatalf("dialServer gave %T, want *os.File", c)
	}
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	p, err := ln.AcceptTCP()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); p.Close() })
	return c, p
}

// rawFor returns a raw reader and writer on c's RawConn.
func rawFor(t *testing.T, c conn) (*rawReader, *rawWriter) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	r, w := &rawReader{}, &rawWriter{}
	r.init(rc)
	w.init(rc)
	return r, w
}

// TestBufferedRawReadWrite: on a server connection (*os.File) and on a
// client connection (*net.TCPConn), bufReader.fill waits for bytes that
// arrive late and bufWriter writes (buffered, and at once with writeAll)
// more than the socket buffers take (waiting for writability), every byte
// once and in order, without calling
// the connection's Read or Write (those make syscall.Read/Write, which wake
// the runtime's sleeping monitor thread, rawio.go). A read deadline, the
// peer's close, a reset and the connection's own close read as they do
// through the connection's Read.
func TestBufferedRawReadWrite(t *testing.T) {
	for _, side := range []string{"server", "client"} {
		t.Run(side, func(t *testing.T) {
			var c conn
			var peer *net.TCPConn
			if side == "server" {
				c, peer = serverPair(t)
			} else {
				a, b := tcpPair(t)
				c, peer = a, b
				t.Cleanup(func() { a.Close(); b.Close() })
			}
			cc := &countingConn{conn: c}
			rr, rw := rawFor(t, c)
			r := bufReader{c: cc, timeout: 10 * time.Second, raw: rr}
			defer r.releaseAll()
			w := bufWriter{c: cc, timeout: 10 * time.Second, raw: rw}
			w.hold()
			defer w.releaseBuf()

			// A read that has to wait.
			go func() {
				time.Sleep(30 * time.Millisecond)
				peer.Write([]byte("HTTP/1.1 200 OK\r\n\r\n"))
			}()
			if err := r.fill(); err != nil {
				t.Fatalf("fill: %v", err)
			}
			if got := string((*r.buf)[r.r:r.w]); got != "HTTP/1.1 200 OK\r\n\r\n" {
				t.Fatalf("fill read %q", got)
			}
			r.r = r.w

			// Writes larger than the socket buffers.
			got := readLate(peer)
			payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
			err := writeInPieces(&w, payload)
			if err == nil {
				_, err = w.writeAll(payload[:200000]) // as error pages are written: past the buffer
			}
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			closeWrite(c)
			want := append(append([]byte{}, payload...), payload[:100000]...)
			if w.n != int64(len(want)) {
				t.Errorf("counted %d bytes written, want %d", w.n, len(want))
			}
			want = append(want, payload[:200000]...)
			if g := <-got; !bytes.Equal(g, want) {
				t.Fatalf("peer got %d bytes, want the %d written, in order", len(g), len(want))
			}
			if n, m := cc.reads.Load(), cc.writes.Load(); n != 0 || m != 0 {
				t.Fatalf("the connection's Read ran %d times and Write %d times, want raw calls only", n, m)
			}

			// The deadline, in the connection's own form.
			r.timeout, r.dl = 0, time.Time{}
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if err := r.fill(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("fill past the deadline: %v, want os.ErrDeadlineExceeded", err)
			}
			c.SetReadDeadline(time.Time{})

			// The peer's close, then (on a fresh pair) a reset.
			peer.Close()
			if err := r.fill(); err != io.EOF {
				t.Fatalf("fill after the peer closed: %v, want io.EOF", err)
			}
			if n := cc.reads.Load(); n != 1 {
				t.Errorf("the connection's Read ran %d times, want 1 (the deadline's report)", n)
			}
			c.Close()
			if err := r.fill(); !isClosed(err) {
				t.Fatalf("fill after Close: %v, want a closed-connection error", err)
			}
			if err := w.write(payload[:100000]); !isClosed(err) {
				t.Fatalf("write after Close: %v, want a closed-connection error", err)
			}
		})
	}
}

// TestBufferedRawReset: a reset reads as the errno, as through the
// connection's Read.
func TestBufferedRawReset(t *testing.T) {
	c, peer := serverPair(t)
	rr, _ := rawFor(t, c)
	r := bufReader{c: c, raw: rr}
	defer r.releaseAll()
	peer.SetLinger(0)
	peer.Close()
	if err := r.fill(); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("fill after a reset: %v, want ECONNRESET", err)
	}
}

// TestRawServerAndClientSetUp: the exchange's writer and reader take the
// raw ones for a server connection with a RawConn and drop them without;
// a plain client connection's buffered reader and writer have theirs while
// a request is in hand, and the pooled state keeps no RawConn.
func TestRawServerAndClientSetUp(t *testing.T) {
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	cc := &clientConn{rc: rc}
	cc.getReq()
	if cc.in.raw != &cc.cliR || cc.out.raw != &cc.cliW || cc.cliR.rc != rc || cc.cliW.rc != rc {
		t.Fatal("getReq on a plain connection: no raw reader and writer")
	}
	x := exchange{rc: rc}
	var sw bufWriter
	var sr bufReader
	cc.rawServer(&x, &sw, &sr)
	if sw.raw != &cc.srvW || sr.raw != &cc.srvR || cc.srvR.rc != rc || cc.srvW.rc != rc {
		t.Fatal("rawServer with a RawConn: no raw reader and writer")
	}
	x.rc = nil // TLS
	cc.rawServer(&x, &sw, &sr)
	if sw.raw != nil || sr.raw != nil {
		t.Fatal("rawServer without a RawConn kept the raw reader and writer")
	}
	rs := cc.reqState
	rs.srvR.rc, rs.srvW.rc = rc, rc
	cc.putReq()
	if cc.in.raw != nil || cc.out.raw != nil {
		t.Fatal("putReq left the raw reader and writer on the connection")
	}
	if rs.cliR.rc != nil || rs.cliW.rc != nil || rs.srvR.rc != nil || rs.srvW.rc != nil {
		t.Fatal("putReq pooled a reqState that holds a RawConn")
	}
	tls := &clientConn{} // TLS and HTTP/2 streams have no cc.rc
	tls.getReq()
	defer tls.putReq()
	if tls.in.raw != nil || tls.out.raw != nil {
		t.Fatal("getReq without a RawConn set raw readers")
	}
}
