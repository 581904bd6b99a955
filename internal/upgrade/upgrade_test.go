package upgrade

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := fileConn(fds[0], "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := fileConn(fds[1], "b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestListenersCrossTheLink: TCP and unix listeners sent by the parent are
// the same sockets in the child (a client queued before the hand-over is
// accepted there), in batches above the per-message fd limit; unclaimed
// ones are closed by Ready.
func TestListenersCrossTheLink(t *testing.T) {
	parent, child := pair(t)
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ux, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ux.Close()
	ls := map[string]syscall.Conn{
		"tcp4|" + tcp.Addr().String(): tcp.(*net.TCPListener),
		"unix|" + sock:                ux.(*net.UnixListener),
	}
	// More keys than one message carries (the same socket under many keys).
	for i := range fdsPerMessage + 50 {
		ls[fmt.Sprintf("tcp4|extra-%03d", i)] = tcp.(*net.TCPListener)
	}
	// A client waits in the backlog before the hand-over.
	cl, err := net.Dial("tcp4", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	if err := sendListeners(parent, ls); err != nil {
		t.Fatal(err)
	}
	got, err := receiveListeners(child)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ls) {
		t.Fatalf("received %d listeners, sent %d", len(got), len(ls))
	}
	u := &Upgrader{inherited: got, claimed: map[string]bool{}}
	ln, err := u.Listener("tcp4|" + tcp.Addr().String())
	if err != nil || ln == nil {
		t.Fatalf("Listener: %v, %v", ln, err)
	}
	defer ln.Close()
	tcp.Close() // the parent's copy goes; the socket stays open in the child
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the backlogged client was not accepted by the child: %v", err)
	}
	c.Close()
	if again, _ := u.Listener("tcp4|" + tcp.Addr().String()); again != nil {
		t.Error("a key was handed out twice")
	}
	uln, err := u.Listener("unix|" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ux.(*net.UnixListener).SetUnlinkOnClose(false)
	ux.Close()
	go func() {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
		}
	}()
	uln.(*net.UnixListener).SetDeadline(time.Now().Add(5 * time.Second))
	if c, err := uln.Accept(); err != nil {
		t.Fatalf("unix listener not inherited: %v", err)
	} else {
		c.Close()
	}
	uln.Close()
	if n := len(u.Claimed()); n != 2 {
		t.Errorf("Claimed = %v", u.Claimed())
	}
	// Ready closes what nobody claimed.
	var fd int
	for _, v := range u.inherited {
		fd = v
		break
	}
	if err := u.Ready(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("unclaimed fd %d still open after Ready (%v)", fd, err)
	}
}

// TestReceiveRejects: a message whose names and sockets disagree, or that
// is not JSON, is an error and leaks no descriptor.
func TestReceiveRejects(t *testing.T) {
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	fd, err := dupFD(tcp.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for name, tc := range map[string]struct {
		msg  []byte
		fds  []int
		want string
	}{
		"more names":   {mustJSON(batch{Keys: []string{"a", "b"}}), []int{fd}, "2 listener names for 1 sockets"},
		"more sockets": {mustJSON(batch{Keys: nil}), []int{fd}, "0 listener names for 1 sockets"},
		"not json":     {[]byte("\x00\xffgarbage"), nil, "invalid character"},
	} {
		t.Run(name, func(t *testing.T) {
			parent, child := pair(t)
			var oob []byte
			if len(tc.fds) > 0 {
				oob = unix.UnixRights(tc.fds...)
			}
			if _, _, err := parent.WriteMsgUnix(tc.msg, oob, nil); err != nil {
				t.Fatal(err)
			}
			_, err := receiveListeners(child)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestStateAndPID: the child's PID and the parent's state cross the link.
func TestStateAndPID(t *testing.T) {
	parent, child := pair(t)
	u := &Upgrader{link: child, inherited: map[string]int{}, claimed: map[string]bool{}}
	if err := u.Ready(); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	n, err := parent.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	var h hello
	if err := json.Unmarshal(b[:n], &h); err != nil || h.PID != unix.Getpid() {
		t.Fatalf("hello %q: %v", b[:n], err)
	}
	type state struct{ VRRP map[string]string }
	c := &Child{PID: h.PID, link: parent}
	if err := c.Handover(state{VRRP: map[string]string{"VI_1": "MASTER"}}); err != nil {
		t.Fatal(err)
	}
	var got state
	if err := u.ParentState(time.Second, &got); err != nil || got.VRRP["VI_1"] != "MASTER" {
		t.Fatalf("state %+v: %v", got, err)
	}
	// Without a state the child times out instead of hanging.
	p2, c2 := pair(t)
	_ = p2
	u2 := &Upgrader{link: c2}
	start := time.Now()
	if err := u2.ParentState(100*time.Millisecond, &got); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("ParentState without a parent: %v after %v", err, time.Since(start))
	}
}
