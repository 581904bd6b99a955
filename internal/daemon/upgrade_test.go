package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbd-ha/lbd/internal/control"
)

var (
	lbdBinOnce sync.Once
	lbdBin     string
	lbdBinErr  error
)

// buildLBD builds cmd/lbd once per test binary (a binary upgrade execs the
// real program).
func buildLBD(t *testing.T) string {
	t.Helper()
	lbdBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lbdbin")
		if err != nil {
			lbdBinErr = err
			return
		}
		lbdBin = filepath.Join(dir, "lbd")
		cmd := exec.Command("go", "build", "-o", lbdBin, "github.com/lbd-ha/lbd/cmd/lbd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			lbdBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if lbdBinErr != nil {
		t.Fatal(lbdBinErr)
	}
	return lbdBin
}

// lbdProcess is `lbd run` started by a test; after an upgrade the new
// process is reparented to the test binary (a child subreaper), which
// reaps it in Cleanup.
type lbdProcess struct {
	cmd  *exec.Cmd
	sock string
	log  logFile
	done chan struct{} // closed when the first process has exited
	err  error         // its Wait error, after done
}

// logFile is the processes' shared stderr: a file, not a pipe, so that
// Wait on the old process does not wait for the new one, which inherits it.
type logFile string

func (l logFile) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}

