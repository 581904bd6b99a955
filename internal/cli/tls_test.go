package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs/certstest"
	"github.com/lbd-ha/lbd/internal/control"
)

// TestExampleHTTPSBlock: the HTTPS part of packaging/lbd.yaml, shipped
// commented out (it needs a certificate), passes lbd check once uncommented
// with a certificate in place; an expired one is a warning, not an error.
func TestExampleHTTPSBlock(t *testing.T) {
	src, err := os.ReadFile("../../packaging/lbd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certstest.Write(t, filepath.Join(dir, "www.pem"), certstest.Spec{Names: []string{"www.example.com"}})
	certstest.Write(t, filepath.Join(dir, "old.pem"), certstest.Spec{Names: []string{"old.example.com"}, NotAfter: time.Now().Add(-time.Hour)})
	var b strings.Builder
	n := 0
	for _, line := range strings.SplitAfter(string(src), "\n") {
		trim := strings.TrimLeft(line, " ")
		// Commented YAML ("#- x", "#  key:", "#key:"), not prose ("# text").
		if strings.HasPrefix(trim, "#") && len(trim) > 2 && (trim[1] != ' ' || trim[2] == ' ') && trim[1] != '\n' {
			line = line[:len(line)-len(trim)] + trim[1:]
			n++
		}
		b.WriteString(line)
	}
	if n < 8 {
		t.Fatalf("found %d commented YAML lines in the example, want the HTTPS bind and the redirect", n)
	}
	y := strings.ReplaceAll(b.String(), "[/etc/lbd/certs/]", "["+dir+"/]")
	p := filepath.Join(t.TempDir(), "lbd.yaml") // not in the crt directory
	os.WriteFile(p, []byte(y), 0o600)
	var out, errb bytes.Buffer
	if code := LBD([]string{"check", "-c", p}, &out, &errb); code != 0 || !strings.Contains(out.String(), "OK") {
		t.Fatalf("check the uncommented HTTPS example: %d %s %s\n%s", code, out.String(), errb.String(), y)
	}
	if !strings.Contains(errb.String(), "warning: ") || !strings.Contains(errb.String(), "old.pem") || !strings.Contains(errb.String(), "expired") {
		t.Errorf("expired certificate warning missing: %q", errb.String())
	}
}

func TestRenderCerts(t *testing.T) {
	now := time.Now()
	cs := []control.CertStatus{
		{Frontend: "shop", Bind: "*:443", File: "/c/a.pem", Names: []string{"a.example.com"}, Issuer: "CN=R11", NotAfter: now.Add(90 * 24 * time.Hour), DaysLeft: 90, KeyType: "ECDSA P-256", Default: true},
		{Frontend: "shop", Bind: "*:443", File: "/c/b.pem", Names: []string{"b.example.com"}, Issuer: "CN=R10", NotAfter: now.Add(5 * 24 * time.Hour), DaysLeft: 5, KeyType: "RSA 2048"},
	}
	var b bytes.Buffer
	renderCerts(&b, cs, false)
	if !strings.Contains(b.String(), "a.example.com") || !strings.Contains(b.String(), "RSA 2048") || !strings.Contains(b.String(), "DAYS") {
		t.Errorf("cert list:\n%s", b.String())
	}
	if strings.Contains(b.String(), "ACME") {
		t.Errorf("an ACME column without tls.acme certificates:\n%s", b.String())
	}
	// Certificates that tls.acme manages show its state.
	acmeCS := append([]control.CertStatus{}, cs...)
	acmeCS[0].ACME = "valid"
	acmeCS[1].ACME, acmeCS[1].ACMEFailingSince, acmeCS[1].ACMELastError = "failing", now, "connection refused"
	b.Reset()
	renderCerts(&b, acmeCS, false)
	if !strings.Contains(b.String(), "ACME") || !strings.Contains(b.String(), " valid") || !strings.Contains(b.String(), "failing since ") ||
		!strings.Contains(b.String(), ": connection refused") {
		t.Errorf("cert list with ACME:\n%s", b.String())
	}
	st := &control.Status{Certificates: cs, Frontends: []control.FrontendStatus{{Name: "shop", Mode: "http", TLSHandshakes: 7, TLSFailures: map[string]uint64{"timeout": 2}}}}
	b.Reset()
	renderStatus(&b, st, false, now)
	s := b.String()
	if !strings.Contains(s, "WARNING certificate /c/b.pem (b.example.com): expires in 5 days") || strings.Contains(s, "/c/a.pem") {
		t.Errorf("status warnings:\n%s", s)
	}
	if !strings.Contains(s, "shop TLS: 7 handshakes, failed: timeout 2") {
		t.Errorf("status TLS line:\n%s", s)
	}
}

// TestRenderServerTLS: lbctl status shows a TLS server's handshake
// failures when there are some, and nothing for one without failures or
// a plain server.
func TestRenderServerTLS(t *testing.T) {
	st := &control.Status{Backends: []control.BackendStatus{{Name: "app", Mode: "http", Usable: true, Servers: []control.ServerStatus{
		{Name: "a1", State: "UP", Weight: 1, TLS: true, TLSHandshakes: 12, TLSFailures: 3, ErrorsConn: 3, TLSFailureReasons: map[string]uint64{"timeout": 1, "refused": 2}},
		{Name: "a2", State: "UP", Weight: 1, TLS: true, TLSHandshakes: 5},
		{Name: "plain", State: "UP", Weight: 1},
	}}}}
	var b bytes.Buffer
	renderStatus(&b, st, false, time.Now())
	s := b.String()
	if !strings.Contains(s, "    a1 TLS: 12 handshakes, 3 failed (timeout 1, refused 2)\n") {
		t.Errorf("no TLS failure line for a1:\n%s", s)
	}
	if strings.Contains(s, "a2 TLS") || strings.Contains(s, "plain TLS") {
		t.Errorf("TLS line for a server without failures:\n%s", s)
	}
}
