package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
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

// TestACMETLSALPNPair: two paired daemons with challenges [tls-alpn-01];
// the name resolves to 127.0.0.1, node a's TLS bind (b's is on
// 127.0.0.2), so when b orders, a answers from the challenge b wrote to
// the replicated store. One order, the same certificate on both nodes.
func TestACMETLSALPNPair(t *testing.T) {
	lab := acmetest.Start(t)
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no 127.0.0.2 on loopback: %v", err)
	} else {
		ln.Close()
	}
	stA, stB, addrA, addrB, idA, idB := pinnedPair(t)
	conf := func(ip, listen, dir string) string {
		_, certs := ACMEDirs(dir)
		return fmt.Sprintf(`global:
  control_socket: %%SOCK%%
frontends:
  - name: web
    bind: [{address: '%s:%d', ssl: {crt: ['%s/']}}]
    default_backend: app
backends:
  - name: app
    servers:
      - name: web01
        address: 127.0.0.1:1
    retries: 0
pair:
  listen: %s
  state_dir: %s
  interval: 100ms
  timeout: 300ms
tls:
  acme:
    directory: %s
    ca: %s
    certificates: [[www.lbd.test]]
    challenges: [tls-alpn-01]
    lock_ttl: 2s
`, ip, lab.TLSPort, certs, listen, dir, lab.DirURL, lab.CAFile)
	}
	a := startDaemon(t, conf("127.0.0.1", addrA, stA))
	b := startDaemon(t, conf("127.0.0.2", addrB, stB))
	_, certsA := ACMEDirs(stA)
	_, certsB := ACMEDirs(stB)
	fa, fb := filepath.Join(certsA, "www.lbd.test.pem"), filepath.Join(certsB, "www.lbd.test.pem")
	ca := &control.Client{Socket: a.sock, Timeout: time.Minute}
	holder := ""
	acmeWaitFor(t, 40*time.Second, "certificate on both nodes", func() bool {
		if st, err := ca.ACMEStatus(context.Background()); err == nil && len(st.Certificates) == 1 && st.Certificates[0].LockHolder != "" {
			holder = st.Certificates[0].LockHolder
		}
		_, ea := os.Stat(fa)
		_, eb := os.Stat(fb)
		return ea == nil && eb == nil
	})
	if leafSum(t, fa) != leafSum(t, fb) {
		t.Fatal("the nodes' certificates differ")
	}
	orderer := "unknown"
	switch holder {
	case idA.Fingerprint[:16]:
		orderer = "a"
	case idB.Fingerprint[:16]:
		orderer = "b (a answered from the replicated store)"
	}
	time.Sleep(time.Second)
	if n := lab.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	for name, td := range map[string]*testDaemon{"a": a, "b": b} {
		st, err := (&control.Client{Socket: td.sock}).Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node %s: %d TLS handshakes", name, st.Frontends[0].TLSHandshakes)
		if name == "a" && st.Frontends[0].TLSHandshakes == 0 {
			t.Errorf("node a's TLS bind saw no validation")
		}
	}
	t.Logf("one order, by node %s; both nodes have the certificate", orderer)
}
