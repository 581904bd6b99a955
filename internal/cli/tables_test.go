package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// TestLbctlTableShow runs lbd with a rate-limit table, sends requests and
// lists the table with lbctl.
func TestLbctlTableShow(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer backend.Close()
	dir := t.TempDir()
	sock := filepath.Join(dir, "lbd.sock")
	cfgPath := filepath.Join(dir, "lbd.yaml")
	addr := freeAddr(t)
	cfg := `global: {control_socket: ` + sock + `}
sysctl: {apply: false}
listen:
  - name: app
    bind: ["` + addr + `"]
    stick_table: {size: 1000, expire: 1m, store: ["http_req_rate(10s)", http_req_cnt]}
    http_request:
      - {action: track-sc0, key: "req.hdr(X-Forwarded-For)"}
      - {action: deny, deny_status: 429, if: "{ sc0_http_req_rate gt 2 }"}
    servers:
      - {name: web01, address: "` + backend.Listener.Addr().String() + `"}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- LBD([]string{"run", "-c", cfgPath}, &bytes.Buffer{}, &stderr) }()
	defer func() {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("lbd run did not stop on SIGTERM")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, code := lbctl(t, sock, "status"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lbd did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var codes []int
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, res.StatusCode)
		c.Close()
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 429 {
		t.Errorf("statuses %v, want 200 200 429 429", codes)
	}
	out, errs, code := lbctl(t, sock, "table", "show", "app")
	if code != 0 || !strings.Contains(out, "203.0.113.9") || !strings.Contains(out, "http_req_rate") {
		t.Fatalf("table show: %d %s %s", code, out, errs)
	}
	out, _, _ = lbctl(t, sock, "table", "show", "app", "--json")
	var ts control.TableShow
	if err := json.Unmarshal([]byte(out), &ts); err != nil || len(ts.Entries) != 1 || ts.Entries[0].Counters["http_req_cnt"] != 4 {
		t.Fatalf("table show --json: %v %s", err, out)
	}
	if _, errs, code := lbctl(t, sock, "table", "show", "nope"); code != 1 || !strings.Contains(errs, "app") {
		t.Errorf("unknown table: %d %q", code, errs)
	}
}
