package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

type countingBackend struct {
	name string
	hits atomic.Int64
	srv  *httptest.Server
}

func newBackend(t *testing.T, name string) *countingBackend {
	b := &countingBackend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			io.WriteString(w, "ok")
			return
		}
		b.hits.Add(1)
		fmt.Fprintf(w, "served by %s", name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

const integrationConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
defaults:
  options:
    http_server_close: true
    redispatch: true
frontends:
  - name: web
    bind: ["%ADDR%"]
    default_backend: app
backends:
  - name: app
    health_check: {type: http, method: GET, uri: /health}
    servers:
      - {name: web01, address: "%B1%", check: true, inter: 100ms}
      - {name: web02, address: "%B2%", check: true, inter: 100ms}
stats:
  bind: ["%STATS%"]
  enable: true
  uri: /
  realm: Strictly Private
  auth: ["admin:s3cret"]
metrics:
  bind: "%METRICS%"
`

// TestDrainPatchEnableUnderLoad is the articles' "drain a node, patch it,
// put it back" as three lbctl calls while a client keeps sending requests:
// no request may fail.
func TestDrainPatchEnableUnderLoad(t *testing.T) {
	b1, b2 := newBackend(t, "web01"), newBackend(t, "web02")
	front, statsAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := strings.NewReplacer("%B1%", b1.srv.Listener.Addr().String(), "%B2%", b2.srv.Listener.Addr().String(),
		"%STATS%", statsAddr, "%METRICS%", metricsAddr).Replace(integrationConfig)
	cfg = strings.Replace(cfg, "%ADDR%", front, 1)
	front2 := freeAddr(t)
	td := startDaemon(t, withKeepAliveFrontend(cfg, front2))
	c := &control.Client{Socket: td.sock}
	ctx := context.Background()
	hc := &http.Client{Timeout: 5 * time.Second}
	// Idle keep-alive connections would hold the daemon's soft stop until
	// their http_keep_alive expiry: close them first.
	t.Cleanup(hc.CloseIdleConnections)

	get := func() (string, error) {
		resp, err := hc.Get("http://" + front + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return string(body), nil
	}
	// Both servers take traffic.
	for i := 0; i < 20; i++ {
		if _, err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if b1.hits.Load() == 0 || b2.hits.Load() == 0 {
		t.Fatalf("round robin: web01=%d web02=%d", b1.hits.Load(), b2.hits.Load())
	}

	// A bounded client loop runs during drain / patch / enable.
	ld := startLoad("http://"+front+"/", 16)
	ld2 := startLoad("http://"+front2+"/", 16)
	time.Sleep(200 * time.Millisecond)
	if err := c.SetServerState(ctx, "app", "web01", "drain"); err != nil {
		t.Fatal(err)
	}
	st, _ := c.Status(ctx)
	if s := st.Backends[0].Servers[0]; s.State != "DRAIN" {
		t.Errorf("web01 after drain: %s", s.State)
	}
	time.Sleep(100 * time.Millisecond)
	before := b1.hits.Load()
	time.Sleep(300 * time.Millisecond) // "patching": web01 must see no new requests
	if after := b1.hits.Load(); after != before {
		t.Errorf("drained web01 still got %d requests", after-before)
	}
	if err := c.SetServerState(ctx, "app", "web01", "ready"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	total, failed, firstErr := ld.stop()
	total2, failed2, firstErr2 := ld2.stop()
	if failed != 0 || failed2 != 0 {
		t.Errorf("%d of %d (server-close), %d of %d (keep-alive) requests failed during drain/enable; first: %v, %v", failed, total, failed2, total2, firstErr, firstErr2)
	}
	if b1.hits.Load() == before {
		t.Errorf("web01 got no traffic after enable (%d requests in all)", total)
	}
	st, _ = c.Status(ctx)
	if s := st.Backends[0].Servers[0]; s.State != "UP" || !s.Check.Enabled {
		t.Errorf("web01 after enable: %+v", s)
	}
	if st.Frontends[0].Requests == 0 {
		t.Errorf("frontend counted no requests: %+v", st.Frontends[0])
	}

	// Stats page: 401 with the realm, 200 with the password.
	resp, err := hc.Get("http://" + statsAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Strictly Private") {
		t.Errorf("stats without auth: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", "http://"+statsAddr+"/", nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "web02") {
		t.Errorf("stats page: %d", resp.StatusCode)
	}
	// Metrics.
	resp, err = hc.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `server="web01"`) || !strings.Contains(string(m), "lbd_log_dropped_total") {
		t.Errorf("metrics missing server series:\n%.500s", m)
	}
}

// TestEventsReachSyslog: reloads and admin actions are logged to the
// global.log syslog target too, not only stderr.
func TestEventsReachSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := strings.Replace(goodConfig, "global:\n", "global:\n  log:\n    - {address: \""+pc.LocalAddr().String()+"\", facility: local2}\n", 1)
	td := startDaemon(t, cfg)
	c := &control.Client{Socket: td.sock}
	if err := c.SetServerState(context.Background(), "app", "web01", "drain"); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no admin event on syslog: %v", err)
		}
		line := string(buf[:n])
		// local2.info = 18*8+6 = 150
		if strings.HasPrefix(line, "<150>") && strings.Contains(line, "server admin state changed") && strings.Contains(line, "app/web01") {
			return
		}
	}
}
