package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	good := Config{Nodes: []string{"lb1", "lb2"}, Subnet: netip.MustParsePrefix("10.77.0.0/24"), IfName: "lab0"}
	if err := good.check(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, c := range map[string]Config{
		"upper name":   {Nodes: []string{"LB1"}, Subnet: good.Subnet, IfName: "lab0"},
		"long name":    {Nodes: []string{"abcdefghi"}, Subnet: good.Subnet, IfName: "lab0"},
		"dup name":     {Nodes: []string{"a", "a"}, Subnet: good.Subnet, IfName: "lab0"},
		"reserved sw":  {Nodes: []string{"sw"}, Subnet: good.Subnet, IfName: "lab0"},
		"public net":   {Nodes: []string{"a"}, Subnet: netip.MustParsePrefix("8.8.8.0/24"), IfName: "lab0"},
		"ipv6 subnet":  {Nodes: []string{"a"}, Subnet: netip.MustParsePrefix("2001:db8::/64"), IfName: "lab0"},
		"long ifname":  {Nodes: []string{"a"}, Subnet: good.Subnet, IfName: "abcdefghijklmnop"},
		"small subnet": {Nodes: []string{"a"}, Subnet: netip.MustParsePrefix("192.0.2.0/28"), IfName: "lab0"},
	} {
		if err := c.check(); err == nil {
			t.Errorf("%s: config %+v accepted", name, c)
		}
	}
}

func TestHostAddr(t *testing.T) {
	if got := hostAddr(netip.MustParseAddr("192.0.2.0"), 12); got != netip.MustParseAddr("192.0.2.12") {
		t.Errorf("hostAddr v4 = %s", got)
	}
	if got := hostAddr(netip.MustParseAddr("2001:db8::"), 11); got != netip.MustParseAddr("2001:db8::b") {
		t.Errorf("hostAddr v6 = %s", got)
	}
}

// hostState lists namespaces and host links whose names contain prefix.
func hostState(t *testing.T, prefix string) []string {
	t.Helper()
	var found []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, prefix) {
				found = append(found, line)
			}
		}
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			found = append(found, "/run/netns/"+e.Name())
		}
	}
	return found
}

