package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/sysctl"
)

const goodConfig = `global:
  control_socket: %SOCK%
sysctl:
  file_max: 200000
frontends:
  - name: web
    bind: ["%ADDR%"]
    default_backend: app
backends:
  - name: app
    servers:
      - name: web01
        address: 127.0.0.1:1
`

type testDaemon struct {
	d      *Daemon
	sock   string
	cfg    string
	cancel context.CancelFunc
	done   chan error
	sys    *sysctl.Fake
}

func startDaemon(t *testing.T, cfgText string) *testDaemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "lbdd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "lbd.sock")
	cfgPath := filepath.Join(dir, "lbd.yaml")
	cfgText = strings.ReplaceAll(cfgText, "%ADDR%", freeAddr(t))
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(cfgText, "%SOCK%", sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := sysctl.NewFake(map[string]string{
		"fs.file-max":                    "150000",
		"net.ipv4.ip_forward":            "0",
		"net.ipv4.ip_nonlocal_bind":      "0",
		"net.ipv6.ip_nonlocal_bind":      "0",
		"net.netfilter.nf_conntrack_max": "65536",
	})
	d, err := New(Options{
		ConfigPath: cfgPath,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sysctl:     fake,
		Rlimit:     &sysctl.FakeRlimit{Cur: 1024, Max: 1 << 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	td := &testDaemon{d: d, sock: sock, cfg: cfgPath, cancel: cancel, done: make(chan error, 1), sys: fake}
	go func() { td.done <- d.Run(ctx) }()
	t.Cleanup(td.stop)
	// Wait for the socket.
	c := &control.Client{Socket: sock, Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Status(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return td
}

func (td *testDaemon) stop() {
	if td.cancel == nil {
		return
	}
	td.cancel()
	td.cancel = nil
	<-td.done
}

func TestStatusReloadAndSysctl(t *testing.T) {
	td := startDaemon(t, goodConfig)
	c := &control.Client{Socket: td.sock}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ConfigFile != td.cfg || st.PID != os.Getpid() || st.StartedAt.IsZero() {
		t.Errorf("status header: %+v", st)
	}
	// The sysctl table ran against the fake: file-max raised, never lowered.
	got := map[string]control.SysctlResult{}
	for _, r := range st.Sysctl {
		got[r.Key] = r
	}
	if r := got["fs.file-max"]; !r.Changed || r.Old != "150000" || r.New != "200000" {
		t.Errorf("file-max: %+v", r)
	}
	if r := got["net.ipv4.ip_forward"]; !r.Changed || r.New != "1" {
		t.Errorf("ip_forward: %+v", r)
	}
	if len(st.Backends) != 1 || st.Backends[0].Servers[0].Name != "web01" {
		t.Errorf("backends: %+v", st.Backends)
	}

	// An invalid file is refused and the old config keeps serving.
	if err := os.WriteFile(td.cfg, []byte("frontends:\n  - name: web\n    bindd: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := c.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || !strings.Contains(r.Error, `unknown key "bindd"`) {
		t.Errorf("bad reload accepted: %+v", r)
	}
	st, _ = c.Status(ctx)
	if st.LastReload == nil || st.LastReload.OK || len(st.Backends) != 1 {
		t.Errorf("after refused reload: %+v", st.LastReload)
	}
	// A good file is taken.
	good := strings.ReplaceAll(strings.ReplaceAll(goodConfig, "%SOCK%", td.sock), "%ADDR%", freeAddr(t))
	good = strings.Replace(good, "name: web01", "name: web02", 1)
	if err := os.WriteFile(td.cfg, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Reload(ctx); !r.OK {
		t.Fatalf("good reload refused: %+v", r)
	}
	st, _ = c.Status(ctx)
	if st.Backends[0].Servers[0].Name != "web02" {
		t.Errorf("reload not applied: %+v", st.Backends)
	}
	var nf *control.NotFoundError
	if err := c.SetServerState(ctx, "app", "nope", "drain"); err == nil || !asNotFound(err, &nf) || !strings.Contains(err.Error(), "web02") {
		t.Errorf("unknown server should list valid ones: %v", err)
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func asNotFound(err error, nf **control.NotFoundError) bool {
	e, ok := err.(*control.NotFoundError)
	if ok {
		*nf = e
	}
	return ok
}

func TestSecondDaemonRefusesSocket(t *testing.T) {
	td := startDaemon(t, goodConfig)
	d2, err := New(Options{ConfigPath: td.cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Sysctl: sysctl.NewFake(nil), Rlimit: &sysctl.FakeRlimit{Cur: 1 << 20, Max: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	err = d2.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "another lbd") {
		t.Errorf("second daemon: %v", err)
	}
}
