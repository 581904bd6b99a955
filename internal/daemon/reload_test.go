package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// TestReloadUnderLoad rewrites the config (a third server, a new weight)
// and reloads while clients run: zero failed requests, the listener is
// kept, and the new server takes traffic.
func TestReloadUnderLoad(t *testing.T) {
	b1, b2, b3 := newBackend(t, "web01"), newBackend(t, "web02"), newBackend(t, "web03")
	front, statsAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	repl := strings.NewReplacer("%B1%", b1.srv.Listener.Addr().String(), "%B2%", b2.srv.Listener.Addr().String(),
		"%STATS%", statsAddr, "%METRICS%", metricsAddr)
	front2 := freeAddr(t)
	cfg := withKeepAliveFrontend(strings.Replace(repl.Replace(integrationConfig), "%ADDR%", front, 1), front2)
	td := startDaemon(t, cfg)
	cfg = strings.ReplaceAll(cfg, "%SOCK%", td.sock)
	c := &control.Client{Socket: td.sock}

	ld := startLoad("http://"+front+"/", 16)
	ld2 := startLoad("http://"+front2+"/", 16)
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		next := cfg
		if i%2 == 0 {
			next = strings.Replace(cfg, "      - {name: web02", fmt.Sprintf("      - {name: web03, address: %q}\n      - {name: web02", b3.srv.Listener.Addr().String()), 1)
		}
		if err := writeFile(td.cfg, next); err != nil {
			t.Fatal(err)
		}
		r, err := c.Reload(context.Background())
		if err != nil || !r.OK {
			t.Fatalf("reload %d: %+v %v", i, r, err)
		}
		time.Sleep(150 * time.Millisecond)
		if st, err := c.Status(context.Background()); err == nil {
			for _, s := range st.Backends[0].Servers {
				t.Logf("reload %d: %s %s total=%d", i, s.Name, s.State, s.Total)
			}
		}
	}
	total, failed, firstErr := ld.stop()
	if failed != 0 {
		t.Errorf("server-close frontend: %d of %d requests failed across reloads; first: %v", failed, total, firstErr)
	}
	total2, failed2, firstErr2 := ld2.stop()
	if failed2 != 0 {
		t.Errorf("keep-alive frontend: %d of %d requests failed across reloads; first: %v", failed2, total2, firstErr2)
	}
	if b3.hits.Load() == 0 {
		t.Error("the server added by reload got no traffic")
	}
	t.Logf("%d + %d requests (server-close, keep-alive), %d failed, across 3 reloads", total, total2, failed+failed2)
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