func TestLabReachAndTeardown(t *testing.T) {
	Require(t)
	var prefix string
	var pid int
	t.Run("lab", func(t *testing.T) {
		l := New(t, Config{IPv6: true})
		prefix = l.Prefix
		if got := hostState(t, prefix); len(got) != 6 { // 3 namespaces (ip netns list + /run/netns), no host link
			t.Errorf("host sees %q, want exactly the 3 namespaces, each listed twice", got)
		}
		a, b := l.Node("a"), l.Node("b")
		if a == nil || b == nil || l.Node("c") != nil {
			t.Fatalf("Node lookup: a=%v b=%v", a, b)
		}
		if len(a.MAC) != 6 || a.MAC.String() == b.MAC.String() {
			t.Errorf("MACs a=%s b=%s: want distinct 6-byte addresses", a.MAC, b.MAC)
		}

		addrs, err := a.Addrs("")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"192.0.2.11/24", "2001:db8::b/64"} {
			if !slices.Contains(addrs, netip.MustParsePrefix(want)) {
				t.Errorf("node a addresses %v: missing %s", addrs, want)
			}
		}
		if ok, err := b.HasAddr("lab0", netip.MustParseAddr("192.0.2.12")); err != nil || !ok {
			t.Errorf("b.HasAddr(192.0.2.12) = %v, %v", ok, err)
		}
		if _, err := a.Addrs("eth0"); err == nil {
			t.Errorf("node a has an eth0: the lab must not share host interface names")
		}

		for _, tc := range []struct{ net, addr string }{
			{"tcp4", "192.0.2.12:7000"},
			{"tcp6", "[2001:db8::c]:7000"},
		} {
			if err := pingPong(a, b, tc.net, tc.addr); err != nil {
				t.Errorf("%s a -> b %s: %v", tc.net, tc.addr, err)
			}
		}
		// The host namespace cannot reach the lab.
		c, err := net.DialTimeout("tcp4", "192.0.2.12:7000", 200*time.Millisecond)
		if err == nil {
			c.Close()
			t.Errorf("host namespace reached the lab at 192.0.2.12:7000")
		}

		// A started process runs in the node's namespace and its output is captured.
		p := a.Start(t, "sh", "-c", "echo ready; exec sleep 60")
		pid = p.Pid()
		if !WaitFor(5*time.Second, func() bool { return strings.Contains(p.Output(), "ready") }) {
			t.Fatalf("process output %q: want ready", p.Output())
		}
		nsOf := func(path string) string {
			var st syscall.Stat_t
			if err := syscall.Stat(path, &st); err != nil {
				t.Fatalf("stat %s: %v", path, err)
			}
			return fmt.Sprint(st.Dev, st.Ino)
		}
		if got, want := nsOf(fmt.Sprintf("/proc/%d/ns/net", pid)), nsOf("/run/netns/"+a.NS); got != want {
			t.Errorf("process netns %s, want node a's %s", got, want)
		}
		out, err := b.Run(context.Background(), "ip", "-br", "addr", "show", "dev", "lab0")
		if err != nil || !strings.Contains(out, "192.0.2.12/24") {
			t.Errorf("Run ip addr in b: %q, %v", out, err)
		}

		// A pulled cable breaks reachability; plugging it back restores it.
		if err := b.SetPortUp(false); err != nil {
			t.Fatal(err)
		}
		if err := pingPong(a, b, "tcp4", "192.0.2.12:7001"); err == nil {
			t.Errorf("a reached b with b's bridge port down")
		}
		if err := b.SetPortUp(true); err != nil {
			t.Fatal(err)
		}
		if err := pingPong(a, b, "tcp4", "192.0.2.12:7002"); err != nil {
			t.Errorf("after port up: %v", err)
		}
	})
	if prefix == "" {
		t.Fatal("lab was not built")
	}
	if got := hostState(t, prefix); len(got) != 0 {
		t.Errorf("after teardown the host still has %q", got)
	}
	if pid != 0 {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("process %d still exists after teardown (kill 0: %v)", pid, err)
		}
	}
}

// pingPong listens in b, dials from a, and exchanges one message each way.
func pingPong(a, b *Node, network, addr string) error {
	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	}); err != nil {
		return fmt.Errorf("listen in %s: %w", b.Name, err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	srvErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			err = fmt.Errorf("server read %q", line)
		}
		if err == nil {
			_, err = io.WriteString(c, "pong\n")
		}
		srvErr <- err
	}()
	var c net.Conn
	err := a.Do(func() (err error) {
		c, err = net.DialTimeout(network, addr, 1500*time.Millisecond)
		return err
	})
	if err != nil {
		ln.Close()
		wg.Wait()
		return fmt.Errorf("dial from %s: %w", a.Name, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "pong\n" {
		return fmt.Errorf("client read %q: %v", line, err)
	}
	wg.Wait()
	return <-srvErr
}

// fakeTB records cleanups and turns Fatal into Goexit, so a test can watch
// New fail half-way and then run the cleanups itself.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	fatal    string
}

func (f *fakeTB) Cleanup(fn func()) { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func TestLabTeardownAfterSetupFailure(t *testing.T) {
	Require(t)
	before := hostState(t, "lbt")
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// "lo" already exists in every node namespace: the veth add fails
		// after the switch and node a have been created.
		New(f, Config{IfName: "lo"})
	}()
	<-done
	if !strings.Contains(f.fatal, "adding veth") {
		t.Fatalf("New failed with %q, want the veth error", f.fatal)
	}
	created := diff(hostState(t, "lbt"), before)
	if len(created) < 2 {
		t.Errorf("expected the switch and node a to exist before cleanup, saw %q", created)
	}
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	if left := diff(hostState(t, "lbt"), before); len(left) != 0 {
		t.Errorf("after cleanup of a failed New, still present: %q", left)
	}
}

func diff(now, before []string) []string {
	var out []string
	for _, s := range now {
		if !slices.Contains(before, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestLabNewNS(t *testing.T) {
	ns := NewNS(t)
	var names []string
	err := Do(ns, func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"lo"}) {
		t.Errorf("fresh namespace interfaces %v, want only lo", names)
	}
}
