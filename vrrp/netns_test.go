package vrrp

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/lab"
	"github.com/lbd-ha/lbd/vip"
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
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func labInstance(prio int, interval time.Duration) config.VRRPInstance {
	return config.VRRPInstance{
		Name: "VI_1", Interface: "lab0", VRID: 51, Priority: prio, AdvertInterval: interval,
		VIPs: []config.VIP{{Address: labVIP.String()}},
		GARP: config.GARP{MasterRepeat: 1, MasterDelay: durp(0)},
	}
}

func startLab(t *testing.T, ln *lab.Node, cfg config.VRRPInstance) *labVRRP {
	t.Helper()
	var c *IPConn
	if err := ln.Do(func() error {
		var err error
		c, err = Dial(DialConfig{Interface: ln.IfName, Exclude: []netip.Addr{labVIP.Addr()}, Unicast: len(cfg.UnicastPeers) > 0})
		return err
	}); err != nil {
		t.Fatalf("dial in %s: %v", ln.Name, err)
	}
	if c.LocalAddr() != ln.Addr.Addr() {
		t.Fatalf("local address %v, want %v", c.LocalAddr(), ln.Addr.Addr())
	}
	cc := &crashConn{Conn: c}
	n, err := NewNode(cfg, Deps{
		Conn: cc, VIPs: vip.NewNetlinkAt(ln.Netlink()),
		Announcer: nsAnnouncer{ln, vip.NewGARP(false)},
		RunNotify: func(string, ...string) error { return nil },
	})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lv := &labVRRP{Node: n, ln: ln, conn: cc, cancel: cancel, done: make(chan error, 1)}
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
	ok, err := lv.ln.HasAddr("", labVIP.Addr())
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
	ca.Preempt = boolp(false)
	ca.UnicastPeers = []string{l.Node("b").Addr.Addr().String()}
	cb.UnicastPeers = []string{l.Node("a").Addr.Addr().String()}
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
