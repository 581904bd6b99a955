package vrrp

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/lab"
	"github.com/lbd-ha/lbd/vip"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The netns tests run real Nodes (raw sockets, netlink VIPs, GARP) in lab
// namespaces joined by a bridge. They need root: `sudo go test -run Netns
// ./vrrp/`; lab.Require skips them otherwise (fails under CI=true).

var labVIP = netip.MustParsePrefix("192.0.2.100/24")

// crashConn can freeze a node's network output, as a crashed or hung
// process looks from the wire.
type crashConn struct {
	Conn
	crashed atomic.Bool
}

func (c *crashConn) WriteAdvert(b []byte, dst netip.Addr) error {
	if c.crashed.Load() {
		return nil
	}
	return c.Conn.WriteAdvert(b, dst)
}

// tWriter sends log lines to the test log.
type tWriter struct {
	t    *testing.T
	name string
}

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("[%s] %s", w.name, strings.TrimSpace(string(b)))
	return len(b), nil
}

// nsAnnouncer sends announcements from inside the node's namespace.
type nsAnnouncer struct {
	node *lab.Node
	a    vip.Announcer
}

func (x nsAnnouncer) Announce(ctx context.Context, ifname string, addr netip.Addr) error {
	return x.node.Do(func() error { return x.a.Announce(ctx, ifname, addr) })
}

