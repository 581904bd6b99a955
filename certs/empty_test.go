package certs

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAllowEmpty: a directory of Options.AllowEmpty may be empty (or
// missing); the store then serves nothing, handshakes fail with
// ErrNoCertificateYet (ReasonNoCertificate), and a Reload after a file
// appears serves it. Any other empty directory stays an error.
func TestAllowEmpty(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "acme", "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := New(Options{Crt: []string{dir}}); err == nil || !strings.Contains(err.Error(), "holds no certificate file") {
		t.Fatalf("empty directory without AllowEmpty: %v", err)
	}
	other := t.TempDir()
	if _, _, err := New(Options{Crt: []string{dir, other}, AllowEmpty: []string{dir + "/"}}); err == nil || !strings.Contains(err.Error(), other) {
		t.Fatalf("an empty directory not in AllowEmpty must stay an error: %v", err)
	}

	s, warns, err := New(Options{Crt: []string{dir + "/"}, AllowEmpty: []string{dir}})
	if err != nil {
		t.Fatalf("AllowEmpty: %v", err)
	}
	if len(warns) != 1 || !warns[0].Empty || warns[0].File != dir+"/" {
		t.Fatalf("warnings: %+v", warns)
	}
	if _, err := servedCN(t, s, "site.example.com"); !errors.Is(err, ErrNoCertificateYet) || Classify(err) != ReasonNoCertificate {
		t.Fatalf("GetCertificate on an empty store: %v (%s)", err, Classify(err))
	}
	if len(s.Info()) != 0 {
		t.Fatalf("Info: %+v", s.Info())
	}

	// A real handshake fails cleanly (an alert, a classified reason).
	cfg, _, err := ServerOptions{}.Config(s)
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, cfg, 5*time.Second)
	ca := newCA(t, "Test CA")
	if _, err := dial(srv.addr, &tls.Config{ServerName: "site.example.com", RootCAs: pool(ca)}); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("client handshake: %v, want an internal_error alert", err)
	}
	if herr := srv.result(t); Classify(herr) != ReasonNoCertificate {
		t.Fatalf("server handshake error %v classified %s", herr, Classify(herr))
	}

	// The certificate arrives: the reload serves it, to new handshakes.
	writeFile(t, dir, "site.example.com.pem", bundle(t, issue(t, ca, certSpec{cn: "site", names: []string{"site.example.com"}}), ca))
	if warns, err := s.Reload(); err != nil || len(warns) != 0 {
		t.Fatalf("Reload: %v %v", err, warns)
	}
	if cn, err := servedCN(t, s, "site.example.com"); err != nil || cn != "site" {
		t.Fatalf("after reload served %q (%v)", cn, err)
	}
	if st, err := dial(srv.addr, &tls.Config{ServerName: "site.example.com", RootCAs: pool(ca)}); err != nil || st.PeerCertificates[0].Subject.CommonName != "site" {
		t.Fatalf("handshake after reload: %v", err)
	}
	if herr := srv.result(t); herr != nil {
		t.Fatalf("server handshake after reload: %v", herr)
	}

	// A missing allowed directory counts as empty; a missing other one
	// is an error.
	gone := filepath.Join(root, "gone")
	if _, warns, err := New(Options{Crt: []string{gone}, AllowEmpty: []string{gone}}); err != nil || len(warns) != 1 || !warns[0].Empty {
		t.Fatalf("missing allowed directory: %v %+v", err, warns)
	}
	// strict-sni on an empty store: still "no certificate yet".
	s2, _, err := New(Options{Crt: []string{gone}, AllowEmpty: []string{gone}, StrictSNI: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servedCN(t, s2, ""); !errors.Is(err, ErrNoCertificateYet) {
		t.Fatalf("strict-sni empty store: %v", err)
	}
}
