package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

var (
	errHeadTooLarge = errors.New("message head too large")
	errBadChunked   = errors.New("malformed chunked body")
	errIdleTimeout  = errors.New("idle timeout")
)

const maxChunkLine = 4096
const maxTrailers = 64

// bufReader reads from a connection through a pooled buffer; buf[r:w] holds
// unread bytes.
type bufReader struct {
	c       conn
	buf     *[]byte
	r, w    int
	timeout time.Duration // inactivity timeout per read; 0 = none
	dl      time.Time     // read deadline currently set on c
	n       int64         // bytes read from the connection
	gotAny  bool
	// raw, when set, reads c's socket with raw recvfrom calls inside its
	// RawConn (rawsock.go), not with c.Read: a plain socket only, and
	// raw.rc is c's. See fill.
	raw *rawReader
}

func (b *bufReader) hold() {
	if b.buf == nil {
		b.buf = getBuf()
		b.r, b.w = 0, 0
	}
}

func (b *bufReader) release() {
	if b.buf != nil && b.r == b.w {
		putBuf(b.buf)
		b.buf = nil
		b.r, b.w = 0, 0
	}
}

func (b *bufReader) releaseAll() {
	if b.buf != nil {
		putBuf(b.buf)
		b.buf = nil
		b.r, b.w = 0, 0
	}
}

func (b *bufReader) buffered() int { return b.w - b.r }

