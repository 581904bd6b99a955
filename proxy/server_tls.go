package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/certs"
)

// TLS to servers (Server.TLS).
//
// A TLS server connection is a *tls.Conn over a *net.TCPConn from
// net.Dialer (crypto/tls needs a net.Conn; the lean dialer's *os.File is
// not one), wrapped in tlsServer, whose SyscallConn fails: the exchange
// then never uses sendAwait's raw write-and-wait, and reads and writes
// go through crypto/tls. Tunnels (WebSocket, mode tcp) copy through it
// with copyIdle instead of splice(2). Plain servers keep the raw-descriptor
// path: the only added test on it is x.srv.tls != nil.
//
// Kept-alive TLS connections go back to the server's idle pool as plain
// ones. With a per-request SNI (SNIHost, SNIFrontend) the pool is split by
// name (connPool.named), so that a connection made for one name never
// carries a request for another. New connections resume the TLS session
// of earlier ones through the server's session cache (serverShared.sess),
// which survives reloads that leave the server's TLS settings unchanged.

// serverTLS is a server's compiled TLS settings.
type serverTLS struct {
	cfg    *tls.Config // ServerName set for SNIFixed
	sni    SNI
	perReq bool   // SNIHost or SNIFrontend: the name is chosen per request
	vhost  string // Options.VerifyHost: the name verified, whatever the SNI
}

// sessionCacheSize is the number of TLS sessions kept per server (one per
// name it is reached under).
const sessionCacheSize = 64

// maxSNIPools bounds the names a server keeps idle connections for: the
// Host header is the client's to choose, so beyond this many names new
// connections are not pooled (closed after their exchange).
const maxSNIPools = 64

func compileServerTLS(st *ServerTLS, sh *serverShared) (*serverTLS, error) {
	o := st.Options
	o.ServerName = ""
	if st.SNI.From == SNIFixed {
		if st.SNI.Name == "" {
			return nil, fmt.Errorf("sni: empty fixed name")
		}
		o.ServerName = st.SNI.Name
	}
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	cfg.ClientSessionCache = sh.sess
	return &serverTLS{cfg: cfg, sni: st.SNI, perReq: st.SNI.From == SNIHost || st.SNI.From == SNIFrontend, vhost: o.VerifyHost}, nil
}

// tlsServer is the conn of a TLS server connection: no raw descriptor,
// so that every read and write goes through crypto/tls.
type tlsServer struct{ *tls.Conn }

func (tlsServer) SyscallConn() (syscall.RawConn, error) { return nil, errNoRawTLS }

// requestSNI is the name a per-request SNI sends for the request in hand:
// the Host header without its port, or the client's own SNI.
func (cc *clientConn) requestSNI(t *serverTLS) []byte {
	if t.sni.From == SNIFrontend {
		if cc.tls != nil {
			return cc.tls.sni
		}
		return nil
	}
	return hostName(cc.req.Host)
}