type labVRRP struct {
	*Node
	ln     *lab.Node
	conn   *crashConn
	vip    netip.Addr
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func labInstance(prio int, interval time.Duration) InstanceConfig {
	return InstanceConfig{
		Name: "VI_1", Interface: "lab0", VRID: 51, Version: 3, Priority: prio, Interval: interval, Preempt: true,
		VIPs: vips("lab0", labVIP.String()),
		GARP: GARPSchedule{Repeat: 1},
	}
}

func startLab(t *testing.T, ln *lab.Node, cfg InstanceConfig) *labVRRP {
	t.Helper()
	var c *IPConn
	if err := ln.Do(func() error {
		var err error
		var exclude []netip.Addr
		for _, v := range cfg.VIPs {
			exclude = append(exclude, v.Prefix.Addr())
		}
		c, err = Dial(DialConfig{Interface: ln.IfName, Exclude: exclude, Unicast: len(cfg.UnicastPeers) > 0, VRID: cfg.VRID, IPv6: cfg.VIPs[0].Prefix.Addr().Is6()})
		return err
	}); err != nil {
		t.Fatalf("dial in %s: %v", ln.Name, err)
	}
	if want := ln.Addr.Addr(); want.Is4() == c.LocalAddr().Is4() && c.LocalAddr() != want {
		t.Fatalf("local address %v, want %v", c.LocalAddr(), ln.Addr.Addr())
	}
	cc := &crashConn{Conn: c}
	n, err := NewNode(cfg, Deps{
		Conn: cc, VIPs: vip.NewNetlinkAt(ln.Netlink()),
		Announcer: nsAnnouncer{ln, vip.NewAnnouncer(false, false)},
		RunNotify: func(string, ...string) error { return nil },
		Logger:    slog.New(slog.NewTextHandler(tWriter{t, ln.Name}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lv := &labVRRP{Node: n, ln: ln, conn: cc, vip: cfg.VIPs[0].Prefix.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { lv.done <- n.Run(ctx) }()
	t.Cleanup(func() { lv.stop() })
	return lv
}

func (lv *labVRRP) stop() error {
	lv.once.Do(func() {
		lv.cancel()
		select {
		case lv.err = <-lv.done:
		case <-time.After(10 * time.Second):
			lv.err = context.DeadlineExceeded
		}
	})
	return lv.err
}

func (lv *labVRRP) hasVIP(t *testing.T) bool {
	t.Helper()
	ok, err := lv.ln.HasAddr("", lv.vip)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// waitState waits (bounded) for lv to reach s and returns how long it took.
func waitState(t *testing.T, lv *labVRRP, s State, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if !lab.WaitFor(timeout, func() bool { return lv.State() == s }) {
		t.Fatalf("%s: state %v after %v, want %v (status %+v)", lv.ln.Name, lv.State(), timeout, s, lv.Status())
	}
	return time.Since(start)
}

// noSplitBrain samples every 10 ms for d: at most one master and at most one
// node with the VIP.
func noSplitBrain(t *testing.T, d time.Duration, nodes ...*labVRRP) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		masters, holders := 0, 0
		for _, n := range nodes {
			if n.State() == Master {
				masters++
			}
			if n.hasVIP(t) {
				holders++
			}
		}
		if masters > 1 || holders > 1 {
			t.Fatalf("split brain: %d masters, %d VIP holders", masters, holders)
		}
	}
}

func TestNetnsElectionCrashAndPreempt(t *testing.T) {
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}})
	interval := 100 * time.Millisecond
	a := startLab(t, l.Node("a"), labInstance(150, interval))
	b := startLab(t, l.Node("b"), labInstance(100, interval))
	waitState(t, a, Master, 5*time.Second)
	waitState(t, b, Backup, time.Second)
	if !lab.WaitFor(time.Second, func() bool { return a.hasVIP(t) }) || b.hasVIP(t) {
		t.Fatalf("VIP on a=%v b=%v", a.hasVIP(t), b.hasVIP(t))
	}
	noSplitBrain(t, time.Second, a, b)
	if st := b.Status(); st.AdvertsRx < 5 || st.MasterIP != a.ln.Addr.Addr().String() {
		t.Errorf("backup status %+v", st)
	}

	// Crash: a goes silent and keeps its VIP (kill -9). b takes over after
	// Master_Down_Interval (361 ms).
	a.conn.crashed.Store(true)
	took := waitState(t, b, Master, 5*time.Second)
	t.Logf("crash takeover: %v (Master_Down_Interval %v)", took, MasterDownInterval(3, 100, interval))
	if took < MasterDownInterval(3, 100, interval)-interval {
		t.Errorf("takeover after %v, before Master_Down_Interval - interval", took)
	}
	if !lab.WaitFor(time.Second, func() bool { return b.hasVIP(t) }) {
		t.Fatal("b has no VIP")
	}
	// The dead a: stop it, leave its VIP behind, restart it. The new a
	// removes the stale VIP, then preempts b.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if err := vip.NewNetlinkAt(a.ln.Netlink()).Add(context.Background(), vip.Address{Prefix: labVIP, Interface: "lab0"}); err != nil {
		t.Fatal(err)
	}
	a = startLab(t, l.Node("a"), labInstance(150, interval))
	waitState(t, a, Backup, time.Second)
	waitState(t, a, Master, 5*time.Second)
	waitState(t, b, Backup, time.Second)
	if !lab.WaitFor(time.Second, func() bool { return a.hasVIP(t) && !b.hasVIP(t) }) {
		t.Fatalf("after preemption VIP on a=%v b=%v", a.hasVIP(t), b.hasVIP(t))
	}
	noSplitBrain(t, 500*time.Millisecond, a, b)
}

func TestNetnsGracefulHandover(t *testing.T) {
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}})
	interval := time.Second
	a := startLab(t, l.Node("a"), labInstance(150, interval))
	b := startLab(t, l.Node("b"), labInstance(100, interval))
	waitState(t, a, Master, 6*time.Second)
	waitState(t, b, Backup, time.Second)

	// Admin handover: b takes over in Skew_Time (609 ms), far below
	// Master_Down_Interval (3.6 s); a stays backup.
	start := time.Now()
	a.Handover()
	waitState(t, b, Master, 3*time.Second)
	took := time.Since(start)
	t.Logf("handover takeover: %v (Skew_Time %v)", took, SkewTime(3, 100, interval))
	if took > 2*time.Second {
		t.Errorf("handover took %v, more than 2 s", took)
	}
	noSplitBrain(t, 2*time.Second, a, b)
	if a.State() != Backup || !a.Status().HandedOver || a.hasVIP(t) || !b.hasVIP(t) {
		t.Fatalf("after handover: a %v %+v", a.State(), a.Status())
	}
	// Resume: a preempts again.
	a.Resume()
	waitState(t, a, Master, 6*time.Second)
	waitState(t, b, Backup, time.Second)

	// Graceful stop of the master (priority 0): b in Skew_Time.
	start = time.Now()
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, Master, 3*time.Second)
	took = time.Since(start)
	t.Logf("graceful stop takeover: %v", took)
	if took > 2*time.Second {
		t.Errorf("graceful takeover took %v", took)
	}
	if a.hasVIP(t) {
		t.Error("stopped node kept its VIP")
	}
}

func TestNetnsNoPreemptAndUnicast(t *testing.T) {
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}})
	interval := 100 * time.Millisecond
	ca, cb := labInstance(150, interval), labInstance(100, interval)
	ca.Preempt = false
	ca.UnicastPeers = []netip.Addr{l.Node("b").Addr.Addr()}
	cb.UnicastPeers = []netip.Addr{l.Node("a").Addr.Addr()}
	b := startLab(t, l.Node("b"), cb)
	waitState(t, b, Master, 5*time.Second)
	a := startLab(t, l.Node("a"), ca)
	waitState(t, a, Backup, time.Second)
	// a has the higher priority but does not preempt.
	noSplitBrain(t, 2*time.Second, a, b)
	if a.State() != Backup || b.State() != Master || a.Status().AdvertsRx == 0 {
		t.Fatalf("nopreempt: a %v b %v a.rx %d", a.State(), b.State(), a.Status().AdvertsRx)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, Master, 2*time.Second)
}

