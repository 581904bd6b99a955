package vrrp

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lbd-ha/lbd/vip"
)

// vips are addresses on ifname.
func vips(ifname string, addrs ...string) []vip.Address {
	var out []vip.Address
	for _, a := range addrs {
		out = append(out, vip.Address{Prefix: netip.MustParsePrefix(a), Interface: ifname})
	}
	return out
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func testInstance(prio int) InstanceConfig {
	return InstanceConfig{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 3, Priority: prio, Interval: time.Second, Preempt: true,
		VIPs:   vips("eth0", "10.9.0.100/24"),
		Notify: NotifyCommands{Master: "/bin/notify master", Backup: "/bin/notify backup", Fault: "/bin/notify fault", Stop: "/bin/notify stop"},
		GARP:   GARPSchedule{Repeat: 2, Delay: 5 * time.Second},
	}
}

type testNode struct {
	*Node
	conn   *fakeConn
	vips   *fakeVIPs
	ann    *fakeAnnouncer
	notes  *notifyLog
	cancel context.CancelFunc
	done   chan error
	err    error
	once   sync.Once
}

func startNode(t *testing.T, cfg InstanceConfig, conn *fakeConn, present ...vip.Address) *testNode {
	t.Helper()
	tn := &testNode{conn: conn, vips: newFakeVIPs(present...), ann: &fakeAnnouncer{}, notes: &notifyLog{}, done: make(chan error, 1)}
	n, err := NewNode(cfg, Deps{Conn: conn, VIPs: tn.vips, Announcer: tn.ann, RunNotify: tn.notes.run})
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	go func() { tn.done <- n.Run(ctx) }()
	t.Cleanup(func() { tn.halt() })
	synctest.Wait()
	return tn
}

func (tn *testNode) halt() error {
	tn.once.Do(func() {
		tn.cancel()
		tn.err = <-tn.done
	})
	return tn.err
}

func (tn *testNode) stop(t *testing.T) {
	t.Helper()
	if err := tn.halt(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

var vip100 = vip.Address{Prefix: netip.MustParsePrefix("10.9.0.100/24"), Interface: "eth0"}

func TestNodeLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		conn := newFakeConn(nil, "10.9.0.1")
		n := startNode(t, testInstance(100), conn, vip100)
		// The stale VIP from a crash is gone before anything else.
		if got := n.vips.log(); got != "del 10.9.0.100/24 dev eth0" {
			t.Errorf("vip ops at start = %q", got)
		}
		if n.State() != Backup || len(conn.sent()) != 0 {
			t.Fatalf("state %v, %d adverts sent", n.State(), len(conn.sent()))
		}
		mdi := MasterDownInterval(3, 100, time.Second)
		time.Sleep(mdi - time.Millisecond)
		synctest.Wait()
		if n.State() != Backup {
			t.Fatalf("master before Master_Down_Interval")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n.State() != Master || n.vips.held() != 1 {
			t.Fatalf("state %v, %d VIPs held at Master_Down_Interval", n.State(), n.vips.held())
		}
		out := conn.sent()
		if len(out) != 1 || out[0].dst != Group4 || out[0].p.Priority != 100 || out[0].at.Sub(start) != mdi ||
			out[0].p.Addrs[0] != kVIP || out[0].p.VRID != 51 || out[0].p.Version != 3 {
			t.Fatalf("first advert %+v", out)
		}
		// GARP: a burst of 2 right away, after the advert.
		if g := n.ann.times(); len(g) != 2 || g[0].Sub(start) != mdi {
			t.Fatalf("garps %v", g)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		g := n.ann.times()
		if len(g) != 4 || g[2].Sub(g[0]) != 5*time.Second {
			t.Errorf("second burst: %d garps %v", len(g), g)
		}
		// One advert per second while master.
		if out := conn.sent(); len(out) != 6 || out[5].at.Sub(out[4].at) != time.Second {
			t.Errorf("%d adverts in 5 s as master", len(out))
		}
		st := n.Status()
		if st.State != "MASTER" || st.MasterIP != "10.9.0.1" || !st.VIPsHeld || st.AdvertsTx != 6 || st.Transitions != 2 ||
			st.EffectivePriority != 100 || st.LastTransition.Sub(start) != mdi || !strings.Contains(st.LastReason, "Master_Down_Interval") {
			t.Errorf("status %+v", st)
		}
		n.stop(t)
		out = conn.sent()
		if last := out[len(out)-1]; last.p.Priority != 0 {
			t.Errorf("last advert priority %d, want 0", last.p.Priority)
		}
		if n.vips.held() != 0 || n.State() != Init {
			t.Errorf("after stop: %d VIPs, state %v", n.vips.held(), n.State())
		}
		if got, want := n.notes.String(), "/bin/notify backup VI_1 BACKUP | /bin/notify master VI_1 MASTER | /bin/notify stop VI_1 STOP"; got != want {
			t.Errorf("notify = %q, want %q", got, want)
		}
		// No GARP after the stop.
		time.Sleep(time.Minute)
		synctest.Wait()
		if g := n.ann.times(); len(g) != 4 {
			t.Errorf("%d garps after stop", len(g))
		}
	})
}

func advertBytes(t *testing.T, src string, vrid, prio uint8) []byte {
	p := Packet{Version: 3, VRID: vrid, Priority: prio, Interval: time.Second, Addrs: []netip.Addr{kVIP}}
	b, err := p.Marshal(netip.MustParseAddr(src), Group4, ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNodeReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := newFakeConn(nil, "10.9.0.1")
		cfg := testInstance(100)
		cfg.GARP.Refresh = 30 * time.Second
		n := startNode(t, cfg, conn)
		peer := RecvInfo{Src: netip.MustParseAddr("10.9.0.2"), Dst: Group4, TTL: 255}
		// Drops by reason.
		conn.inject(advertBytes(t, "10.9.0.2", 51, 150), RecvInfo{Src: peer.Src, Dst: Group4, TTL: 64})
		conn.inject(advertBytes(t, "10.9.0.2", 52, 150), peer)
		conn.inject(advertBytes(t, "10.9.0.2", 51, 150)[:9], peer)
		bad := advertBytes(t, "10.9.0.2", 51, 150)
		bad[8] ^= 0xff
		conn.inject(bad, peer)
		// Our own advert, looped back, is ignored.
		conn.inject(advertBytes(t, "10.9.0.1", 51, 150), RecvInfo{Src: conn.local, Dst: Group4, TTL: 255})
		synctest.Wait()
		st := n.Status()
		want := map[string]uint64{DropTTL: 1, DropVRID: 1, DropTruncated: 1, DropChecksum: 1}
		for k, v := range want {
			if st.Drops[k] != v {
				t.Errorf("drops %v, want %v", st.Drops, want)
				break
			}
		}
		if st.AdvertsRx != 0 || n.State() != Backup {
			t.Errorf("rx %d state %v", st.AdvertsRx, n.State())
		}
		// A valid higher-priority master keeps us backup past the timer.
		for range 10 {
			conn.inject(advertBytes(t, "10.9.0.2", 51, 150), peer)
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if st := n.Status(); n.State() != Backup || st.AdvertsRx != 10 || st.MasterIP != "10.9.0.2" {
			t.Fatalf("state %v status %+v", n.State(), st)
		}
		// The master resigns: we take over after Skew_Time.
		conn.inject(advertBytes(t, "10.9.0.2", 51, 0), peer)
		synctest.Wait()
		t0 := time.Now()
		time.Sleep(SkewTime(3, 100, time.Second))
		synctest.Wait()
		if n.State() != Master {
			t.Fatalf("not master Skew_Time after priority 0")
		}
		if d := conn.sent()[0].at.Sub(t0); d != SkewTime(3, 100, time.Second) {
			t.Errorf("takeover after %v", d)
		}
		// A higher priority comes back: we step down, VIPs go, GARP stops.
		conn.inject(advertBytes(t, "10.9.0.2", 51, 200), peer)
		synctest.Wait()
		if n.State() != Backup || n.vips.held() != 0 {
			t.Fatalf("state %v VIPs %d", n.State(), n.vips.held())
		}
		garps := len(n.ann.times())
		for range 60 { // the new master keeps advertising for a minute
			time.Sleep(time.Second)
			conn.inject(advertBytes(t, "10.9.0.2", 51, 200), peer)
		}
		synctest.Wait()
		if n.State() != Backup {
			t.Errorf("state %v under a live higher-priority master", n.State())
		}
		if g := len(n.ann.times()); g != garps {
			t.Errorf("GARP went on after stepping down: %d -> %d", garps, g)
		}
		n.stop(t)
	})
}

func TestNodeGARPRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testInstance(255)
		cfg.GARP = GARPSchedule{Repeat: 3, Refresh: 10 * time.Second}
		n := startNode(t, cfg, newFakeConn(nil, "10.9.0.1"))
		if n.State() != Master {
			t.Fatalf("owner not master at start: %v", n.State())
		}
		time.Sleep(35 * time.Second)
		synctest.Wait()
		// 3 now, no second burst (delay 0), then one every 10 s.
		if g := len(n.ann.times()); g != 6 {
			t.Errorf("%d announcements in 35 s, want 6", g)
		}
		n.stop(t)
	})
}

