package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// SniffOptions configure Sniff.
type SniffOptions struct {
	// Backend answers the runtime API commands.
	Backend Backend
	// Level returns the runtime API level of the socket (read for each
	// connection, so a reload can change it).
	Level func() Level
	// Who names a connection's peer for the audit log.
	Who func(net.Conn) string
	// AllowHTTP, when set, decides whether an HTTP request with the given
	// method may go on to the control API (nil: always); refused ones get
	// a 403 and are closed.
	AllowHTTP func(c net.Conn, method string) bool
	// MaxPending bounds connections not yet classified plus runtime API
	// sessions; more are closed at once. 0 means 4096.
	MaxPending int
	// FirstByte bounds the wait for a new connection's first bytes; 0
	// means DefaultIdle.
	FirstByte time.Duration
}

// httpMethods are the request-line tokens that mark lbctl's HTTP API.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}

// Sniff accepts connections on l and tells the protocols apart by the first
// bytes: an HTTP request line goes to the returned listener (serve lbctl's
// API on it), anything else is a runtime API session. It runs until ctx
// ends or l fails; closing the returned listener does not close l.
func Sniff(ctx context.Context, l net.Listener, o SniffOptions) net.Listener {
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	if o.FirstByte <= 0 {
		o.FirstByte = DefaultIdle
	}
	if o.Level == nil {
		o.Level = func() Level { return LevelOperator }
	}
	if o.Who == nil {
		o.Who = func(net.Conn) string { return "unknown" }
	}
	hl := &chanListener{addr: l.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	slots := make(chan struct{}, o.MaxPending)
	go func() {
		defer hl.Close()
		for {
			c, err := l.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				return
			}
			select {
			case slots <- struct{}{}:
			default:
				c.Close() // too many at once: closed, never stuck
				continue
			}
			go func() {
				if hc := classify(ctx, c, o, hl); hc != nil {
					<-slots
					hl.deliver(hc)
					return
				}
				<-slots
			}()
		}
	}()
	return hl
}

// classify reads the first bytes of c. It returns the connection for the
// HTTP listener, or nil when it served (or closed) it itself.
func classify(ctx context.Context, c net.Conn, o SniffOptions, hl *chanListener) net.Conn {
	c.SetReadDeadline(time.Now().Add(o.FirstByte))
	r := bufio.NewReaderSize(c, 4096)
	var head []byte
	for n := 1; n <= 8; n = len(head) + 1 {
		if _, err := r.Peek(n); err != nil {
			if len(head) == 0 {
				c.Close()
				return nil
			}
			break
		}
		head, _ = r.Peek(min(r.Buffered(), 8))
		if bytes.ContainsAny(head, " \n") {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	if method, ok := httpMethod(head); ok {
		if o.AllowHTTP != nil && !o.AllowHTTP(c, method) {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 60\r\n\r\nthis socket's runtime_api level does not allow lbctl changes\n"))
			c.Close()
			return nil
		}
		return &prefixConn{Conn: c, r: r}
	}
	Serve(ctx, c, r, o.Backend, o.Level(), o.Who(c))
	return nil
}

func httpMethod(head []byte) (string, bool) {
	for _, m := range httpMethods {
		if bytes.HasPrefix(head, []byte(m+" ")) {
			return m, true
		}
	}
	return "", false
}

// prefixConn replays the bytes read while sniffing.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// SyscallConn exposes the socket (peer credentials for the audit log).
func (c *prefixConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	return sc.SyscallConn()
}

// chanListener hands sniffed HTTP connections to an http.Server.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
