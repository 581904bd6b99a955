package cli

import (
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

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func lbctl(t *testing.T, sock string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := LBCTL(append([]string{"--socket", sock}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// TestRunReloadAndLbctl runs `lbd run` in this process, drives it with
// lbctl's commands and signals, and stops it with SIGTERM.
func TestRunReloadAndLbctl(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer backend.Close()
	dir, err := os.MkdirTemp("", "lbdcli")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "lbd.sock")
	cfgPath := filepath.Join(dir, "lbd.yaml")
	cfg := `global: {control_socket: ` + sock + `}
sysctl: {apply: false}
listen:
  - name: app_frontend
    bind: ["` + freeAddr(t) + `"]
    servers:
      - {name: web01, address: "` + backend.Listener.Addr().String() + `"}
      - {name: web02, address: "` + backend.Listener.Addr().String() + `"}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- LBD([]string{"run", "-c", cfgPath}, &bytes.Buffer{}, &stderr) }()
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

	out, _, code := lbctl(t, sock, "status")
	if code != 0 || !strings.Contains(out, "app_frontend") || !strings.Contains(out, "web02") || strings.Contains(out, "\x1b[") {
		t.Errorf("status (piped: no colour):\n%s", out)
	}
	out, _, _ = lbctl(t, sock, "status", "--json")
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.ConfigFile != cfgPath {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	// A listen section's servers are addressed by the listen name.
	if out, errs, code := lbctl(t, sock, "server", "drain", "app_frontend/web01"); code != 0 || !strings.Contains(out, "DRAIN") {
		t.Errorf("drain: %d %s %s", code, out, errs)
	}
	if _, errs, code := lbctl(t, sock, "server", "weight", "app_frontend/web02", "7"); code != 0 {
		t.Errorf("weight: %s", errs)
	}
	out, _, _ = lbctl(t, sock, "status", "--json")
	json.Unmarshal([]byte(out), &st)
	if s := st.Backends[0].Servers; s[0].State != "DRAIN" || s[1].Weight != 7 {
		t.Errorf("runtime changes not in status: %+v", s)
	}
	if _, errs, code := lbctl(t, sock, "server", "enable", "app_frontend/nope"); code != 1 || !strings.Contains(errs, "web01") {
		t.Errorf("unknown server should fail listing the valid ones: %d %q", code, errs)
	}
	if _, errs, code := lbctl(t, sock, "vrrp", "handover"); code != 1 || !strings.Contains(errs, "no VRRP instances") {
		t.Errorf("handover without instances: %d %q", code, errs)
	}

	// lbctl reload with a broken file: refused, exit 1, the reason printed.
	if err := os.WriteFile(cfgPath, []byte(cfg+"bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := lbctl(t, sock, "reload"); code != 1 || !strings.Contains(errs, `unknown key "bogus"`) {
		t.Errorf("bad reload: %d %q", code, errs)
	}
	// SIGHUP with a good file: accepted (status shows it).
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(cfg, "web02", "web03", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	deadline = time.Now().Add(5 * time.Second)
	for {
		out, _, _ = lbctl(t, sock, "status", "--json")
		json.Unmarshal([]byte(out), &st)
		if st.LastReload != nil && st.LastReload.OK && st.LastReload.Source == "SIGHUP" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP reload not seen: %+v", st.LastReload)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Backends[0].Servers[1].Name != "web03" {
		t.Errorf("SIGHUP reload not applied: %+v", st.Backends[0].Servers)
	}

	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("lbd run exit %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("lbd run did not stop on SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if _, errs, code := lbctl(t, sock, "status"); code != 1 || !strings.Contains(errs, "lbd is not running") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("daemon down must be one line and exit 1: %d %q", code, errs)
	}
}

func TestCheckCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := LBD([]string{"check", "-c", "../../packaging/lbd.yaml"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "OK") {
		t.Errorf("check example: %d %s %s", code, out.String(), errb.String())
	}
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("frontends:\n  - name: a\n    bind: [\"*:80\"]\n    bindd: 1\n    default_backend: none\n"), 0o600)
	out.Reset()
	errb.Reset()
	if code := LBD([]string{"check", "-c", p}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bad.yaml:4") || !strings.Contains(errb.String(), `backend "none" does not exist`) {
		t.Errorf("check bad: %d %q", code, errb.String())
	}
}
