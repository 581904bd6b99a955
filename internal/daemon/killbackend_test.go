package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// TestKillBackendUnderLoad: one of two servers dies while clients run. With
// retries and option redispatch no client request fails, and health checks
// take the server out after fall x inter (within one interval).
func TestKillBackendUnderLoad(t *testing.T) {
	b1, b2 := newBackend(t, "web01"), newBackend(t, "web02")
	front := freeAddr(t)
	cfg := `global:
  control_socket: %SOCK%
sysctl: {apply: false}
defaults:
  retries: 3
  options: {redispatch: true, http_server_close: true}
  timeouts: {connect: 1s}
frontends:
  - {name: web, bind: ["` + front + `"], default_backend: app}
backends:
  - name: app
    health_check: {type: http, method: GET, uri: /health}
    servers:
      - {name: web01, address: "` + b1.srv.Listener.Addr().String() + `", check: true, inter: 100ms, rise: 2, fall: 3}
      - {name: web02, address: "` + b2.srv.Listener.Addr().String() + `", check: true, inter: 100ms, rise: 2, fall: 3}
`
	front2 := freeAddr(t)
	td := startDaemon(t, withKeepAliveFrontend(cfg, front2))
	c := &control.Client{Socket: td.sock}
	ld := startLoad("http://"+front+"/", 16)
	ld2 := startLoad("http://"+front2+"/", 16)
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	b1.srv.CloseClientConnections()
	b1.srv.Listener.Close() // connections to web01 are refused from now on
	var detected time.Duration
	for time.Since(killed) < 5*time.Second {
		st, err := c.Status(context.Background())
		if err == nil && st.Backends[0].Servers[0].State == "DOWN" {
			detected = time.Since(killed)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	total, failed, firstErr := ld.stop()
	total2, failed2, firstErr2 := ld2.stop()
	if detected == 0 {
		t.Fatal("web01 never went DOWN")
	}
	// fall x inter = 300 ms. The lower bound proves one failure is not enough;
	// the upper one is loose on purpose (a loaded CI machine delays checks).
	if detected < 150*time.Millisecond || detected > 1500*time.Millisecond {
		t.Errorf("detection took %v, want about fall x inter = 300ms", detected)
	}
	if failed != 0 || failed2 != 0 {
		t.Errorf("%d of %d (server-close), %d of %d (keep-alive) requests failed; first: %v, %v", failed, total, failed2, total2, firstErr, firstErr2)
	}
	st, _ := c.Status(context.Background())
	if r := st.Backends[0].Servers[0].Check; !strings.HasPrefix(r.Result, "L4") {
		t.Errorf("check result after kill: %+v", r)
	}
	t.Logf("%d + %d requests (server-close, keep-alive), 0 failed; web01 DOWN %v after the kill (fall 3 x inter 100ms)", total, total2, detected.Round(time.Millisecond))
}