func TestNodeTrackAndHandover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testInstance(100)
		cfg.Tracks = []Track{
			{Kind: "interface", Name: "eth1", Weight: 0},
			{Kind: "backend", Name: "app", Weight: -30},
			{Kind: "frontend", Name: "web", Weight: 10},
		}
		conn := newFakeConn(nil, "10.9.0.1")
		n := startNode(t, cfg, conn)
		if st := n.Status(); st.EffectivePriority != 110 || st.BasePriority != 100 {
			t.Fatalf("priority %d/%d, want 110/100", st.EffectivePriority, st.BasePriority)
		}
		time.Sleep(MasterDownInterval(3, 110, time.Second))
		synctest.Wait()
		if n.State() != Master {
			t.Fatalf("state %v", n.State())
		}
		n.SetTrack("backend/app", false)
		synctest.Wait()
		out := conn.sent()
		if n.Status().EffectivePriority != 80 || out[len(out)-1].p.Priority != 80 {
			t.Errorf("after backend failure: priority %d, last advert %d", n.Status().EffectivePriority, out[len(out)-1].p.Priority)
		}
		n.SetTrack("web", false)
		synctest.Wait()
		if n.Status().EffectivePriority != 70 {
			t.Errorf("after frontend failure: priority %d", n.Status().EffectivePriority)
		}
		n.SetTrack("unknown", false) // ignored
		n.SetTrack("eth1", false)
		synctest.Wait()
		out = conn.sent()
		if n.State() != Fault || n.vips.held() != 0 || out[len(out)-1].p.Priority != 0 {
			t.Fatalf("after interface down: %v, VIPs %d, last advert %d", n.State(), n.vips.held(), out[len(out)-1].p.Priority)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(conn.sent()) != len(out) || n.State() != Fault {
			t.Errorf("FAULT instance sent adverts or left FAULT")
		}
		n.SetTrack("interface/eth1", true)
		n.SetTrack("app", true)
		n.SetTrack("web", true)
		synctest.Wait()
		if n.State() != Backup || n.Status().EffectivePriority != 110 {
			t.Fatalf("after recovery: %v prio %d", n.State(), n.Status().EffectivePriority)
		}
		time.Sleep(MasterDownInterval(3, 110, time.Second))
		synctest.Wait()
		if n.State() != Master {
			t.Fatalf("state %v", n.State())
		}
		n.Handover()
		synctest.Wait()
		out = conn.sent()
		st := n.Status()
		if n.State() != Backup || !st.HandedOver || st.EffectivePriority != HandoverPriority || out[len(out)-1].p.Priority != 0 || n.vips.held() != 0 {
			t.Fatalf("after handover: %v %+v last advert %d", n.State(), st, out[len(out)-1].p.Priority)
		}
		n.Resume()
		synctest.Wait()
		if st := n.Status(); st.HandedOver || st.EffectivePriority != 110 {
			t.Errorf("after resume: %+v", st)
		}
		wantNotes := "/bin/notify backup VI_1 BACKUP | /bin/notify master VI_1 MASTER | /bin/notify fault VI_1 FAULT | /bin/notify backup VI_1 BACKUP | /bin/notify master VI_1 MASTER | /bin/notify backup VI_1 BACKUP"
		if got := n.notes.String(); got != wantNotes {
			t.Errorf("notify\n got %q\nwant %q", got, wantNotes)
		}
		n.stop(t)
	})
}

