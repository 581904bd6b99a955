package main

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The goroutines engine: lbd's mode tcp copy (proxy/io.go pipe and
// rawPipe, proxy/tcp.go copyBoth) reduced to what case (c) exercises. Per
// session one goroutine copies client to server and the accepting one
// server to client; each reads with recvmsg inside RawConn.Read until the
// socket is drained (TCP_INQ says so after a short read), writes with
// sendto inside the peer's RawConn.Write, and parks in Go's poller. With
// -idle > 0 it arms the same inactivity deadlines as lbd (lbd's case (c)
// runs with 1m). Left out: the switch to splice(2) after four full
// buffers (never taken with 1 KB responses), logging and counters.

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func serveGoroutines(ln *net.TCPListener, backends []string, idle time.Duration) error {
	var rr uint64
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return err
		}
		addr := backends[rr%uint64(len(backends))]
		rr++
		go session(c, addr, idle)
	}
}

func session(c *net.TCPConn, addr string, idle time.Duration) {
	defer c.Close()
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
	sc, err := d.Dial("tcp", addr)
	if err != nil {
		return
	}
	s := sc.(*net.TCPConn)
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		if _, err := pipe(s, c, idle, &last); err == nil {
			s.CloseWrite()
		} else {
			s.Close()
			c.Close()
		}
		close(done)
	}()
	if _, err := pipe(c, s, idle, &last); err == nil {
		c.CloseWrite()
	} else {
		s.Close()
		c.Close()
	}
	<-done
	s.Close()
}

var errIdleTimeout = errors.New("idle timeout")

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// armDeadlineAt extends an inactivity deadline to now+timeout unless the
// current one is still at least 7/8 of timeout away (proxy/io.go).
func armDeadlineAt(set func(time.Time) error, cur time.Time, timeout time.Duration, now time.Time) time.Time {
	if left := cur.Sub(now); left >= timeout-timeout/8 && left <= timeout {
		return cur
	}
	d := now.Add(timeout)
	set(d)
	return d
}

type rawPipe struct {
	dst, src *net.TCPConn
	buf      *[]byte
	idle     time.Duration
	last     *atomic.Int64
	rdl, wdl time.Time
	n        int64
	eof      bool
	rerr     error
	werr     error
	drc      syscall.RawConn
	wfn      func(fd uintptr) bool
	wb       []byte
	in       inqRecv
}

// pipe copies src to dst until EOF (proxy/io.go pipe, without splice).
func pipe(dst, src *net.TCPConn, idle time.Duration, last *atomic.Int64) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	drc, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	p := &rawPipe{dst: dst, src: src, idle: idle, last: last, drc: drc}
	p.wfn = p.wstep
	rc.Control(func(fd uintptr) { p.in.enable(int(fd)) })
	fn := p.step
	for {
		if idle > 0 {
			p.rdl = armDeadlineAt(src.SetReadDeadline, p.rdl, idle, time.Now())
		}
		err := rc.Read(fn)
		if p.buf != nil {
			bufPool.Put(p.buf)
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
			return p.n, err
		case p.werr != nil:
			return p.n, p.werr
		case p.rerr != nil:
			return p.n, p.rerr
		case p.eof:
			return p.n, nil
		}
	}
}

func (p *rawPipe) write(b []byte) error {
	p.wb = b
	err := p.drc.Write(p.wfn)
	p.wb = nil
	if err == nil {
		return p.werr
	}
	return err
}

// wstep runs inside dst's RawConn.Write.
func (p *rawPipe) wstep(fd uintptr) bool {
	for len(p.wb) > 0 {
		n, err := sysSend(int(fd), p.wb)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return false
		}
		if err != nil {
			p.werr = err
			return true
		}
		p.wb = p.wb[n:]
	}
	return true
}

// step runs inside RawConn.Read; returning false waits for readability.
func (p *rawPipe) step(fd uintptr) bool {
	for {
		if p.buf == nil {
			p.buf = bufPool.Get().(*[]byte)
		}
		n, inq, err := p.in.recv(int(fd), *p.buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			bufPool.Put(p.buf)
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
		if n < len(*p.buf) && inq == 0 {
			bufPool.Put(p.buf)
			p.buf = nil
			return false
		}
	}
}
