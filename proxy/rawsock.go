package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawSock is the socket under crypto/tls, on TLS connections from clients
// (tls.Server, conn_tls.go) and to servers (tls.Client, server_tls.go): its
// Read and Write make raw recvfrom/sendto calls (rawio.go) inside the
// connection's RawConn callbacks, where net.TCPConn's would go through
// syscall.Read/Write.
//
// Those tell the Go scheduler that the goroutine enters a system call
// (entersyscall), and entering one while the runtime's monitor thread
// (sysmon) sleeps because the processor was idle wakes it; it then polls
// every 20 us for about a millisecond before it backs off. With
// GOMAXPROCS=1 it shares the proxy's CPU, so on a busy HTTPS proxy that
// goes idle now and then it was woken over and over: in bench case (e),
// 36,000 sysmon wake-ups and 19,000 preemptions of the serving thread in
// 5 s (187,000 requests), and 27% more kernel time per request than
// HAProxy (docs/proxy.md, "Raw system calls"). A non-blocking socket call
// never waits (EAGAIN: the RawConn waits for readiness, under the
// connection's deadlines), so it needs none of that.
//
// Read and Write use separate fields: crypto/tls may read on one goroutine
// while it writes on another (HTTP/2), never two reads or two writes at
// once. Timeouts and a closed connection come back from the RawConn as
// from net.TCPConn (os.ErrDeadlineExceeded, net.ErrClosed); the end of the
// stream is io.EOF.
type rawSock struct {
	*net.TCPConn
	r rawReader
	w rawWriter
}

// newRawSock wraps c; if c has no raw descriptor it is returned as is.
func newRawSock(c *net.TCPConn) net.Conn {
	rc, err := c.SyscallConn()
	if err != nil {
		return c
	}
	s := &rawSock{TCPConn: c}
	s.r.init(rc)
	s.w.init(rc)
	return s
}

func (s *rawSock) Read(p []byte) (int, error) {
	n, err := s.r.read(p)
	if s.r.err != nil && s.r.err != io.EOF {
		err = os.NewSyscallError("recvfrom", err)
	}
	return n, err
}

func (s *rawSock) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := s.w.write(p)
	if s.w.err != nil {
		err = os.NewSyscallError("sendto", err)
	}
	return n, err
}

// rawReader reads from a socket with raw recvfrom calls (sysRead) inside
// its RawConn's Read callback: an empty socket waits for readability under
// the connection's read deadline. rawSock and the plain path's buffered
// reads (bufReader.fill, io.go) read through it.
type rawReader struct {
	rc  syscall.RawConn
	b   []byte
	n   int
	err error                 // the failed recvfrom's errno, or io.EOF
	fn  func(fd uintptr) bool // step
}

func (r *rawReader) init(rc syscall.RawConn) { r.rc, r.fn = rc, r.step }

// read reads once into b (some bytes, at most len(b)): it returns how many
// and the RawConn's error (deadline, closed) or the failed recvfrom's errno
// or io.EOF at the end of the stream (then r.err).
func (r *rawReader) read(b []byte) (int, error) {
	r.err = nil
	if len(b) == 0 {
		return 0, nil
	}
	r.b, r.n = b, 0
	err := r.rc.Read(r.fn)
	n := r.n
	r.b = nil
	if err == nil {
		err = r.err
	}
	return n, err
}

// step runs inside RawConn.Read; false waits for readability.
func (r *rawReader) step(fd uintptr) bool {
	for {
		n, err := sysRead(int(fd), r.b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			r.err = err
		case n == 0:
			r.err = io.EOF
		default:
			r.n = n
		}
		return true
	}
}

// rawWriter writes to a socket with raw sendto calls (sysWrite) inside its
// RawConn's Write callback: a full socket waits for writability under the
// connection's write deadline. rawSock and the mode tcp copy (rawPipe,
// io.go) write through it.
type rawWriter struct {
	rc  syscall.RawConn
	b   []byte
	n   int
	err error                 // the failed sendto's errno, if one failed
	fn  func(fd uintptr) bool // step
}

func (w *rawWriter) init(rc syscall.RawConn) { w.rc, w.fn = rc, w.step }

// write writes all of b: it returns how much went out and the RawConn's
// error (deadline, closed) or the failed sendto's errno (then w.err).
func (w *rawWriter) write(b []byte) (int, error) {
	w.b, w.n, w.err = b, 0, nil
	err := w.rc.Write(w.fn)
	n := w.n
	w.b = nil
	if err == nil {
		err = w.err
	}
	return n, err
}

// step runs inside RawConn.Write: it writes until all of b is out, the
// socket is full (false: wait for writability) or a write fails.
func (w *rawWriter) step(fd uintptr) bool {
	for w.n < len(w.b) {
		n, err := sysWrite(int(fd), w.b[w.n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			w.err = err
			return true
		}
		w.n += n
	}
	return true
}
