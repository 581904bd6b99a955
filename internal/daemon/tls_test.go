package daemon

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs/certstest"
	"github.com/lbd-ha/lbd/internal/control"
)

func httpsNeedTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := "needs " + name + ": run `scripts/need.sh " + name + ":" + name + "` as root (or apt-get install " + name + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func httpsRun(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const tlsConfig = `global:
  control_socket: %SOCK%
  log:
    - {address: "%SYSLOG%", facility: local0}
sysctl:
  apply: false
defaults:
  options:
    httplog: true
    forwardfor: {}
frontends:
  - name: shop
    bind:
      - "%ADDR%"
      - address: "%TLS%"
        ssl:
          crt: ["%A%", "%B%"]
          alpn: [http/1.1]
    acls:
      - name: plainpath
        criterion: path_beg
        values: [/plain]
      - name: is_tls
        criterion: ssl_fc
    redirects:
      - scheme: https
        code: 301
        if: "!{ ssl_fc } !plainpath"
    use_backends:
      - backend: secure
        if: is_tls
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web01, address: "%B1%"}
  - name: secure
    cookie: {name: SERVERID, mode: insert, indirect: true, nocache: true}
    servers:
      - {name: web02, address: "%B2%", cookie: s2}
      - {name: web03, address: "%B3%", cookie: s3}
`

// leafSerial connects to addr with sni and returns the served
// certificate's serial number.
func leafSerial(t *testing.T, addr, sni string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("tls dial %s: %v", sni, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestHTTPS drives lbd's TLS bind with real clients: curl over HTTP/1.1,
// openssl s_client for SNI selection and a refused TLS 1.1, the redirect
// from the plain bind, ssl_fc routing, cookie persistence over TLS, the
// httplog "~", lbctl cert list, and certificate reloads under a bounded
// wrk load over HTTPS (0 socket errors; a broken file keeps the old
// certificate).
func TestHTTPS(t *testing.T) {
	curl, openssl, wrk := httpsNeedTool(t, "curl"), httpsNeedTool(t, "openssl"), httpsNeedTool(t, "wrk")
	dir := t.TempDir()
	aPEM, bPEM := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	certstest.Write(t, aPEM, certstest.Spec{Names: []string{"a.example.test"}})
	certstest.Write(t, bPEM, certstest.Spec{Names: []string{"b.example.test"}, RSA: true})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	b1, b2, b3 := newBackend(t, "web01"), newBackend(t, "web02"), newBackend(t, "web03")
	front, tlsAddr := freeAddr(t), freeAddr(t)
	cfg := strings.NewReplacer("%ADDR%", front, "%TLS%", tlsAddr, "%A%", aPEM, "%B%", bPEM, "%SYSLOG%", pc.LocalAddr().String(),
		"%B1%", b1.srv.Listener.Addr().String(), "%B2%", b2.srv.Listener.Addr().String(), "%B3%", b3.srv.Listener.Addr().String()).Replace(tlsConfig)
	td := startDaemon(t, cfg)
	c := &control.Client{Socket: td.sock}
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	base := "https://a.example.test:" + tlsPort
	resolve := "a.example.test:" + tlsPort + ":127.0.0.1"

	// curl --http1.1 over TLS reaches the ssl_fc backend.
	out, err := httpsRun(t, curl, "-sS", "--http1.1", "-k", "--resolve", resolve, base+"/plain")
	if err != nil || !regexp.MustCompile(`^served by web0[23]$`).MatchString(out) {
		t.Fatalf("curl over TLS: %v %q", err, out)
	}
	// The plain bind: 301 to https, except /plain (backend app).
	out, err = httpsRun(t, curl, "-sS", "-I", "http://"+front+"/x?y=1")
	if err != nil || !strings.Contains(out, "301 Moved Permanently") || !strings.Contains(out, "Location: https://"+front+"/x?y=1") {
		t.Fatalf("curl -I on the plain bind: %v\n%s", err, out)
	}
	if out, err = httpsRun(t, curl, "-sS", "http://"+front+"/plain"); err != nil || out != "served by web01" {
		t.Fatalf("plain /plain: %v %q", err, out)
	}

	// Cookie persistence over TLS: every request after the first goes to
	// the server the inserted cookie names.
	jar := filepath.Join(dir, "jar")
	first, err := httpsRun(t, curl, "-sS", "--http1.1", "-k", "--resolve", resolve, "-c", jar, base+"/")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		out, err := httpsRun(t, curl, "-sS", "--http1.1", "-k", "--resolve", resolve, "-b", jar, base+"/")
		if err != nil || out != first {
			t.Fatalf("request %d with the cookie: %q, first was %q (%v)", i, out, first, err)
		}
	}

	// SNI selection with openssl s_client.
	for _, sni := range []string{"a.example.test", "b.example.test"} {
		out, err := httpsRun(t, openssl, "s_client", "-connect", tlsAddr, "-servername", sni)
		if err != nil || !strings.Contains(out, "CN = "+sni) {
			t.Fatalf("s_client -servername %s: %v\n%s", sni, err, out)
		}
	}
	// TLS 1.1 is refused by lbd (the client is allowed to offer it).
	empty := filepath.Join(dir, "empty.cnf")
	os.WriteFile(empty, nil, 0o600)
	cmd := exec.Command(openssl, "s_client", "-connect", tlsAddr, "-servername", "a.example.test", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+empty)
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("TLS 1.1 accepted:\n%s", out)
	}
	waitStatus(t, c, func(st *control.Status) bool {
		return st.Frontends[0].TLSFailures["protocol_version"] == 1 && st.Frontends[0].TLSHandshakes >= 9
	})

	// The httplog line marks the TLS frontend with "~".
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no httplog line with shop~: %v", err)
		}
		if line := string(buf[:n]); strings.Contains(line, " shop~ secure/web0") {
			break
		}
	}

	// lbctl cert list's route.
	cs, err := c.Certs(context.Background())
	if err != nil || len(cs) != 2 || cs[0].File != aPEM || !cs[0].Default || cs[1].KeyType != "RSA 2048" || cs[0].DaysLeft < 300 {
		t.Fatalf("certs: %+v %v", cs, err)
	}

	// Reload under a bounded wrk load over HTTPS: a new a.pem is served
	// after the reload; then a broken a.pem keeps it serving.
	oldSerial := leafSerial(t, tlsAddr, "a.example.test")
	wrkDone := make(chan string, 1)
	go func() {
		out, _ := httpsRun(t, wrk, "-t1", "-c8", "-d3s", "--timeout", "2s", "https://"+tlsAddr+"/")
		wrkDone <- out
	}()
	time.Sleep(700 * time.Millisecond)
	newCert := certstest.Write(t, aPEM, certstest.Spec{Names: []string{"a.example.test"}})
	if r, err := c.Reload(context.Background()); err != nil || !r.OK {
		t.Fatalf("reload with a new certificate: %+v %v", r, err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := os.WriteFile(aPEM, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := c.Reload(context.Background())
	if err != nil || r.OK || !strings.Contains(r.Error, aPEM) {
		t.Fatalf("reload with a broken certificate: %+v %v", r, err)
	}
	out = <-wrkDone
	t.Logf("wrk over HTTPS across two reloads:\n%s", out)
	if strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") || !strings.Contains(out, "requests in") {
		t.Errorf("wrk saw errors across the reloads:\n%s", out)
	}
	got := leafSerial(t, tlsAddr, "a.example.test")
	if got == oldSerial || got != newCert.SerialNumber.String() {
		t.Errorf("served serial %s after the reloads: want the new %s (old %s)", got, newCert.SerialNumber, oldSerial)
	}
}

func waitStatus(t *testing.T, c *control.Client, ok func(*control.Status) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := c.Status(context.Background())
		if err == nil && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never matched: %+v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