func startLBD(t *testing.T, cfgText string) *lbdProcess {
	t.Helper()
	bin := buildLBD(t)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	dir, err := os.MkdirTemp("", "lbdu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &lbdProcess{sock: filepath.Join(dir, "lbd.sock"), log: logFile(filepath.Join(dir, "lbd.log")), done: make(chan struct{})}
	out, err := os.Create(string(p.log))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cfgPath := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(cfgText, "%SOCK%", p.sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "run", "-c", cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.Dir = dir
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		// Stop whichever lbd serves the socket now, then the first one.
		if st, err := (&control.Client{Socket: p.sock, Timeout: time.Second}).Status(context.Background()); err == nil {
			stopPID(t, st.PID)
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("lbd log:\n%s", p.log.String())
		}
	})
	c := &control.Client{Socket: p.sock, Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Status(context.Background()); err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("lbd did not start:\n%s", p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopPID terminates a reparented lbd and reaps it.
func stopPID(t *testing.T, pid int) {
	if pid <= 0 || pid == os.Getpid() {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid || err == syscall.ECHILD {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("lbd pid %d did not stop on SIGTERM", pid)
}

const upgradeConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
defaults:
  options:
    redispatch: true
frontends:
  - name: web
    bind: ["%ADDR%"]
    default_backend: app
  - name: web-close
    bind: ["%ADDR2%"]
    default_backend: app
    options:
      http_server_close: true
backends:
  - name: app
    servers:
      - {name: web01, address: "%B1%"}
      - {name: web02, address: "%B2%"}
stats:
  bind: ["%STATS%"]
  enable: true
  uri: /
`

// TestBinaryUpgradeUnderLoad: `lbctl upgrade` while clients keep sending
// requests (keep-alive and server-close frontends): the new process takes
// the listeners, control and stats sockets, the old one drains and exits
// 0, and no request fails.
func TestBinaryUpgradeUnderLoad(t *testing.T) {
	b1, b2 := newBackend(t, "web01"), newBackend(t, "web02")
	front, front2, statsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := strings.NewReplacer("%B1%", b1.srv.Listener.Addr().String(), "%B2%", b2.srv.Listener.Addr().String(),
		"%ADDR%", front, "%ADDR2%", front2, "%STATS%", statsAddr).Replace(upgradeConfig)
	p := startLBD(t, cfg)
	c := &control.Client{Socket: p.sock, Timeout: time.Minute}
	ctx := context.Background()

	ka := startLoad("http://"+front+"/", 16)
	sc := startLoad("http://"+front2+"/", 16)
	time.Sleep(300 * time.Millisecond)
	res, err := c.Upgrade(ctx)
	if err != nil || !res.OK {
		t.Fatalf("upgrade: %+v, %v", res, err)
	}
	if res.OldPID != p.cmd.Process.Pid || res.NewPID == res.OldPID || res.NewPID <= 0 {
		t.Errorf("upgrade pids: %+v (started %d)", res, p.cmd.Process.Pid)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("old process exit: %v", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("old process did not exit after the upgrade")
	}
	time.Sleep(300 * time.Millisecond)
	total, failed, first := ka.stop()
	total2, failed2, first2 := sc.stop()
	t.Logf("keep-alive: %d requests, %d failed; server-close: %d requests, %d failed", total, failed, total2, failed2)
	if failed != 0 || failed2 != 0 {
		t.Errorf("requests failed across the upgrade: %d (%v), %d (%v)", failed, first, failed2, first2)
	}
	if total < 50 || total2 < 20 {
		t.Errorf("too little load to prove anything: %d, %d", total, total2)
	}
	st, err := c.Status(ctx)
	if err != nil || st.PID != res.NewPID {
		t.Fatalf("status after upgrade: pid %d, %v; want %d", st.PID, err, res.NewPID)
	}
	resp, err := http.Get("http://" + statsAddr + "/;csv")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("stats page after upgrade: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if !strings.Contains(p.log.String(), "lbd draining: a new process took over") {
		t.Errorf("old process log:\n%s", p.log.String())
	}
	// The new process upgrades again (a second generation) and reloads.
	if r, err := c.Reload(ctx); err != nil || !r.OK {
		t.Errorf("reload of the new process: %+v %v", r, err)
	}
	res2, err := c.Upgrade(ctx)
	if err != nil || !res2.OK || res2.OldPID != res.NewPID {
		t.Fatalf("second upgrade: %+v, %v", res2, err)
	}
	stopPID(t, res.NewPID) // reaps the drained second process
}

// TestUpgradeRefusedWithChrootOrWithoutUpgrader: an in-process daemon has
// no upgrader; the error says so and the daemon keeps serving.
func TestUpgradeWithoutUpgrader(t *testing.T) {
	td := startDaemon(t, goodConfig)
	c := &control.Client{Socket: td.sock}
	res, err := c.Upgrade(context.Background())
	if err != nil || res.OK || !strings.Contains(res.Error, "binary upgrade is not available") {
		t.Fatalf("upgrade without upgrader: %+v %v", res, err)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Errorf("daemon after a refused upgrade: %v", err)
	}
}

// TestBinaryUpgrade20UnderWrk: 20 consecutive `lbctl upgrade` while wrk
// (16 keep-alive connections) loads the keep-alive frontend and the strict
// client (16 connections) the http-server-close one. Neither retries: a
// connection the old process closed while a request could arrive on it is
// a socket error. Each step waits only for the new process to be ready
// and the old one to finish its connections (soft stop) and exit.
func TestBinaryUpgrade20UnderWrk(t *testing.T) {
	needWrk(t)
	b1, b2 := newBackend(t, "web01"), newBackend(t, "web02")
	front, front2, statsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := strings.NewReplacer("%B1%", b1.srv.Listener.Addr().String(), "%B2%", b2.srv.Listener.Addr().String(),
		"%ADDR%", front, "%ADDR2%", front2, "%STATS%", statsAddr).Replace(upgradeConfig)
	p := startLBD(t, cfg)
	c := &control.Client{Socket: p.sock, Timeout: time.Minute}
	ctx := context.Background()

	t0 := time.Now()
	wrk := startWrk(t, "http://"+front+"/", 16, time.Minute)
	sc := startLoadFor("http://"+front2+"/", 16, time.Minute)
	waitServed := func(n int64) {
		deadline := time.Now().Add(5 * time.Second)
		for b1.hits.Load()+b2.hits.Load() < n && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitServed(200)
	oldPID := p.cmd.Process.Pid
	const upgrades = 20
	var exitWait time.Duration
	for i := 0; i < upgrades; i++ {
		res, err := c.Upgrade(ctx)
		if err != nil || !res.OK || res.OldPID != oldPID {
			t.Fatalf("upgrade %d: %+v, %v (old pid %d)", i+1, res, err, oldPID)
		}
		// The old process ends once its connections have: each answers
		// its next request with Connection: close.
		te := time.Now()
		if i == 0 {
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				t.Fatalf("upgrade %d: old process did not exit", i+1)
			}
		} else if err := reap(oldPID, 15*time.Second); err != nil {
			t.Fatalf("upgrade %d: %v", i+1, err)
		}
		exitWait += time.Since(te)
		oldPID = res.NewPID
		waitServed(b1.hits.Load() + b2.hits.Load() + 50) // the new process serves
	}
	took := time.Since(t0)
	wr := wrk.stop(t)
	total, failed, first := sc.stop()
	t.Logf("%d upgrades in %v (old process exit %v on average)", upgrades, took.Round(time.Millisecond), (exitWait / upgrades).Round(time.Millisecond))
	t.Logf("wrk, keep-alive frontend: %d requests, %d socket errors, %d non-2xx", wr.Requests, wr.SocketErrors, wr.Non2xx)
	t.Logf("strict client, server-close frontend: %d requests, %d failed, %d closed by Connection: close", total, failed, sc.closed.Load())
	if wr.SocketErrors != 0 || wr.Non2xx != 0 {
		t.Errorf("wrk saw errors across %d upgrades:\n%s", upgrades, wr.Report)
	}
	if failed != 0 {
		t.Errorf("strict client: %d of %d requests failed; first: %v", failed, total, first)
	}
	if wr.Requests < 300 || total < 300 {
		t.Errorf("too little load to prove anything: %d, %d", wr.Requests, total)
	}
	stopPID(t, oldPID)
}

// reap waits for a reparented process (the test binary is a child
// subreaper) to exit.
func reap(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid {
			if !ws.Exited() || ws.ExitStatus() != 0 {
				return fmt.Errorf("pid %d ended with %v", pid, ws)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("wait for pid %d: %w", pid, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("pid %d did not exit within %v", pid, limit)
}

// TestUpgradeWaitsForDrainingParent: after an upgrade the old process
// keeps an idle keep-alive connection open until its http_keep_alive
// expiry (soft stop); a second upgrade meanwhile waits for that process to
// exit instead of failing.
func TestUpgradeWaitsForDrainingParent(t *testing.T) {
	b1, b2 := newBackend(t, "web01"), newBackend(t, "web02")
	front, front2, statsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := strings.NewReplacer("%B1%", b1.srv.Listener.Addr().String(), "%B2%", b2.srv.Listener.Addr().String(),
		"%ADDR%", front, "%ADDR2%", front2, "%STATS%", statsAddr).Replace(upgradeConfig)
	const ka = 800 * time.Millisecond
	cfg = strings.Replace(cfg, "defaults:\n", "defaults:\n  timeouts: {http_keep_alive: 800ms}\n", 1)
	p := startLBD(t, cfg)
	c := &control.Client{Socket: p.sock, Timeout: time.Minute}
	ctx := context.Background()

	conn, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	l := &load{}
	if keep, err := l.roundTrip(conn, br, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil || !keep {
		t.Fatalf("first request: keep-alive %v, %v", keep, err)
	}
	res, err := c.Upgrade(ctx)
	if err != nil || !res.OK {
		t.Fatalf("upgrade: %+v, %v", res, err)
	}
	t0 := time.Now()
	select {
	case <-p.done:
		t.Fatal("the old process exited with an idle keep-alive connection open")
	case <-time.After(ka / 4):
	}
	res2, err := c.Upgrade(ctx)
	waited := time.Since(t0)
	if err != nil || !res2.OK || res2.OldPID != res.NewPID {
		t.Fatalf("second upgrade while the first old process drains: %+v, %v", res2, err)
	}
	select {
	case <-p.done:
	default:
		t.Error("the second upgrade did not wait for the first old process")
	}
	if waited < ka/2 || waited > ka+5*time.Second {
		t.Errorf("second upgrade took %v, want about the keep-alive wait %v", waited, ka)
	}
	// The idle connection was closed silently at its keep-alive expiry.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection of the old process: read %d, %v; want EOF", n, err)
	}
	if err := reap(res.NewPID, 15*time.Second); err != nil {
		t.Error(err)
	}
	stopPID(t, res2.NewPID)
}
