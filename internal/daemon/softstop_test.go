package daemon

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// TestStopHardStopAfter: a stop soft-stops the proxy, and
// global.hard_stop_after bounds it: an idle keep-alive connection with a
// minute of keep-alive left is closed at the bound, not kept.
func TestStopHardStopAfter(t *testing.T) {
	b := newBackend(t, "web01")
	cfg := strings.Replace(goodConfig, "127.0.0.1:1", b.srv.Listener.Addr().String(), 1)
	cfg = strings.Replace(cfg, "global:\n", "global:\n  hard_stop_after: 300ms\n", 1)
	cfg = strings.Replace(cfg, "frontends:\n", "defaults:\n  timeouts: {http_keep_alive: 1m}\nfrontends:\n", 1)
	td := startDaemon(t, cfg)
	st, err := (&control.Client{Socket: td.sock}).Status(context.Background())
	if err != nil || len(st.Frontends) != 1 || len(st.Frontends[0].Binds) != 1 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	conn, err := net.Dial("tcp", st.Frontends[0].Binds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if keep, err := (&load{}).roundTrip(conn, br, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil || !keep {
		t.Fatalf("request: keep-alive %v, %v", keep, err)
	}
	t0 := time.Now()
	td.stop()
	if d := time.Since(t0); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("stop took %v, want about hard_stop_after (300ms)", d)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the idle connection is still open after the stop")
	}
}
