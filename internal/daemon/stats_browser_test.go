package daemon

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs/certstest"
	"github.com/lbd-ha/lbd/internal/control"
)

const browserRemedy = "needs chromium: run `scripts/need.sh chromium:chromium chromedriver:chromium-driver` as root (or apt-get install chromium chromium-driver)"

const h2StatsConfig = `global:
  control_socket: %SOCK%
  log:
    - {address: "%SYSLOG%", facility: local0}
sysctl:
  apply: false
defaults:
  options:
    httplog: true
frontends:
  - name: shop
    bind:
      - address: "%TLS%"
        ssl:
          crt: ["%CRT%"]
          alpn: [h2, http/1.1]
    stats:
      enable: true
      uri: /lbd?stats
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web01-h2stats, address: "%B1%"}
`

// TestBrowserStatsPageHTTPS loads the stats page of a TLS frontend that
// offers h2 by ALPN in headless Chromium (the same browser as
// internal/stats' TestBrowserStatsPage, here with --dump-dom, which
// prints the DOM once the page has loaded) and checks that the page
// rendered the server's name and that Chromium fetched it over HTTP/2:
// the frontend's h2 stream counter moved and the httplog line of the
// stats request says HTTP/2.0.
func TestBrowserStatsPageHTTPS(t *testing.T) {
	var chromium string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("browser test " + browserRemedy)
		}
		t.Skip("browser test " + browserRemedy)
	}
	dir := t.TempDir()
	crt := filepath.Join(dir, "shop.pem")
	certstest.Write(t, crt, certstest.Spec{Names: []string{"localhost"}})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	b1 := newBackend(t, "web01")
	tlsAddr := freeAddr(t)
	cfg := strings.NewReplacer("%TLS%", tlsAddr, "%CRT%", crt, "%SYSLOG%", pc.LocalAddr().String(),
		"%B1%", b1.srv.Listener.Addr().String()).Replace(h2StatsConfig)
	td := startDaemon(t, cfg)
	c := &control.Client{Socket: td.sock}
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	streams0 := st.Frontends[0].H2Streams

	_, port, _ := net.SplitHostPort(tlsAddr)
	url := "https://localhost:" + port + "/lbd?stats"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		// The test certificate is self-signed; the ALPN negotiation is
		// the same as with a trusted one.
		"--ignore-certificate-errors",
		// Only the stats page is fetched: localhost resolves to lbd.
		"--host-resolver-rules=MAP localhost 127.0.0.1",
		"--dump-dom", url)
	// Chromium and its helpers share the process group; kill them all on
	// timeout and at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%.2000s", url, err, stderr.String())
	}
	dom := string(out)
	if !strings.Contains(dom, "web01-h2stats") || !strings.Contains(dom, "<table") {
		t.Fatalf("the stats page did not render the server name web01-h2stats:\n%.3000s\nstderr:\n%.2000s", dom, stderr.String())
	}

	// Over HTTP/2: the frontend counted the stream(s) ...
	waitStatus(t, c, func(st *control.Status) bool {
		return st.Frontends[0].H2Streams > streams0 && st.Frontends[0].TLSHandshakes >= 1
	})
	// ... and the stats request's httplog line says HTTP/2.0.
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	var seen []string
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no httplog line with \"GET /lbd?stats HTTP/2.0\" for shop~: %v; lines:\n%s", err, strings.Join(seen, "\n"))
		}
		line := string(buf[:n])
		seen = append(seen, line)
		if strings.Contains(line, " shop~ ") && strings.Contains(line, `"GET /lbd?stats HTTP/2.0"`) {
			break
		}
	}
}
