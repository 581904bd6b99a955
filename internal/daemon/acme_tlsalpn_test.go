package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/acme/acmetest"
	"github.com/lbd-ha/lbd/internal/control"
)

// TestACMETLSALPN: with challenges [tls-alpn-01] and no HTTP frontend, the
// TLS bind (on Pebble's TLS-ALPN-01 port) answers the validation and lbd
// obtains the certificate, then serves it; an "acme-tls/1" handshake
// with no challenge pending gets the ordinary certificate and no HTTP.
func TestACMETLSALPN(t *testing.T) {
	lab := acmetest.Start(t)
	st := t.TempDir()
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", lab.TLSPort)
	_, certs := ACMEDirs(st)
	td := startDaemon(t, fmt.Sprintf(`global:
  control_socket: %%SOCK%%
frontends:
  - name: web
    bind: [{address: '%s', ssl: {crt: ['%s/'], alpn: [h2, http/1.1]}}]
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
    challenges: [tls-alpn-01]
    state_dir: %s
`, tlsAddr, certs, lab.DirURL, lab.CAFile, st))
	f := filepath.Join(certs, "www.lbd.test.pem")
	acmeWaitFor(t, 30*time.Second, "certificate by tls-alpn-01", func() bool { _, err := os.Stat(f); return err == nil })
	// Nothing answers HTTP-01 (no HTTP frontend, certmagic's own server
	// off): the CA's validation handshakes reached the TLS bind, counted
	// as handshakes.
	c := &control.Client{Socket: td.sock, Timeout: time.Minute}
	var validations uint64
	waitStatus(t, c, func(st *control.Status) bool {
		validations = st.Frontends[0].TLSHandshakes
		return validations >= 1
	})
	t.Logf("certificate obtained by tls-alpn-01: %d validation handshakes on the TLS bind", validations)
	served := func(protos ...string) (string, string) {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "www.lbd.test", InsecureSkipVerify: true, NextProtos: protos})
		if err != nil {
			return "err: " + err.Error(), ""
		}
		defer conn.Close()
		cs := conn.ConnectionState()
		return fmt.Sprintf("%x", sha256.Sum256(cs.PeerCertificates[0].Raw)), cs.NegotiatedProtocol
	}
	acmeWaitFor(t, 10*time.Second, "ACME certificate served", func() bool { s, _ := served("http/1.1"); return s == leafSum(t, f) })
	// No challenge pending: the ordinary certificate, ALPN acme-tls/1, and
	// the connection closed after the handshake, not counted as a failure.
	fails := func() (n uint64) {
		st, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range st.Frontends[0].TLSFailures {
			n += v
		}
		return n
	}
	fails0 := fails()
	conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "www.lbd.test", InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "acme-tls/1" {
		conn.Close()
		t.Fatalf("negotiated %q, want acme-tls/1", p)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: www.lbd.test\r\n\r\n"))
	if n, err := conn.Read(make([]byte, 512)); err == nil {
		t.Fatalf("an acme-tls/1 connection answered %d bytes, want it closed", n)
	}
	if n := fails(); n != fails0 {
		t.Errorf("TLS failures %d after an acme-tls/1 handshake, want %d", n, fails0)
	}
}
