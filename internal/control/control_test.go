package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeBackend struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeBackend) Status() Status { return Status{Version: "v-test", PID: 42} }
func (f *fakeBackend) Reload(ctx context.Context, who string) ReloadResult {
	f.log("reload " + who)
	return ReloadResult{OK: false, Error: "x.yaml:3: bad", Source: "lbctl"}
}
func (f *fakeBackend) SetServerAdmin(b, s, st, who string) error {
	f.log("admin " + b + "/" + s + " " + st)
	if b != "app" {
		return &NotFoundError{Msg: `no backend "` + b + `" (valid: app)`}
	}
	return nil
}
func (f *fakeBackend) SetServerWeight(b, s string, w int, who string) error {
	if w > 256 {
		return errors.New("weight must be 0..256")
	}
	return nil
}
func (f *fakeBackend) VRRPHandover(i, who string) error { f.log("handover " + i); return nil }
func (f *fakeBackend) VRRPResume(i, who string) error   { return nil }
func (f *fakeBackend) Upgrade(ctx context.Context, who string) UpgradeResult {
	f.log("upgrade " + who)
	return UpgradeResult{OK: true, Source: who, OldPID: 42, NewPID: 43}
}
func (f *fakeBackend) log(s string) { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }

func start(t *testing.T) (string, *fakeBackend) {
	t.Helper()
	// unix socket paths are limited to 108 bytes: keep it short.
	dir, err := os.MkdirTemp("", "lbdc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s", "lbd.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBackend{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, fb) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return path, fb
}

func TestSocketModeAndRoundTrip(t *testing.T) {
	path, fb := start(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode = %v, want 0600 socket", st.Mode())
	}
	c := &Client{Socket: path}
	ctx := context.Background()
	s, err := c.Status(ctx)
	if err != nil || s.Version != "v-test" || s.PID != 42 {
		t.Fatalf("status = %+v, %v", s, err)
	}
	r, err := c.Reload(ctx)
	if err != nil || r.OK || r.Error != "x.yaml:3: bad" {
		t.Errorf("reload = %+v, %v", r, err)
	}
	if err := c.SetServerState(ctx, "app", "web01", "drain"); err != nil {
		t.Errorf("drain: %v", err)
	}
	var nf *NotFoundError
	if err := c.SetServerState(ctx, "nope", "web01", "drain"); !errors.As(err, &nf) || !strings.Contains(err.Error(), "valid: app") {
		t.Errorf("unknown backend: %v", err)
	}
	if err := c.SetServerWeight(ctx, "app", "web01", 999); err == nil || !strings.Contains(err.Error(), "0..256") {
		t.Errorf("weight: %v", err)
	}
	if err := c.VRRPHandover(ctx, "VI_1"); err != nil {
		t.Error(err)
	}
	if u, err := c.Upgrade(ctx); err != nil || !u.OK || u.NewPID != 43 || !strings.HasPrefix(u.Source, "uid=") {
		t.Errorf("upgrade = %+v, %v", u, err)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.calls) < 1 || !strings.HasPrefix(fb.calls[0], "reload uid=") {
		t.Errorf("caller identity not passed: %v", fb.calls)
	}
}

func TestStaleSocketAndInUse(t *testing.T) {
	path, _ := start(t)
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another lbd") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
	// A stale socket file (nobody listening) is replaced.
	dir, _ := os.MkdirTemp("", "lbdc")
	defer os.RemoveAll(dir)
	stale := filepath.Join(dir, "lbd.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("stale file missing: %v", err)
	}
	l2, err := Listen(stale)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
}

func TestDaemonDown(t *testing.T) {
	c := &Client{Socket: filepath.Join(t.TempDir(), "none.sock"), Timeout: time.Second}
	_, err := c.Status(context.Background())
	if !errors.Is(err, ErrDaemonDown) || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("want ErrDaemonDown naming the socket, got %v", err)
	}
}

// upgradeCancels is a backend whose Upgrade ends the server's context
// before it answers, as a real binary upgrade does (the old process stops
// serving the control socket once the new one took over).
type upgradeCancels struct {
	fakeBackend
	cancel   context.CancelFunc
	answered atomic.Bool
}

func (u *upgradeCancels) Upgrade(ctx context.Context, who string) UpgradeResult {
	u.cancel()
	time.Sleep(50 * time.Millisecond) // a Serve that does not wait has returned by now
	u.answered.Store(true)
	return UpgradeResult{OK: true, OldPID: 42, NewPID: 43}
}

// Serve returns only once the answers in flight are written: a caller that
// exits when Serve returns must not cut the upgrade's answer.
func TestServeAnswersInFlightBeforeReturning(t *testing.T) {
	dir, err := os.MkdirTemp("", "lbdc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lbd.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &upgradeCancels{cancel: cancel}
	done := make(chan struct{})
	served := make(chan error, 1)
	var answeredFirst bool
	go func() { err := Serve(ctx, l, b); answeredFirst = b.answered.Load(); served <- err; close(done) }()
	type answer struct {
		res *UpgradeResult
		err error
	}
	got := make(chan answer, 1)
	go func() {
		res, err := (&Client{Socket: path, Timeout: 5 * time.Second}).Upgrade(context.Background())
		got <- answer{res, err}
	}()
	<-done // the process would exit here
	if !answeredFirst {
		t.Fatal("Serve returned while the upgrade's answer was still being made")
	}
	select {
	case a := <-got:
		if a.err != nil || !a.res.OK || a.res.NewPID != 43 {
			t.Fatalf("upgrade answer: %+v, %v", a.res, a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no upgrade answer")
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
