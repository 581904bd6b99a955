package certs

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs/certstest"
)

// TestClientVerifiesIPName: with verify required and a server name that is
// an IP address (sni str(10.0.0.1), or a Host header holding an address),
// crypto/tls sends no SNI (RFC 6066 forbids addresses there), but the name
// must still be checked: a certificate valid for another name only is
// refused, as it is for a DNS name.
func TestClientVerifiesIPName(t *testing.T) {
	pem, addr := handshakeServer(t, "www.example.test")
	try := func(name string) error {
		cfg, err := ClientOptions{Verify: true, CAFile: pem, ServerName: name}.Config()
		if err != nil {
			t.Fatal(err)
		}
		return handshake(t, addr, cfg)
	}
	if err := try("www.example.test"); err != nil {
		t.Fatalf("right name: %v", err)
	}
	if err := try("other.test"); err == nil || ClassifyServer(err) != ReasonBadServerCert {
		t.Fatalf("wrong DNS name: %v", err)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "[::1]"} {
		if err := try(ip); err == nil || ClassifyServer(err) != ReasonBadServerCert {
			t.Errorf("name %s, certificate for www.example.test only: %v, want a bad_server_cert refusal", ip, err)
		}
	}
	// The same for a configuration cloned with a per-request name.
	cfg, err := ClientOptions{Verify: true, CAFile: pem}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, addr, WithServerName(cfg, "127.0.0.1", "")); err == nil || ClassifyServer(err) != ReasonBadServerCert {
		t.Errorf("per-request name 127.0.0.1: %v, want a bad_server_cert refusal", err)
	}
}

// TestClientVerifyHost: VerifyHost is the name the certificate is checked
// against, whatever SNI is sent (none, another name, a per-request one).
func TestClientVerifyHost(t *testing.T) {
	pem, addr := handshakeServer(t, "a.example.test")
	try := func(sni, host string, perReq bool) error {
		o := ClientOptions{Verify: true, CAFile: pem, VerifyHost: host}
		if !perReq {
			o.ServerName = sni
		}
		cfg, err := o.Config()
		if err != nil {
			t.Fatal(err)
		}
		if perReq {
			cfg = WithServerName(cfg, sni, host)
		}
		return handshake(t, addr, cfg)
	}
	for _, perReq := range []bool{false, true} {
		for _, sni := range []string{"", "other.test", "127.0.0.1"} {
			if err := try(sni, "a.example.test", perReq); err != nil {
				t.Errorf("sni %q per-request %v, verify host a.example.test: %v", sni, perReq, err)
			}
			if err := try(sni, "b.example.test", perReq); err == nil || ClassifyServer(err) != ReasonBadServerCert {
				t.Errorf("sni %q per-request %v, verify host b.example.test: %v, want bad_server_cert", sni, perReq, err)
			}
		}
	}
	// The SNI is still the one configured, not the verify host.
	if err := try("a.example.test", "", false); err != nil {
		t.Errorf("no verify host, sni a.example.test: %v", err)
	}
}

// handshakeServer serves TLS handshakes on loopback with a certificate for
// name until the test ends; it returns the certificate file (its own CA)
// and the address.
func handshakeServer(t *testing.T, name string) (pem, addr string) {
	t.Helper()
	pem = filepath.Join(t.TempDir(), "srv.pem")
	certstest.Write(t, pem, certstest.Spec{Names: []string{name}})
	kp, err := tls.LoadX509KeyPair(pem, pem)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{kp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return pem, ln.Addr().String()
}

// handshake runs one client handshake with cfg against addr.
func handshake(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return tls.Client(c, cfg).Handshake()
}