// TestNodePair runs two nodes on a fake LAN: election by priority, graceful
// handover in Skew_Time, crash takeover in Master_Down_Interval, preemption.
// electedPair starts A (150) and B (100) at 100 ms adverts on a fake LAN
// and waits for A to be master; call it inside a synctest bubble.
func electedPair(t *testing.T) (*hub, *testNode, *testNode, InstanceConfig) {
	t.Helper()
	lan := &hub{}
	cfgA, cfgB := testInstance(150), testInstance(100)
	cfgA.Interval, cfgB.Interval = 100*time.Millisecond, 100*time.Millisecond
	a := startNode(t, cfgA, newFakeConn(lan, "10.9.0.1"))
	b := startNode(t, cfgB, newFakeConn(lan, "10.9.0.2"))
	time.Sleep(5 * time.Second)
	synctest.Wait()
	if a.State() != Master || b.State() != Backup {
		t.Fatalf("election: a %v b %v", a.State(), b.State())
	}
	return lan, a, b, cfgA
}

func TestNodePair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan, a, b, cfgA := electedPair(t)
		connA, connB := a.conn, b.conn
		// Graceful stop of A: B is master Skew_Time after A's priority 0.
		a.stop(t)
		outA := connA.sent()
		resign := outA[len(outA)-1].at
		time.Sleep(time.Second)
		synctest.Wait()
		if b.State() != Master {
			t.Fatalf("b %v after a's graceful stop", b.State())
		}
		if d := connB.sent()[0].at.Sub(resign); d != SkewTime(3, 100, 100*time.Millisecond) {
			t.Errorf("graceful takeover in %v, want Skew_Time %v", d, SkewTime(3, 100, 100*time.Millisecond))
		}
		// A comes back and preempts B (preempt on).
		connA2 := newFakeConn(lan, "10.9.0.1")
		a = startNode(t, cfgA, connA2)
		time.Sleep(time.Second)
		synctest.Wait()
		if a.State() != Master || b.State() != Backup || b.vips.held() != 0 {
			t.Fatalf("preemption: a %v b %v", a.State(), b.State())
		}
		// A crashes (no priority 0): B takes over Master_Down_Interval after
		// A's last advert.
		connA2.cut()
		outA = connA2.sent()
		last := outA[len(outA)-1].at
		before := len(connB.sent())
		time.Sleep(time.Second)
		synctest.Wait()
		if b.State() != Master {
			t.Fatalf("b %v after a's crash", b.State())
		}
		if d := connB.sent()[before].at.Sub(last); d != MasterDownInterval(3, 100, 100*time.Millisecond) {
			t.Errorf("crash takeover in %v, want %v", d, MasterDownInterval(3, 100, 100*time.Millisecond))
		}
		a.stop(t)
		b.stop(t)
	})
}

func TestNodeNoPreempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &hub{}
		cfgA, cfgB := testInstance(150), testInstance(100)
		cfgA.Preempt = false
		b := startNode(t, cfgB, newFakeConn(lan, "10.9.0.2"))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		a := startNode(t, cfgA, newFakeConn(lan, "10.9.0.1"))
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if a.State() != Backup || b.State() != Master {
			t.Errorf("nopreempt: a %v b %v", a.State(), b.State())
		}
		a.stop(t)
		b.stop(t)
	})
}

func TestNodeUnicastAndV2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &hub{}
		cfgA, cfgB := testInstance(150), testInstance(100)
		for _, c := range []*InstanceConfig{&cfgA, &cfgB} {
			c.Version, c.AuthPass = 2, "secret12"
		}
		cfgA.UnicastSrc, cfgA.UnicastPeers = netip.MustParseAddr("10.9.0.1"), addrs("10.9.0.2")
		cfgB.UnicastSrc, cfgB.UnicastPeers = netip.MustParseAddr("10.9.0.2"), addrs("10.9.0.1")
		connA, connB := newFakeConn(lan, "10.9.0.1"), newFakeConn(lan, "10.9.0.2")
		a := startNode(t, cfgA, connA)
		b := startNode(t, cfgB, connB)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.State() != Master || b.State() != Backup {
			t.Fatalf("a %v b %v", a.State(), b.State())
		}
		out := connA.sent()
		if out[0].dst != netip.MustParseAddr("10.9.0.2") || out[0].p.Version != 2 || out[0].p.AuthPass() != "secret12" {
			t.Errorf("advert %+v", out[0])
		}
		if b.Status().AdvertsRx == 0 {
			t.Errorf("b received nothing")
		}
		a.stop(t)
		b.stop(t)
	})
}

