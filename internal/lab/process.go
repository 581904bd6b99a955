package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a command started inside a node's namespace by Node.Start.
type Process struct {
	// Cmd is the underlying command (`ip netns exec NS name args...`); its
	// Process.Pid is the command's pid (ip execs it in place).
	Cmd *exec.Cmd

	done chan struct{}
	err  error // valid after done is closed

	mu  sync.Mutex
	out bytes.Buffer
}

// maxOutput bounds the output kept in memory per process (the test log
// still gets every line).
const maxOutput = 1 << 20

// Start runs name with args inside the node's namespace (`ip netns exec`),
// in its own process group, with stdout and stderr copied to t's log line by
// line as "[node] line" and kept for Output. On t's cleanup the process group
// gets SIGKILL and Start's cleanup waits for the exit, so no output is logged
// after the test ends. Start fails t if the command cannot be started.
func (n *Node) Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	full := append([]string{"netns", "exec", n.NS, name}, args...)
	cmd := exec.Command("ip", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	w := &logWriter{t: t, prefix: "[" + n.Name + "] ", p: p}
	cmd.Stdout = w
	cmd.Stderr = w
	// Pdeathsig fires when the *thread* that forked the child exits, and
	// Do throws its threads away. So fork from a goroutine locked to its
	// thread that lives until the child has exited.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		w.flush()
		close(p.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("lab: starting %s in %s: %v", name, n.NS, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("lab: %s (pid %d) in %s did not exit 10s after SIGKILL", name, cmd.Process.Pid, n.NS)
		}
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Done is closed when the process has exited and its output is flushed.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits up to timeout for the process to exit and returns its exit
// error (nil for status 0), or an error if it is still running.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("pid %d still running after %v", p.Pid(), timeout)
	}
}

// Output returns the stdout and stderr seen so far (at most the first MiB).
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// logWriter splits output into lines for t.Log and keeps a bounded copy.
type logWriter struct {
	t      testing.TB
	prefix string
	p      *Process

	mu      sync.Mutex
	partial []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	if room := maxOutput - w.p.out.Len(); room > 0 {
		w.p.out.Write(b[:min(len(b), room)])
	}
	w.p.mu.Unlock()

	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.prefix + string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 64<<10 { // a very long line: log it in pieces
		w.t.Log(w.prefix + string(w.partial))
		w.partial = nil
	}
	return len(b), nil
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.t.Log(w.prefix + string(w.partial))
		w.partial = nil
	}
}

// Run runs name with args inside the node's namespace to completion and
// returns its combined output; ctx bounds it.
func (n *Node) Run(ctx context.Context, name string, args ...string) (string, error) {
	full := append([]string{"netns", "exec", n.NS, name}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), n.NS, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
