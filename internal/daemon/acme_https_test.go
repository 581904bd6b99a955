package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/acme/acmetest"
	"github.com/lbd-ha/lbd/internal/control"
)

// TestACMEServedByTLSBind: a TLS bind whose crt is the ACME directory
// serves the ACME certificate, and the renewed one after `lbctl acme
// renew` (hot swap through the reload callback); `lbctl cert list` lists it.
func TestACMEServedByTLSBind(t *testing.T) {
	lab := acmetest.Start(t)
	st := t.TempDir()
	tlsAddr := freeAddr(t)
	base := fmt.Sprintf(`global:
  control_socket: %%SOCK%%
frontends:
  - name: web
    bind: ['127.0.0.1:%d'%%TLS%%]
    default_backend: app
backends:
  - name: app
    retries: 0
    servers:
      - name: web01
        address: 127.0.0.1:1
tls:
  acme:
    directory: %s
    ca: %s
    certificates: [[www.lbd.test]]
    state_dir: %s
`, lab.HTTPPort, lab.DirURL, lab.CAFile, st)
	cfg0 := acmeReplace(base, "%TLS%", "")
	td := startDaemon(t, cfg0)
	_, certs := ACMEDirs(st)
	f := filepath.Join(certs, "www.lbd.test.pem")
	acmeWaitFor(t, 30*time.Second, "certificate", func() bool { _, err := os.Stat(f); return err == nil })
	// add the TLS bind
	cfg1 := acmeReplace(base, "%TLS%", ", {address: '"+tlsAddr+"', ssl: {crt: ['"+certs+"/']}}")
	cfg1 = acmeReplace(cfg1, "%SOCK%", td.sock)
	os.WriteFile(td.cfg, []byte(cfg1), 0o600)
	c := &control.Client{Socket: td.sock, Timeout: time.Minute}
	if r, err := c.Reload(context.Background()); err != nil || !r.OK {
		t.Fatalf("reload: %+v %v", r, err)
	}
	served := func() string {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "www.lbd.test", InsecureSkipVerify: true})
		if err != nil {
			return "err: " + err.Error()
		}
		defer conn.Close()
		return fmt.Sprintf("%x", sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw))
	}
	first := served()
	if first != leafSum(t, f) {
		t.Fatalf("served %s, file %s", first, leafSum(t, f))
	}
	if err := c.ACMERenew(context.Background(), "www.lbd.test"); err != nil {
		t.Fatal(err)
	}
	acmeWaitFor(t, 10*time.Second, "renewed certificate served", func() bool { return served() == leafSum(t, f) && served() != first })
	t.Logf("served the ACME certificate, and the renewed one after lbctl acme renew")
	certsList, err := c.Certs(context.Background())
	if err != nil || len(certsList) != 1 || certsList[0].File != f || certsList[0].ACME != "valid" {
		t.Fatalf("cert list: %+v %v, want %s with ACME state valid", certsList, err, f)
	}
}

func acmeReplace(s, a, b string) string {
	for {
		i := acmeIndex(s, a)
		if i < 0 {
			return s
		}
		s = s[:i] + b + s[i+len(a):]
	}
}

func acmeIndex(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestACMEFirstStartEmptyDir: lbd starts with a TLS bind whose crt is the
// ACME directory before any certificate exists (the directory is not even
// there): the daemon starts and makes the directory (0700), the bind
// listens, handshakes fail with an alert (no_certificate) until the first
// certificate arrives, and the reload ACME triggers then serves it.
func TestACMEFirstStartEmptyDir(t *testing.T) {
	lab := acmetest.Start(t)
	st := t.TempDir()
	tlsAddr := freeAddr(t)
	_, certs := ACMEDirs(st)
	td := startDaemon(t, fmt.Sprintf(`global:
  control_socket: %%SOCK%%
frontends:
  - name: web
    bind: ['127.0.0.1:%d', {address: '%s', ssl: {crt: ['%s/']}}]
    default_backend: app
backends:
  - name: app
    retries: 0
    servers:
      - name: web01
        address: 127.0.0.1:1
tls:
  acme:
    directory: %s
    ca: %s
    certificates: [[www.lbd.test]]
    state_dir: %s
`, lab.HTTPPort, tlsAddr, certs, lab.DirURL, lab.CAFile, st))
	if fi, err := os.Stat(certs); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("ACME certificate directory after start: %v %v", fi, err)
	}
	f := filepath.Join(certs, "www.lbd.test.pem")
	dial := func() (string, error) {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "www.lbd.test", InsecureSkipVerify: true})
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return fmt.Sprintf("%x", sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)), nil
	}
	c := &control.Client{Socket: td.sock, Timeout: time.Minute}
	if _, err := dial(); err != nil {
		// Pebble may already have issued; when not, the handshake fails
		// with an alert and is counted as no_certificate.
		if _, serr := os.Stat(f); serr != nil && !strings.Contains(err.Error(), "internal error") {
			t.Fatalf("handshake before the first certificate: %v, want an internal_error alert", err)
		}
		t.Logf("before the first certificate: %v", err)
		waitStatus(t, c, func(s *control.Status) bool { return s.Frontends[0].TLSFailures["no_certificate"] >= 1 })
	} else {
		t.Logf("the certificate arrived before the first handshake")
	}
	acmeWaitFor(t, 30*time.Second, "certificate", func() bool { _, err := os.Stat(f); return err == nil })
	acmeWaitFor(t, 10*time.Second, "the ACME certificate served", func() bool { s, err := dial(); return err == nil && s == leafSum(t, f) })
}