// NewNode trusts its InstanceConfig (config.Load checks the ranges with
// file:line) but refuses what would break the Node or its Machine.
func TestNewNodeRejects(t *testing.T) {
	bad := map[string]func(*InstanceConfig){
		"no vips":          func(c *InstanceConfig) { c.VIPs = nil },
		"v2 100ms":         func(c *InstanceConfig) { c.Version, c.Interval = 2, 100*time.Millisecond },
		"v3 5ms":           func(c *InstanceConfig) { c.Interval = 5 * time.Millisecond },
		"version 4":        func(c *InstanceConfig) { c.Version = 4 },
		"priority 300":     func(c *InstanceConfig) { c.Priority = 300 },
		"priority 0":       func(c *InstanceConfig) { c.Priority = 0 },
		"preempt delay 1h": func(c *InstanceConfig) { c.PreemptDelay = time.Hour },
	}
	for name, mut := range bad {
		cfg := testInstance(100)
		mut(&cfg)
		if _, err := NewNode(cfg, Deps{Conn: newFakeConn(nil, "10.9.0.1"), VIPs: newFakeVIPs()}); err == nil {
			t.Errorf("%s: NewNode accepted", name)
		}
	}
	if _, err := NewNode(testInstance(100), Deps{Conn: newFakeConn(nil, "10.9.0.1")}); err == nil {
		t.Error("NewNode without a vip.Manager")
	}
	v6 := InstanceConfig{Name: "x", Interface: "eth0", VRID: 1, Version: 3, Priority: 100, Interval: time.Second,
		VIPs: vips("eth0", "2001:db8::1/128")}
	n, err := NewNode(v6, Deps{Conn: newFakeConn(nil, "fe80::1"), VIPs: newFakeVIPs()})
	if err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.Version != 3 || st.BasePriority != 100 || st.AdvertInterval != time.Second || st.VIPs[0] != "2001:db8::1/128" || st.State != "INIT" || st.VRID != 1 {
		t.Errorf("status: %+v", st)
	}
	if d := n.dsts; len(d) != 1 || d[0] != Group6 {
		t.Errorf("IPv6 instance sends to %v, want %v", d, Group6)
	}
}

// flakyConn fails its first reads.
type flakyConn struct {
	*fakeConn
	mu    sync.Mutex
	fails int
}