// TestNetnsActiveActive runs two instances per node with opposite
// priorities: each node is master of one VIP, and the VRID socket filter
// keeps each instance from seeing (and counting) the other's adverts.
func TestNetnsActiveActive(t *testing.T) {
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}})
	interval := 100 * time.Millisecond
	inst := func(name string, vrid uint8, prio int, addr string) InstanceConfig {
		c := labInstance(prio, interval)
		c.Name, c.VRID, c.VIPs = name, vrid, vips("lab0", addr)
		return c
	}
	a1 := startLab(t, l.Node("a"), inst("VI_1", 51, 150, "192.0.2.100/24"))
	a2 := startLab(t, l.Node("a"), inst("VI_2", 52, 100, "192.0.2.101/24"))
	b1 := startLab(t, l.Node("b"), inst("VI_1", 51, 100, "192.0.2.100/24"))
	b2 := startLab(t, l.Node("b"), inst("VI_2", 52, 150, "192.0.2.101/24"))
	waitState(t, a1, Master, 5*time.Second)
	waitState(t, b2, Master, 5*time.Second)
	// Once adverts flow (both backups have heard their master).
	waitState(t, b1, Backup, time.Second)
	waitState(t, a2, Backup, time.Second)
	if !lab.WaitFor(time.Second, func() bool { return b1.Status().AdvertsRx > 0 && a2.Status().AdvertsRx > 0 }) {
		t.Fatal("backups hear no adverts")
	}
	t.Logf("transitions before sampling: a1 %d a2 %d b1 %d b2 %d", a1.Status().Transitions, a2.Status().Transitions, b1.Status().Transitions, b2.Status().Transitions)
	noSplitBrain(t, time.Second, a1, b1)
	noSplitBrain(t, 10*time.Millisecond, a2, b2)
	for _, n := range []*labVRRP{a1, a2, b1, b2} {
		st := n.Status()
		if len(st.Drops) != 0 {
			t.Errorf("%s/%s drops %v", n.ln.Name, st.Name, st.Drops)
		}
		if st.State == "BACKUP" && st.AdvertsRx < 5 {
			t.Errorf("%s/%s received %d adverts", n.ln.Name, st.Name, st.AdvertsRx)
		}
	}
	if !a1.hasVIP(t) || !b2.hasVIP(t) || b1.hasVIP(t) || a2.hasVIP(t) {
		t.Errorf("VIPs: a has .100=%v .101=%v; b has .100=%v .101=%v", a1.hasVIP(t), a2.hasVIP(t), b1.hasVIP(t), b2.hasVIP(t))
	}
}

func TestNetnsIPv6(t *testing.T) {
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}, IPv6: true})
	// Adverts come from the link-local address, usable once its DAD is done.
	for _, ln := range l.Nodes {
		link, err := ln.Netlink().LinkByName(ln.IfName)
		if err != nil {
			t.Fatal(err)
		}
		if !lab.WaitFor(10*time.Second, func() bool {
			addrs, err := ln.Netlink().AddrList(link, netlink.FAMILY_V6)
			if err != nil {
				return false
			}
			for _, a := range addrs {
				if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("%s: no usable IPv6 link-local address", ln.Name)
		}
	}
	interval := 100 * time.Millisecond
	inst := func(prio int) InstanceConfig {
		c := labInstance(prio, interval)
		c.VIPs = vips("lab0", "2001:db8::100/64")
		return c
	}
	a := startLab(t, l.Node("a"), inst(150))
	b := startLab(t, l.Node("b"), inst(100))
	waitState(t, a, Master, 5*time.Second)
	waitState(t, b, Backup, time.Second)
	noSplitBrain(t, time.Second, a, b)
	st := b.Status()
	if st.AdvertsRx < 5 || len(st.Drops) != 0 || !netip.MustParseAddr(st.MasterIP).IsLinkLocalUnicast() {
		t.Fatalf("IPv6 backup status %+v", st)
	}
	if !a.hasVIP(t) || b.hasVIP(t) {
		t.Fatalf("VIP on a=%v b=%v", a.hasVIP(t), b.hasVIP(t))
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, Master, 2*time.Second)
	if !lab.WaitFor(time.Second, func() bool { return b.hasVIP(t) && !a.hasVIP(t) }) {
		t.Fatalf("after stop VIP on a=%v b=%v", a.hasVIP(t), b.hasVIP(t))
	}
}
