package proxy

import (
	"path/filepath"
	"testing"

	"github.com/lbd-ha/lbd/certs"
)

// TestServerTLSHostIsAddress: with sni req.hdr(host) and verify required,
// a Host that is an IP address is sent as no SNI (crypto/tls, RFC 6066),
// and the certificate must still be valid for that address: one made for
// other names only is refused (503), as for a Host it does not cover.
func TestServerTLSHostIsAddress(t *testing.T) {
	o := newTLSOrigin(t, nil, "a.test")
	cfg := testConfig(tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, SNI{From: SNIHost}))
	cfg.Backends[0].Retries = 0
	_, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
	if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "tls hello a.test" {
		t.Fatalf("a.test: %d %q", res.StatusCode, body)
	}
	for _, h := range []string{"127.0.0.1", "127.0.0.1:443", "[::1]:443"} {
		rc := dialRaw(t, addr)
		rc.send("GET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n")
		if res, body := rc.resp("GET"); res.StatusCode != 503 {
			t.Errorf("Host %s, certificate for a.test only: %d %q, want 503", h, res.StatusCode, body)
		}
	}
}

// TestServerTLSReloadBadCAFile: a reload whose ca_file cannot be read is
// refused, and the running configuration keeps serving through the
// server with its verified connections.
func TestServerTLSReloadBadCAFile(t *testing.T) {
	o := newTLSOrigin(t, nil, "a.test")
	fixed := SNI{From: SNIFixed, Name: "a.test"}
	cfg := testConfig(tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile}, fixed))
	e, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	if res, body := rc.get("/"); res.StatusCode != 200 || body != "tls hello a.test" {
		t.Fatalf("before: %d %q", res.StatusCode, body)
	}
	bad := testConfig(tlsSrv("s1", o.addr, certs.ClientOptions{Verify: true, CAFile: filepath.Join(t.TempDir(), "missing.pem")}, fixed))
	bad.Frontends = cfg.Frontends
	if err := e.Reload(bad); err == nil {
		t.Fatal("reload with a missing ca_file accepted")
	}
	for _, c := range []*rawClient{rc, dialRaw(t, addr)} {
		if res, body := c.get("/"); res.StatusCode != 200 || body != "tls hello a.test" {
			t.Fatalf("after the refused reload: %d %q", res.StatusCode, body)
		}
	}
}
