package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/certs"
)

// Checker runs one check. Check must return promptly when ctx is cancelled
// (the result is then discarded).
type Checker interface {
	Check(ctx context.Context) Result
}

// Dialer opens connections; *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Timeouts are the inputs of HAProxy's check timeout rule.
type Timeouts struct {
	// Inter is the server's check interval.
	Inter time.Duration
	// Connect is `timeout connect` (0: unset).
	Connect time.Duration
	// Check is `timeout check` (0: unset).
	Check time.Duration
}

// Split returns the connect timeout and the read timeout. With `timeout
// check` set, connect gets min(timeout connect, inter) and the read gets
// timeout check; otherwise inter covers connect and read together (whole is
// true: one deadline for both).
func (t Timeouts) Split() (connect, read time.Duration, whole bool) {
	inter := t.Inter
	if inter <= 0 {
		inter = DefaultInter
	}
	if t.Check > 0 {
		connect = inter
		if t.Connect > 0 && t.Connect < inter {
			connect = t.Connect
		}
		return connect, t.Check, false
	}
	return inter, inter, true
}

// TCPCheck passes when a TCP connection to Addr succeeds (HAProxy's default
// check).
type TCPCheck struct {
	Addr     string
	Timeouts Timeouts
	// Dialer defaults to a plain *net.Dialer.
	Dialer Dialer
	// SendProxy sends a PROXY protocol header (1 or 2) after connecting
	// (HAProxy's check-send-proxy); 0: none.
	SendProxy int
	// TLS runs a TLS handshake after connecting (HAProxy's check-ssl, or
	// the server's ssl): the check passes with L6OK when it succeeds, and
	// fails with L6RSP (the reason in Info) or L6TOUT; nil: plain TCP.
	TLS *tls.Config
}

// Check implements Checker.
func (c *TCPCheck) Check(ctx context.Context) Result {
	start := time.Now()
	connectTO, _, _ := c.Timeouts.Split()
	conn, r := dial(ctx, c.Dialer, c.Addr, start.Add(connectTO), c.SendProxy, c.TLS)
	if conn != nil {
		conn.Close()
		r = Result{Code: L4OK}
		if c.TLS != nil {
			r.Code = L6OK
		}
	}
	r.Duration = time.Since(start)
	return r
}

// dial connects before deadline; on failure it returns the L4 result.
// With tlsCfg, the TLS handshake follows under the same deadline.
func dial(ctx context.Context, d Dialer, addr string, deadline time.Time, sendProxy int, tlsCfg *tls.Config) (net.Conn, Result) {
	if d == nil {
		d = &net.Dialer{}
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err == nil && sendProxy != 0 {
		if err = writeProxyHeader(conn, sendProxy, deadline); err != nil {
			conn.Close()
			return nil, Result{Code: L4CON, Info: errInfo(err)}
		}
	}
	if err == nil && tlsCfg != nil {
		return handshake(ctx, conn, tlsCfg, deadline)
	}
	if err == nil {
		return conn, Result{}
	}
	if ctx.Err() != nil {
		return nil, Result{Code: SOCKERR, Info: "aborted"}
	}
	if isTimeout(err) {
		return nil, Result{Code: L4TOUT}
	}
	return nil, Result{Code: L4CON, Info: errInfo(err)}
}

// handshake runs the client TLS handshake on conn before deadline.
func handshake(ctx context.Context, conn net.Conn, cfg *tls.Config, deadline time.Time) (net.Conn, Result) {
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := tc.HandshakeContext(hctx)
	if err == nil {
		return tc, Result{}
	}
	conn.Close()
	switch {
	case ctx.Err() != nil:
		return nil, Result{Code: SOCKERR, Info: "aborted"}
	case isTimeout(err):
		return nil, Result{Code: L6TOUT}
	}
	return nil, Result{Code: L6RSP, Info: info(certs.ServerFailure(err))}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func errInfo(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "Connection reset by peer"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "No route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "Network is unreachable"
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return info(se.Err.Error())
	}
	return info(err.Error())
}
