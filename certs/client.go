package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// ClientOptions is how lbd speaks TLS to a server (HAProxy's `server ...
// ssl verify none|required ca-file F crt F`), for the proxy's server
// connections and the health checks. It is comparable: two equal values
// give equivalent configurations (a reload that leaves it equal keeps the
// connections made under it).
type ClientOptions struct {
	// Verify checks the server's certificate chain against the roots, and
	// its name against ServerName when there is one (HAProxy's verify
	// required, whose verifyhost defaults to the SNI), also when it is an
	// IP address, which is not sent as SNI. False: anything is accepted
	// (verify none).
	Verify bool
	// CAFile holds the PEM roots the chain must lead to; empty: the
	// system's roots (crypto/x509's SystemCertPool).
	CAFile string
	// ServerName is the SNI sent and the name verified; empty: no SNI (the
	// proxy sets it per connection when it comes from the request).
	ServerName string
	// VerifyHost, when set, is the name the certificate is verified
	// against instead of ServerName (HAProxy's verifyhost), whatever SNI
	// is sent or none; used only with Verify.
	VerifyHost string
	// CertFile is a client certificate presented to servers that ask for
	// one: a PEM file with the chain and the key, or the key in
	// CertFile+".key" (as bind certificates); empty: none.
	CertFile string
}

// ClientALPN is the only protocol offered to servers: they are spoken to in
// HTTP/1.1.
const ClientALPN = "http/1.1"

// Config builds the client configuration: TLS 1.2 and 1.3, ALPN
// http/1.1, the roots loaded from CAFile (or the system's), the client
// certificate. Verification runs in VerifyConnection (InsecureSkipVerify
// only turns off crypto/tls's own check, which would refuse a connection
// without SNI): the chain always, the name when there is one. The
// caller adds a ClientSessionCache.
func (o ClientOptions) Config() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{ClientALPN},
		ServerName:         o.ServerName,
		InsecureSkipVerify: true,
	}
	if o.CertFile != "" {
		c, err := loadClientCert(o.CertFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	if !o.Verify {
		return cfg, nil
	}
	var roots *x509.CertPool
	if o.CAFile != "" {
		var err error
		if roots, err = LoadCAFile(o.CAFile); err != nil {
			return nil, err
		}
	} else {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
	}
	cfg.RootCAs = roots // for WithServerName (crypto/tls's own check is off)
	cfg.VerifyConnection = verifier(roots, o.ServerName, o.VerifyHost)
	return cfg, nil
}

// WithServerName returns a copy of cfg (from Config) that sends name: the
// proxy's per-request SNI. The certificate is verified against name, or
// against verifyHost (the options' VerifyHost) when that is set.
func WithServerName(cfg *tls.Config, name, verifyHost string) *tls.Config {
	c := cfg.Clone()
	c.ServerName = name
	if c.VerifyConnection != nil {
		c.VerifyConnection = verifier(c.RootCAs, name, verifyHost)
	}
	return c
}

// verifier checks the chain against roots and the name: host when set
// (verifyhost), else the SNI sent, or name when none was sent for it:
// crypto/tls sends no SNI for an IP address (RFC 6066), and the
// certificate must still be valid for that address.
func verifier(roots *x509.CertPool, name, host string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		n := host
		if n == "" {
			n = cs.ServerName
		}
		if n == "" {
			n = name
		}
		return verifyServer(cs, roots, n)
	}
}

// verifyServer checks the server's chain against roots, and its name
// against name (none if empty).
func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return nil
}

// LoadCAFile reads a PEM file of CA certificates.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

func loadClientCert(path string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(path, path)
	if err == nil {
		return c, nil
	}
	c, err2 := tls.LoadX509KeyPair(path, path+".key")
	if err2 == nil {
		return c, nil
	}
	return tls.Certificate{}, fmt.Errorf("client certificate %s: %w", path, err)
}

// ServerFailure names why a handshake with a server failed, for the log
// line and the health check's status: "certificate verify failed: ..."
// for a certificate that does not verify, "handshake timeout", else the
// error's text.
func ServerFailure(err error) string {
	if detail, ok := verifyFailure(err); ok {
		return "certificate verify failed: " + detail
	}
	if isTimeout(err) {
		return "handshake timeout"
	}
	return err.Error()
}

// The reasons of a failed handshake with a server (ClassifyServer), with
// ReasonTimeout and ReasonOther.
const (
	ReasonBadServerCert Reason = "bad_server_cert" // the server's certificate did not verify (chain, name, dates)
	ReasonRefused       Reason = "refused"         // the server sent an alert (wants a client certificate, no common version or cipher, ...)
)

// ServerReasons are ClassifyServer's reasons, in a stable order.
var ServerReasons = []Reason{ReasonBadServerCert, ReasonTimeout, ReasonRefused, ReasonOther}

// ClassifyServer returns the reason of a failed handshake with a server
// (the client side of crypto/tls), or of the alert a TLS 1.3 server sends
// on the first read when it refuses the session after lbd's side of the
// handshake is done. nil gives "".
func ClassifyServer(err error) Reason {
	_, badCert := verifyFailure(err)
	switch {
	case err == nil:
		return ""
	case badCert:
		return ReasonBadServerCert
	case isTimeout(err):
		return ReasonTimeout
	case IsAlert(err):
		return ReasonRefused
	}
	return ReasonOther
}

// verifyFailure reports whether err is a failed verification of the
// server's certificate (chain, name, dates), with its detail.
func verifyFailure(err error) (string, bool) {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	switch {
	case errors.As(err, &hne):
		return hne.Error(), true
	case errors.As(err, &uae), errors.As(err, &cie):
		return strings.TrimPrefix(err.Error(), "tls: "), true
	case errors.As(err, &cve):
		return cve.Err.Error(), true
	}
	return "", false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// IsAlert reports whether err is a TLS alert received from the peer
// (crypto/tls reports one as a *net.OpError whose Op is "remote error";
// the alert type itself is not exported), e.g. a server refusing the
// session after a TLS 1.3 handshake because it wants a client
// certificate ("remote error: tls: certificate required").
func IsAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}