// fill reads more bytes, compacting first when the buffer is full.
func (b *bufReader) fill() error {
	b.hold()
	buf := *b.buf
	if b.w == len(buf) {
		if b.r == 0 {
			return errHeadTooLarge
		}
		copy(buf, buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	if b.timeout > 0 {
		b.dl = armDeadline(b.c.SetReadDeadline, b.dl, b.timeout)
	}
	n, err := b.read(buf[b.w:])
	b.w += n
	b.n += int64(n)
	if n > 0 {
		b.gotAny = true
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// read reads c once. With raw set it makes raw recvfrom calls, waiting
// for readability in the RawConn: c.Read (*os.File, *net.TCPConn) would
// make a syscall.Read, which wakes the runtime's sleeping monitor thread
// (rawio.go). An error of the RawConn itself (the deadline, a closed
// connection) is reported by c.Read in its usual form: it fails before
// making a system call.
func (b *bufReader) read(p []byte) (int, error) {
	if b.raw == nil {
		return b.c.Read(p)
	}
	n, err := b.raw.read(p)
	switch {
	case err == nil, err == io.EOF:
		return n, err
	case b.raw.err != nil:
		return n, os.NewSyscallError("recvfrom", err)
	}
	return b.c.Read(p)
}

// readLine returns the next CRLF-terminated line without CRLF; a bare LF is
// an error. The slice is valid until the next read.
func (b *bufReader) readLine() ([]byte, error) {
	for {
		if b.buf != nil {
			buf := (*b.buf)[b.r:b.w]
			if i := bytes.IndexByte(buf, '\n'); i >= 0 {
				if i == 0 || buf[i-1] != '\r' {
					return nil, errBadChunked
				}
				line := buf[:i-1]
				b.r += i + 1
				return line, nil
			}
			if len(buf) >= maxChunkLine {
				return nil, errBadChunked
			}
		}
		if err := b.fill(); err != nil {
			return nil, err
		}
	}
}

// bufWriter batches writes to a connection in a pooled buffer.
type bufWriter struct {
	c       conn
	buf     *[]byte
	b       []byte // pending bytes, backed by *buf
	timeout time.Duration
	dl      time.Time // write deadline currently set on c
	n       int64     // bytes written to the connection
	// held: the caller holds c's descriptor fd (it runs inside a RawConn
	// callback on c), so writes try one raw write(2) first (rawio.go).
	held bool
	fd   int
	// raw, when set, writes c's socket with raw sendto calls inside its
	// RawConn (rawsock.go), not with c.Write; as bufReader.raw.
	raw *rawWriter
}

// armDeadline extends an inactivity deadline to now+timeout, skipping the
// (costly) update while the current one is still at least 7/8 of timeout
// away: the effective timeout is between 7/8 and 8/8 of the configured one.
func armDeadline(set func(time.Time) error, cur time.Time, timeout time.Duration) time.Time {
	return armDeadlineAt(set, cur, timeout, time.Now())
}

// armDeadlineAt is armDeadline with the caller's clock reading.
func armDeadlineAt(set func(time.Time) error, cur time.Time, timeout time.Duration, now time.Time) time.Time {
	if left := cur.Sub(now); left >= timeout-timeout/8 && left <= timeout {
		return cur
	}
	d := now.Add(timeout)
	set(d)
	return d
}

func (w *bufWriter) hold() {
	if w.buf == nil {
		w.buf = getBuf()
		w.b = (*w.buf)[:0]
	}
}

func (w *bufWriter) releaseBuf() {
	if w.buf != nil {
		if cap(w.b) > cap(*w.buf) {
			*w.buf = w.b[:cap(w.b)]
		}
		putBuf(w.buf)
		w.buf = nil
		w.b = nil
	}
}

func (w *bufWriter) flush() error {
	if len(w.b) == 0 {
		return nil
	}
	n, err := w.writeConn(w.b)
	w.n += int64(n)
	w.b = w.b[:0]
	return err
}

// writeConn writes p to the connection: first with one raw write when the
// caller holds the descriptor (w.held), the rest (if any) through the raw
// writer (w.raw) or c.Write, which wait for writability under the write
// deadline.
func (w *bufWriter) writeConn(p []byte) (int, error) {
	done := 0
	if w.held {
		if n, _ := sysWrite(w.fd, p); n > 0 {
			if done = n; n == len(p) {
				return n, nil
			}
		}
		// EAGAIN, a short write or an error: the rest waits, or
		// reports the error in the usual form.
	}
	if w.timeout > 0 {
		w.dl = armDeadline(w.c.SetWriteDeadline, w.dl, w.timeout)
	}
	n, err := w.writeAll(p[done:])
	return done + n, err
}

// writeAll writes all of p to the connection now, past the pending bytes,
// under the write deadline already set: with the raw writer when there is
// one (as bufReader.read: raw sendto calls, and the RawConn's own error -
// deadline, closed - in c.Write's form), else with c.Write.
func (w *bufWriter) writeAll(p []byte) (int, error) {
	if w.raw == nil {
		return w.c.Write(p)
	}
	n, err := w.raw.write(p)
	switch {
	case err == nil:
		return n, nil
	case w.raw.err != nil:
		return n, os.NewSyscallError("sendto", err)
	}
	m, err := w.c.Write(p[n:])
	return n + m, err
}

func (w *bufWriter) write(p []byte) error {
	if len(w.b)+len(p) <= cap(w.b) {
		w.b = append(w.b, p...)
		return nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	if len(p) < cap(w.b)/2 {
		w.b = append(w.b, p...)
		return nil
	}
	n, err := w.writeConn(p)
	w.n += int64(n)
	return err
}

// ensure makes room for n more bytes in the pending buffer.
func (w *bufWriter) ensure(n int) error {
	if len(w.b)+n > cap(w.b) {
		return w.flush()
	}
	return nil
}

// copyErr tells which side failed during a body copy.
type copyErr struct {
	read bool // the source failed (else the destination)
	err  error
}

func (e *copyErr) Error() string { return e.err.Error() }
func (e *copyErr) Unwrap() error { return e.err }

func rerr(err error) error { return &copyErr{read: true, err: err} }
func werr(err error) error { return &copyErr{read: false, err: err} }

// copyN moves exactly n body bytes from src to dst.
func copyN(dst *bufWriter, src *bufReader, n int64) error {
	for n > 0 {
		if src.buffered() == 0 {
			src.r, src.w = 0, 0
			if err := src.fill(); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return rerr(err)
			}
		}
		k := int64(src.buffered())
		if k > n {
			k = n
		}
		if err := dst.write((*src.buf)[src.r : src.r+int(k)]); err != nil {
			return werr(err)
		}
		src.r += int(k)
		n -= k
	}
	return nil
}

// copyUntilEOF moves a close-delimited body.
func copyUntilEOF(dst *bufWriter, src *bufReader) error {
	for {
		if src.buffered() > 0 {
			if err := dst.write((*src.buf)[src.r:src.w]); err != nil {
				return werr(err)
			}
			src.r = src.w
		}
		src.r, src.w = 0, 0
		if err := src.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return rerr(err)
		}
	}
}

// copyChunked moves a chunked body. With reframe it re-serialises it:
// canonical chunk-size lines (extensions dropped), data, validated
// trailers. Without, it moves the data only (HTTP/2 frames the body itself
// and ends it with END_STREAM): the framing goes, the trailers are checked
// and dropped.
func copyChunked(dst *bufWriter, src *bufReader, reframe bool) error {
	for {
		line, err := src.readLine()
		if err != nil {
			return rerr(err)
		}
		size, err := h1.ParseChunkSize(line)
		if err != nil {
			return rerr(errBadChunked)
		}
		if reframe {
			if err := dst.ensure(24); err != nil {
				return werr(err)
			}
			dst.b = h1.AppendChunkSize(dst.b, size)
		}
		if size == 0 {
			return copyTrailers(dst, src, reframe)
		}
		if err := copyN(dst, src, size); err != nil {
			return err
		}
		for src.buffered() < 2 {
			if err := src.fill(); err != nil {
				return rerr(err)
			}
		}
		if (*src.buf)[src.r] != '\r' || (*src.buf)[src.r+1] != '\n' {
			return rerr(errBadChunked)
		}
		src.r += 2
		if reframe {
			if err := dst.write(crlf); err != nil {
				return werr(err)
			}
		}
	}
}

// copyTrailers reads the trailer section after the last chunk, checking
// each field, and writes it (with the final CRLF) when reframe.
func copyTrailers(dst *bufWriter, src *bufReader, reframe bool) error {
	for i := 0; ; i++ {
		line, err := src.readLine()
		if err != nil {
			return rerr(err)
		}
		if len(line) == 0 {
			break
		}
		if i >= maxTrailers || !h1.ValidTrailerLine(line) {
			return rerr(errBadChunked)
		}
		if !reframe {
			continue
		}
		if err := dst.write(line); err != nil {
			return werr(err)
		}
		if err := dst.write(crlf); err != nil {
			return werr(err)
		}
	}
	if reframe {
		if err := dst.write(crlf); err != nil {
			return werr(err)
		}
	}
	return nil
}

var crlf = []byte("\r\n")

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// pipe copies src to dst until EOF with an inactivity timeout shared by
// both directions (last holds the unix-nano time of the latest activity).
//
// Small messages are copied with raw read/write inside one RawConn.Read
// call, reading until EAGAIN (see rawPipe.step for why not less); the
// buffer is given back while waiting. After bulkAfter consecutive
// full buffers the copy switches to Go's splice(2) path
// (dst.ReadFrom(*io.LimitedReader over *net.TCPConn)) for a while.
func pipe(dst, src conn, idle time.Duration, last *atomic.Int64) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	drc, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	p := &rawPipe{dst: dst, src: src, idle: idle, last: last}
	p.w.init(drc)
	rc.Control(func(fd uintptr) { p.in.enable(int(fd)) })
	fn := p.step
	for {
		if idle > 0 {
			p.rdl = armDeadline(src.SetReadDeadline, p.rdl, idle)
		}
		p.bulk = false
		err := rc.Read(fn)
		if p.buf != nil {
			putBuf(p.buf)
			p.buf = nil
		}
		switch {
		case err != nil:
			if isTimeout(err) && idle > 0 && time.Since(time.Unix(0, last.Load())) < idle {
				p.rdl = time.Time{}
				continue
			}
			if isTimeout(err) {
				return p.n, errIdleTimeout
			}
			// A RawConn reports a *os.File closed meanwhile (by the
			// other direction) with the poller's own error; src.Read
			// reports it as os.ErrClosed, which isClosed knows.
			if _, e := src.Read(nil); e != nil && isClosed(e) {
				err = e
			}
			return p.n, err
		case p.werr != nil:
			return p.n, p.werr
		case p.rerr != nil:
			return p.n, p.rerr
		case p.eof:
			return p.n, nil
		case p.bulk:
			td, ok1 := dst.(*net.TCPConn)
			ts, ok2 := src.(*net.TCPConn)
			if !ok1 || !ok2 {
				continue // splice needs two *net.TCPConn: stay on read/write
			}
			n, err := spliceChunk(td, ts, idle, last)
			p.n += n
			p.rdl = time.Time{}
			if err != nil || n == 0 {
				return p.n, err
			}
		}
	}
}

const bulkAfter = 4

type rawPipe struct {
	dst, src conn
	buf      *[]byte
	idle     time.Duration
	last     *atomic.Int64
	rdl, wdl time.Time
	n        int64
	full     int
	eof      bool
	bulk     bool
	rerr     error
	werr     error
	w        rawWriter // dst's raw writes (rawsock.go)
	in       inqRecv   // recvmsg with TCP_INQ (tcpraw.go)
}

// write writes b to dst through its RawConn: a short write waits for
// writability (the write deadline applies).
func (p *rawPipe) write(b []byte) error {
	_, err := p.w.write(b)
	if err == nil || p.w.err != nil {
		return err // written, or the send failed
	}
	// As for reads in pipe: a connection closed meanwhile, in the form
	// isClosed knows.
	if !isTimeout(err) {
		if _, e := p.dst.Write(nil); e != nil && isClosed(e) {
			err = e
		}
	}
	return err
}

// step runs inside RawConn.Read; returning false waits for readability.
func (p *rawPipe) step(fd uintptr) bool {
	for {
		if p.buf == nil {
			p.buf = getBuf()
		}
		n, inq, err := p.in.recv(int(fd), *p.buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			putBuf(p.buf)
			p.buf = nil
			return false
		}
		if err != nil {
			p.rerr = err
			return true
		}
		if n == 0 {
			p.eof = true
			return true
		}
		// One clock reading per message for both deadlines and the
		// activity time.
		now := time.Now()
		if p.idle > 0 {
			p.wdl = armDeadlineAt(p.dst.SetWriteDeadline, p.wdl, p.idle, now)
		}
		if err := p.write((*p.buf)[:n]); err != nil {
			p.werr = err
			return true
		}
		p.n += int64(n)
		p.last.Store(now.UnixNano())
		if p.idle > 0 {
			p.rdl = armDeadlineAt(p.src.SetReadDeadline, p.rdl, p.idle, now)
		}
		if n < len(*p.buf) {
			p.full = 0
			if inq == 0 {
				// TCP_INQ: nothing left and no FIN queued; what
				// arrives from now on raises a readiness edge.
				putBuf(p.buf)
				p.buf = nil
				return false
			}
			// Short read, queue state unknown (or more arrived):
			// read on until EAGAIN. A FIN that arrived with or just
			// after this data raised no readiness edge of its own
			// (Go's poller merges it with the data's, or a new
			// RawConn.Read reset it), so waiting here could miss the
			// end of the stream until the idle timeout.
			continue
		}
		if p.full++; p.full >= bulkAfter {
			p.full = 0
			p.bulk = true
			return true
		}
	}
}

// spliceChunk moves up to 4 MiB with splice(2); it returns 0 bytes and a nil
// error at EOF.
func spliceChunk(dst, src *net.TCPConn, idle time.Duration, last *atomic.Int64) (int64, error) {
	lr := io.LimitedReader{R: src, N: 4 << 20}
	var total int64
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := dst.ReadFrom(&lr)
		total += n
		if n > 0 {
			last.Store(time.Now().UnixNano())
		}
		if err != nil {
			if isTimeout(err) && idle > 0 && time.Since(time.Unix(0, last.Load())) < idle {
				continue
			}
			if isTimeout(err) {
				return total, errIdleTimeout
			}
			return total, err
		}
		return total, nil
	}
}