func (c *flakyConn) ReadAdvert(b []byte) (int, RecvInfo, error) {
	c.mu.Lock()
	if c.fails > 0 {
		c.fails--
		c.mu.Unlock()
		return 0, RecvInfo{}, errClosed
	}
	c.mu.Unlock()
	return c.fakeConn.ReadAdvert(b)
}

func TestNodeReadErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Transient read errors: the instance keeps running and receiving.
		fc := &flakyConn{fakeConn: newFakeConn(nil, "10.9.0.1"), fails: 5}
		n, err := NewNode(testInstance(100), Deps{Conn: fc, VIPs: newFakeVIPs()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		time.Sleep(time.Second)
		fc.inject(advertBytes(t, "10.9.0.2", 51, 150), RecvInfo{Src: netip.MustParseAddr("10.9.0.2"), Dst: Group4, TTL: 255})
		synctest.Wait()
		if n.Status().AdvertsRx != 1 || n.State() != Backup {
			t.Errorf("after transient errors: %v %+v", n.State(), n.Status())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		// A socket that never recovers ends Run with an error, gracefully.
		fc = &flakyConn{fakeConn: newFakeConn(nil, "10.9.0.1"), fails: maxReadFailures}
		vips := newFakeVIPs()
		n, _ = NewNode(testInstance(255), Deps{Conn: fc, VIPs: vips})
		err = n.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "read") || n.State() != Init || vips.held() != 0 {
			t.Errorf("Run = %v, state %v, VIPs %d", err, n.State(), vips.held())
		}
		if out := fc.sent(); out[len(out)-1].p.Priority != 0 {
			t.Errorf("no priority 0 on the way out")
		}
	})
}

// TestNodeBinaryUpgrade: the old process detaches (no priority-0 advert, the
// VIP stays), the new one resumes as master at once, and the backup peer
// never takes over.
func TestNodeBinaryUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan, a, b, cfgA := electedPair(t)
		connA, connB := a.conn, b.conn
		a.Detach()
		a.stop(t)
		if a.StoppedAs() != Master {
			t.Fatalf("StoppedAs = %v, want MASTER", a.StoppedAs())
		}
		outA := connA.sent()
		if last := outA[len(outA)-1]; last.p.Priority != 150 {
			t.Errorf("detach sent priority %d, want no resignation", last.p.Priority)
		}
		if a.vips.held() != 1 || strings.Contains(a.vips.log(), "del") {
			t.Errorf("detach touched the VIP: %q", a.vips.log())
		}
		if strings.Contains(a.notes.String(), "STOP") {
			t.Errorf("detach ran the stop notify: %q", a.notes.String())
		}

		// The new process starts 50 ms later with the VIP still present.
		time.Sleep(50 * time.Millisecond)
		connA2 := newFakeConn(lan, "10.9.0.1")
		vips := newFakeVIPs(vip100)
		n, err := NewNode(cfgA, Deps{Conn: connA2, VIPs: vips, Announcer: &fakeAnnouncer{}, RunNotify: (&notifyLog{}).run})
		if err != nil {
			t.Fatal(err)
		}
		n.ResumeFrom(a.StoppedAs())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		synctest.Wait()
		if n.State() != Master || len(connA2.sent()) != 1 || connA2.sent()[0].at.Sub(outA[len(outA)-1].at) > 150*time.Millisecond {
			t.Fatalf("resumed node: state %v, adverts %d", n.State(), len(connA2.sent()))
		}
		if got := vips.log(); got != "add 10.9.0.100/24 dev eth0" {
			t.Errorf("resume VIP ops = %q, want only the idempotent add", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if b.State() != Backup || len(connB.sent()) != 0 || b.Status().Transitions != 1 {
			t.Errorf("peer during the upgrade: %v, %d adverts, %d transitions", b.State(), len(connB.sent()), b.Status().Transitions)
		}
		b.stop(t)
	})
}