// hostName strips the port (and IPv6 brackets) from a Host value.
func hostName(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// dialTLS opens a TLS connection to the exchange's server: TCP connect
// (and PROXY header) under the connect timeout, then the handshake under
// a connect timeout of its own, with x.sni as the name for a per-request
// SNI.
func (cc *clientConn) dialTLS(x *exchange) (conn, error) {
	s := x.srv
	c, err := dialServer(s.addr, dialAddr{}, x.be.connect)
	if err != nil {
		return nil, err
	}
	if s.sendProxy != 0 {
		if err := sendProxyHeader(c, s.sendProxy, cc.src, orLocal(cc.dst, cc.c), x.be.connect); err != nil {
			c.Close()
			return nil, err
		}
	}
	return cc.e.handshakeServer(c.(*net.TCPConn), x.be, s, string(x.sni))
}

// handshakeServer runs the client handshake on c, bounded by the
// backend's connect timeout; a failure closes c, is counted in the
// server's stats and logged (rate-limited) with its reason.
func (e *Engine) handshakeServer(c *net.TCPConn, be *backend, s *server, sni string) (conn, error) {
	cfg := s.tls.cfg
	if s.tls.perReq {
		cfg = certs.WithServerName(cfg, sni, s.tls.vhost)
	}
	tc := tls.Client(newRawSock(c), cfg)
	if be.connect > 0 {
		c.SetDeadline(time.Now().Add(be.connect))
	}
	if err := tc.Handshake(); err != nil {
		c.Close()
		e.serverTLSFailed(be, s, cfg.ServerName, err)
		return nil, fmt.Errorf("ssl handshake with %s: %w", s.addr, err)
	}
	s.sh.st.tlsSrvOK.Add(1)
	c.SetDeadline(time.Time{})
	return tlsServer{tc}, nil
}

// serverTLSFailed counts a failed handshake with s and logs it
// (rate-limited) with its reason.
func (e *Engine) serverTLSFailed(be *backend, s *server, sni string, err error) {
	s.sh.st.tlsSrvFail[srvReasonIndex(certs.ClassifyServer(err))].Add(1)
	if !e.stopping.Load() && srvTLSLog.allow(time.Now()) {
		e.log.Warn("SSL handshake failure", "backend", be.name, "server", s.name, "addr", s.addr, "sni", sni, "reason", certs.ServerFailure(err))
	}
}

// refusedAfterHandshake reports whether err, from the first read of a
// fresh TLS server connection before any byte of answer, is the server
// refusing the session: a TLS alert. With TLS 1.3 the client's side of
// the handshake ends before the server has checked the client's
// certificate, so a server that requires one (and gets none, or one it
// does not accept) says so with an alert on the first read. lbd counts
// it as a failed handshake, as it would be with TLS 1.2.
func refusedAfterHandshake(x *exchange, err error) bool {
	return x.srv.tls != nil && !x.reused && certs.IsAlert(err)
}

// alertProbeWait bounds the read that looks for a server's refusal after
// a failed write (refusalAfterWrite).
const alertProbeWait = 50 * time.Millisecond

// refusalAfterWrite: when sending the request on a fresh TLS server
// connection failed, the server may have refused the session (TLS 1.3:
// after lbd's side of the handshake) and closed while lbd was still
// writing a large request; its alert may then still be readable. It
// returns that alert, or err unchanged (also for a failure of the
// client's side, a reused or a plain connection).
func refusalAfterWrite(x *exchange, err error) error {
	var ce *copyErr
	if x.srv.tls == nil || x.reused || (errors.As(err, &ce) && ce.read) {
		return err
	}
	tc, ok := x.sconn.(tlsServer)
	if !ok {
		return err
	}
	tc.SetReadDeadline(time.Now().Add(alertProbeWait))
	var b [1]byte
	if _, rerr := tc.Read(b[:]); certs.IsAlert(rerr) {
		return rerr
	}
	return err
}

// serverRefusedTLS handles a refusal seen by refusedAfterHandshake: the
// connection is closed, and counted and logged as a failed handshake and
// a connection error (the request never reached the server's HTTP).
func (cc *clientConn) serverRefusedTLS(x *exchange, err error) {
	x.sconn.Close()
	s, be := x.srv, x.be
	s.sh.st.errConn.Add(1)
	be.st.errConn.Add(1)
	sni := s.tls.cfg.ServerName
	if s.tls.perReq {
		sni = string(x.sni)
	}
	cc.e.serverTLSFailed(be, s, sni, err)
}

// numSrvTLSReasons is len(certs.ServerReasons), for the failure counters.
const numSrvTLSReasons = 4

func srvReasonIndex(r certs.Reason) int { return reasonSlot(certs.ServerReasons, r) }

// tlsSrvFailures returns a server's failed handshakes: the total and the
// count of each reason.
func (c *counters) tlsSrvFailures() (uint64, map[string]uint64) {
	var total uint64
	m := make(map[string]uint64, numSrvTLSReasons)
	for i, r := range certs.ServerReasons {
		n := c.tlsSrvFail[i].Load()
		m[string(r)] = n
		total += n
	}
	return total, m
}

// srvTLSLog bounds the server handshake failure lines as tlsLog does the
// clients'.
var srvTLSLog tlsLogGate

// sameServerTLS: a reload that changes a server's TLS settings gets a new
// idle pool (connections verified under the old settings are not reused).
func sameServerTLS(a, b *ServerTLS) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
