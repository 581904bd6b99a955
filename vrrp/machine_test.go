package vrrp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	local = netip.MustParseAddr("10.0.0.2")
	lower = netip.MustParseAddr("10.0.0.1")
	upper = netip.MustParseAddr("10.0.0.3")
)

func render(acts []Action) string {
	s := make([]string, len(acts))
	for i, a := range acts {
		s[i] = fmt.Sprint(a)
	}
	return strings.Join(s, ", ")
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Init: "INIT", Backup: "BACKUP", Master: "MASTER", Fault: "FAULT", 0: "State(0)", 9: "State(9)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d) = %q, want %q", int(s), got, want)
		}
	}
}

func TestTimers(t *testing.T) {
	// The formula table of the VRRP notes (§4.1).
	ms := time.Millisecond
	for _, tt := range []struct {
		version, prio int
		adv           time.Duration
		skew, mdi     time.Duration
	}{
		{3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{3, 150, time.Second, 414062500, 3414062500},
		{3, 254, time.Second, 7812500, 3007812500},
		{3, 100, 500 * ms, 304687500, 1804687500},
		{3, 100, 100 * ms, 60937500, 360937500},
		{3, 200, 100 * ms, 21875000, 321875000},
		{3, 100, 50 * ms, 30468750, 180468750},
		{3, 100, 10 * ms, 6093750, 36093750},
		// v2: the skew ignores the interval.
		{2, 100, 3 * time.Second, 609375 * time.Microsecond, 9609375 * time.Microsecond},
	} {
		if got := SkewTime(tt.version, tt.prio, tt.adv); got != tt.skew {
			t.Errorf("SkewTime(v%d, %d, %v) = %v, want %v", tt.version, tt.prio, tt.adv, got, tt.skew)
		}
		if got := MasterDownInterval(tt.version, tt.prio, tt.adv); got != tt.mdi {
			t.Errorf("MasterDownInterval(v%d, %d, %v) = %v, want %v", tt.version, tt.prio, tt.adv, got, tt.mdi)
		}
	}
}

func TestMachineConfigValidate(t *testing.T) {
	good := MachineConfig{Version: 3, Priority: 100, Interval: time.Second, LocalAddr: local}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*MachineConfig){
		"v3 15ms":        func(c *MachineConfig) { c.Interval = 15 * time.Millisecond },
		"v3 5ms":         func(c *MachineConfig) { c.Interval = 0 },
		"v3 41s":         func(c *MachineConfig) { c.Interval = 41 * time.Second },
		"v2 100ms":       func(c *MachineConfig) { c.Version, c.Interval = 2, 100*time.Millisecond },
		"version 1":      func(c *MachineConfig) { c.Version = 1 },
		"priority 0":     func(c *MachineConfig) { c.Priority = 0 },
		"priority 256":   func(c *MachineConfig) { c.Priority = 256 },
		"no local":       func(c *MachineConfig) { c.LocalAddr = netip.Addr{} },
		"negative delay": func(c *MachineConfig) { c.PreemptDelay = -time.Second },
	} {
		c := good
		mut(&c)
		if _, err := NewMachine(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// step is one event of a scenario: at t0+at, ev must leave the machine in
// state with these actions and (when set) the next deadline at t0+deadline.
type step struct {
	at       time.Duration
	ev       Event
	state    State
	acts     string
	deadline time.Duration // -1: no timer; 0: don't check
}

func adv(src netip.Addr, prio uint8, interval time.Duration) AdvertReceived {
	return AdvertReceived{Src: src, Priority: prio, Interval: interval}
}

const (
	becameMaster = "advert(prio %d), add-vips, garp, notify(MASTER)"
	noTimer      = -1
)

func TestMachineTransitions(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	mdi100 := MasterDownInterval(3, 100, s) // 3.609375s
	v3 := MachineConfig{Version: 3, Priority: 100, Interval: s, Preempt: true, LocalAddr: local}
	tests := []struct {
		name  string
		cfg   MachineConfig
		steps []step
	}{
		{"6.4.1 owner goes master at once", MachineConfig{Version: 3, Priority: 255, Interval: s, LocalAddr: local}, []step{
			{0, Startup{}, Master, fmt.Sprintf(becameMaster, 255), s},
			{s, Timer{}, Master, "advert(prio 255)", 2 * s},
		}},
		{"6.4.1 backup then master after Master_Down_Interval", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, Timer{}, Backup, "", mdi100}, // early timer: nothing
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), mdi100 + s},
			{mdi100 + s, Timer{}, Master, "advert(prio 100)", mdi100 + 2*s},
			{mdi100 + 2*s, Startup{}, Master, "", 0}, // startup twice: nothing
		}},
		{"6.4.1 startup in fault", v3, []step{
			{0, TrackChange{Priority: 100, Fault: true}, Init, "", noTimer},
			{0, Startup{}, Fault, "notify(FAULT)", noTimer},
			{5 * s, Timer{}, Fault, "", noTimer},
			{5 * s, adv(upper, 200, s), Fault, "", noTimer},
			{6 * s, TrackChange{Priority: 100}, Backup, "notify(BACKUP)", 6*s + mdi100},
		}},
		{"6.4.2 higher advert resets the down timer", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{3 * s, adv(upper, 150, s), Backup, "", 3*s + mdi100},
			{3*s + mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
		}},
		{"6.4.2 equal priority advert resets the down timer", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{3 * s, adv(lower, 100, s), Backup, "", 3*s + mdi100},
		}},
		{"6.4.2 preempt discards a lower advert", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, adv(upper, 50, s), Backup, "", mdi100},
			{2 * s, adv(upper, 50, s), Backup, "", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
		}},
		{"6.4.2 nopreempt accepts a lower master", MachineConfig{Version: 3, Priority: 100, Interval: s, LocalAddr: local}, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, adv(upper, 50, s), Backup, "", s + mdi100},
			{2 * s, adv(upper, 50, s), Backup, "", 2*s + mdi100},
		}},
		{"6.4.2 preempt_delay postpones a preemption", MachineConfig{Version: 3, Priority: 128, Interval: s, Preempt: true, PreemptDelay: 2 * s, LocalAddr: local}, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", 3500 * ms},
			{s, adv(upper, 50, s), Backup, "", 3500 * ms},
			{3500 * ms, Timer{}, Backup, "", 5500 * ms},
			{4 * s, adv(upper, 50, s), Backup, "", 5500 * ms},
			{5500 * ms, Timer{}, Master, fmt.Sprintf(becameMaster, 128), 6500 * ms},
		}},
		{"6.4.2 preempt_delay does not delay a takeover from a dead master", MachineConfig{Version: 3, Priority: 128, Interval: s, Preempt: true, PreemptDelay: 2 * s, LocalAddr: local}, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", 3500 * ms},
			{s, adv(upper, 200, s), Backup, "", 4500 * ms},
			{4500 * ms, Timer{}, Master, fmt.Sprintf(becameMaster, 128), 0},
		}},
		{"6.4.2 priority 0 sets the timer to Skew_Time", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, adv(upper, 150, s), Backup, "", s + mdi100},
			{2 * s, adv(upper, 0, s), Backup, "", 2*s + SkewTime(3, 100, s)},
			{2*s + SkewTime(3, 100, s), Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
		}},
		{"6.4.2 v3 backup adopts the master's interval", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, adv(upper, 150, 100*ms), Backup, "", s + MasterDownInterval(3, 100, 100*ms)},
			{2 * s, adv(upper, 0, 100*ms), Backup, "", 2*s + SkewTime(3, 100, 100*ms)},
		}},
		{"6.4.2 v2 backup keeps its own interval", MachineConfig{Version: 2, Priority: 100, Interval: s, Preempt: true, LocalAddr: local}, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, adv(upper, 150, 5*s), Backup, "", s + mdi100},
		}},
		{"6.4.2 backup shutdown sends nothing", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, Shutdown{}, Init, "notify(INIT)", noTimer},
			{2 * s, Shutdown{}, Init, "", noTimer},
			{3 * s, Startup{}, Backup, "notify(BACKUP)", 3*s + mdi100},
		}},
		{"6.4.3 higher advert makes the master a backup", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, adv(upper, 150, 200*ms), Backup, "remove-vips, notify(BACKUP)", 4*s + MasterDownInterval(3, 100, 200*ms)},
		}},
		{"6.4.3 equal priority: the higher address wins", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, adv(lower, 100, s), Master, "advert(prio 100), garp", 5 * s},
			{4500 * ms, adv(upper, 100, s), Backup, "remove-vips, notify(BACKUP)", 4500*ms + mdi100},
		}},
		{"6.4.3 lower advert: answer and re-announce", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, adv(upper, 99, s), Master, "advert(prio 100), garp", 5 * s},
		}},
		{"6.4.3 priority 0 received: advertise at once", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, adv(upper, 0, s), Master, "advert(prio 100)", 5 * s},
		}},
		{"6.4.3 master shutdown resigns with priority 0", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, Shutdown{}, Init, "advert(prio 0), remove-vips, notify(INIT)", noTimer},
			{5 * s, Timer{}, Init, "", noTimer},
			{5 * s, adv(upper, 200, s), Init, "", noTimer},
		}},
		{"binary upgrade: detach is silent, resume as master at once", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, Shutdown{Detach: true}, Init, "", noTimer},
		}},
		{"binary upgrade: the new process resumes as master", v3, []step{
			{0, Startup{Resume: Master}, Master, fmt.Sprintf(becameMaster, 100), s},
		}},
		{"binary upgrade: resume as master but a tracked object is down", v3, []step{
			{0, TrackChange{Priority: 100, Fault: true}, Init, "", noTimer},
			{0, Startup{Resume: Master}, Fault, "notify(FAULT)", noTimer},
		}},
		{"binary upgrade: a backup resumes as backup", v3, []step{
			{0, Startup{Resume: Backup}, Backup, "notify(BACKUP)", mdi100},
		}},
		{"track: fault and recovery of a master", MachineConfig{Version: 3, Priority: 255, Interval: s, LocalAddr: local}, []step{
			{0, Startup{}, Master, fmt.Sprintf(becameMaster, 255), s},
			{500 * ms, TrackChange{Priority: 255, Fault: true}, Fault, "advert(prio 0), remove-vips, notify(FAULT)", noTimer},
			{600 * ms, TrackChange{Priority: 255, Fault: true}, Fault, "", noTimer},
			{2 * s, TrackChange{Priority: 255}, Master, fmt.Sprintf(becameMaster, 255), 3 * s},
		}},
		{"track: priority change is advertised at once", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, TrackChange{Priority: 80}, Master, "advert(prio 80)", 5 * s},
			{4 * s, TrackChange{Priority: 80}, Master, "", 5 * s},
			{4500 * ms, adv(upper, 90, s), Backup, "remove-vips, notify(BACKUP)", 4500*ms + MasterDownInterval(3, 80, s)},
			{5 * s, TrackChange{Priority: 100}, Backup, "", 0},
		}},
		{"track: backup fault", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{s, TrackChange{Priority: 100, Fault: true}, Fault, "notify(FAULT)", noTimer},
		}},
		{"handover: master steps down and stays backup", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, AdminHandover{}, Backup, "advert(prio 0), remove-vips, notify(BACKUP)", 4*s + MasterDownInterval(3, 1, s)},
			{4 * s, AdminHandover{}, Backup, "", 0},
			// The peer (priority 50, below ours) takes over; we accept it.
			{4500 * ms, adv(upper, 50, s), Backup, "", 4500*ms + MasterDownInterval(3, 1, s)},
			{5500 * ms, adv(upper, 50, s), Backup, "", 5500*ms + MasterDownInterval(3, 1, s)},
			// Resume: the peer is lower again and we preempt at the timer.
			{6 * s, AdminResume{}, Backup, "", 5500*ms + MasterDownInterval(3, 1, s)},
			{6500 * ms, adv(upper, 50, s), Backup, "", 5500*ms + MasterDownInterval(3, 1, s)},
			{5500*ms + MasterDownInterval(3, 1, s), Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
		}},
		{"handover: no peer, the VIPs come back after Master_Down_Interval", v3, []step{
			{0, Startup{}, Backup, "notify(BACKUP)", mdi100},
			{mdi100, Timer{}, Master, fmt.Sprintf(becameMaster, 100), 0},
			{4 * s, AdminHandover{}, Backup, "advert(prio 0), remove-vips, notify(BACKUP)", 4*s + MasterDownInterval(3, 1, s)},
			{4*s + MasterDownInterval(3, 1, s), Timer{}, Master, fmt.Sprintf(becameMaster, 1), 0},
			{9 * s, AdminResume{}, Master, "advert(prio 100)", 10 * s},
		}},
		{"handover of an owner", MachineConfig{Version: 3, Priority: 255, Interval: s, LocalAddr: local}, []step{
			{0, Startup{}, Master, fmt.Sprintf(becameMaster, 255), s},
			{s, AdminHandover{}, Backup, "advert(prio 0), remove-vips, notify(BACKUP)", s + MasterDownInterval(3, 1, s)},
			{2 * s, adv(upper, 100, s), Backup, "", 2*s + MasterDownInterval(3, 1, s)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMachine(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				got := render(m.Handle(t0.Add(st.at), st.ev))
				if got != st.acts {
					t.Errorf("step %d (%T at %v): actions\n got %q\nwant %q", i, st.ev, st.at, got, st.acts)
				}
				if m.State() != st.state {
					t.Errorf("step %d (%T at %v): state %v, want %v", i, st.ev, st.at, m.State(), st.state)
				}
				switch {
				case st.deadline == noTimer && !m.Deadline().IsZero():
					t.Errorf("step %d: deadline %v, want none", i, m.Deadline().Sub(t0))
				case st.deadline > 0 && !m.Deadline().Equal(t0.Add(st.deadline)):
					t.Errorf("step %d: deadline %v, want %v", i, m.Deadline().Sub(t0), st.deadline)
				}
			}
		})
	}
}

func TestMachineReasonAndMaster(t *testing.T) {
	m, _ := NewMachine(MachineConfig{Version: 3, Priority: 100, Interval: time.Second, Preempt: true, LocalAddr: local})
	m.Handle(t0, Startup{})
	m.Handle(t0.Add(time.Second), adv(upper, 150, time.Second))
	if m.Master() != upper || m.MasterAdverInterval() != time.Second {
		t.Errorf("master %v interval %v", m.Master(), m.MasterAdverInterval())
	}
	m.Handle(t0.Add(2*time.Second), adv(upper, 0, time.Second))
	acts := m.Handle(m.Deadline(), Timer{})
	n, ok := acts[len(acts)-1].(Notify)
	if !ok || n.From != Backup || n.To != Master || !strings.Contains(n.Reason, "resigned") || m.Reason() != n.Reason {
		t.Errorf("notify %+v, reason %q", acts[len(acts)-1], m.Reason())
	}
	if m.Master() != local {
		t.Errorf("master %v, want us", m.Master())
	}
}

// simNode is one router of the convergence simulation.
type simNode struct {
	m     *Machine
	addr  netip.Addr
	vips  bool
	alive bool
}

type delivery struct {
	at  time.Time
	to  int
	adv AdvertReceived
}

// TestMachineConvergence cycles random events through three routers on a
// simulated LAN (1 ms latency), then lets them settle and checks that exactly
// one is master and holds the VIPs, and that it is the highest priority one
// when everybody preempts.
func TestMachineConvergence(t *testing.T) {
	for run := range 60 {
		rng := rand.New(rand.NewPCG(uint64(run), 7))
		version := 3
		interval := time.Duration(1+rng.IntN(100)) * 10 * time.Millisecond
		if run%4 == 3 {
			version, interval = 2, time.Second
		}
		preempt := run%3 != 2
		prios := []int{100, 150, 100}
		if run%5 == 0 {
			prios[1] = 255
		}
		nodes := make([]*simNode, 3)
		for i := range nodes {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			m, err := NewMachine(MachineConfig{Version: version, Priority: prios[i], Interval: interval, Preempt: preempt, LocalAddr: addr})
			if err != nil {
				t.Fatal(err)
			}
			nodes[i] = &simNode{m: m, addr: addr}
		}
		now := t0
		var queue []delivery
		apply := func(i int, acts []Action) {
			n := nodes[i]
			for _, a := range acts {
				switch a := a.(type) {
				case SendAdvert:
					for j := range nodes {
						if j != i {
							queue = append(queue, delivery{now.Add(time.Millisecond), j, AdvertReceived{Src: n.addr, Priority: a.Priority, Interval: interval}})
						}
					}
				case AddVIPs:
					n.vips = true
				case RemoveVIPs:
					n.vips = false
				}
			}
		}
		// advance runs timers and deliveries up to until.
		advance := func(until time.Time) {
			for {
				next, who := until, -1
				for i, n := range nodes {
					if d := n.m.Deadline(); !d.IsZero() && d.Before(next) {
						next, who = d, i
					}
				}
				qi := -1
				for k, d := range queue {
					if !d.at.After(next) {
						next, qi, who = d.at, k, -1
					}
				}
				if next.After(until) || (who < 0 && qi < 0) {
					now = until
					return
				}
				now = next
				if qi >= 0 {
					d := queue[qi]
					queue = append(queue[:qi], queue[qi+1:]...)
					apply(d.to, nodes[d.to].m.Handle(now, d.adv))
				} else {
					apply(who, nodes[who].m.Handle(now, Timer{}))
				}
			}
		}
		for i := range nodes {
			nodes[i].alive = true
			apply(i, nodes[i].m.Handle(now, Startup{}))
		}
		for range 40 {
			advance(now.Add(time.Duration(rng.IntN(3000)) * interval / 1000))
			i := rng.IntN(len(nodes))
			var ev Event
			switch rng.IntN(7) {
			case 0:
				ev = Shutdown{}
			case 1:
				ev = Startup{}
			case 2:
				ev = TrackChange{Priority: prios[i] - rng.IntN(80), Fault: rng.IntN(3) == 0}
			case 3:
				ev = TrackChange{Priority: prios[i]}
			case 4:
				ev = AdminHandover{}
			case 5:
				ev = AdminResume{}
			case 6:
				ev = Timer{}
			}
			apply(i, nodes[i].m.Handle(now, ev))
		}
		// Heal: everybody up, healthy, not handed over.
		for i, n := range nodes {
			apply(i, n.m.Handle(now, TrackChange{Priority: prios[i]}))
			apply(i, n.m.Handle(now, AdminResume{}))
			apply(i, n.m.Handle(now, Startup{}))
		}
		advance(now.Add(2*MasterDownInterval(version, 1, MaxIntervalV2) + 5*time.Second))
		masters, holders := 0, 0
		best := 0
		for i, n := range nodes {
			if n.m.State() == Master {
				masters++
				best = i
			}
			if n.vips {
				holders++
			}
			if s := n.m.State(); s != Master && s != Backup {
				t.Fatalf("run %d: node %d in %v after healing", run, i, s)
			}
		}
		if masters != 1 || holders != 1 {
			t.Fatalf("run %d (v%d %v preempt=%v): %d masters, %d VIP holders", run, version, interval, preempt, masters, holders)
		}
		if preempt && prios[best] != 255 && prios[best] != 150 {
			t.Fatalf("run %d: master is node %d (prio %d), want the priority 150/255 node", run, best, prios[best])
		}
	}
}

// FuzzMachine feeds arbitrary event sequences and checks the invariants the
// driver relies on: VIPs are held exactly while master, a timer runs exactly
// in Backup and Master, a Notify is the last action and names the new state.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 3, 3, 3, 2, 200, 5, 9, 6, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 512 {
			b = b[:512]
		}
		version, interval := 3, 100*time.Millisecond
		if len(b) > 0 && b[0]&1 == 1 {
			version, interval = 2, time.Second
		}
		m, err := NewMachine(MachineConfig{Version: version, Priority: 100, Interval: interval, Preempt: len(b) > 1 && b[1]&1 == 0,
			PreemptDelay: 300 * time.Millisecond, LocalAddr: local})
		if err != nil {
			t.Fatal(err)
		}
		now, held := t0, false
		for i := 0; i < len(b); i++ {
			var ev Event
			arg := func() byte {
				if i+1 < len(b) {
					i++
					return b[i]
				}
				return 0
			}
			switch b[i] % 10 {
			case 0:
				ev = Startup{}
			case 1:
				ev = Shutdown{}
			case 2:
				now = now.Add(time.Duration(arg()) * 10 * time.Millisecond)
				ev = Timer{}
			case 3:
				if d := m.Deadline(); !d.IsZero() {
					now = d
				}
				ev = Timer{}
			case 4:
				src := []netip.Addr{lower, upper, local}[arg()%3]
				ev = AdvertReceived{Src: src, Priority: arg(), Interval: time.Duration(1+arg()) * 10 * time.Millisecond}
			case 5:
				ev = TrackChange{Priority: int(arg()), Fault: arg()%4 == 0}
			case 6:
				ev = AdminHandover{}
			case 7:
				ev = AdminResume{}
			default:
				now = now.Add(time.Duration(arg()) * time.Millisecond)
				ev = Timer{}
			}
			acts := m.Handle(now, ev)
			for k, a := range acts {
				switch a := a.(type) {
				case AddVIPs:
					held = true
				case RemoveVIPs:
					held = false
				case SendGARP:
					if !held {
						t.Fatalf("event %d %T: GARP without VIPs", i, ev)
					}
				case Notify:
					if k != len(acts)-1 || a.To != m.State() || a.From == a.To {
						t.Fatalf("event %d %T: notify %+v in %v (actions %s)", i, ev, a, m.State(), render(acts))
					}
				}
			}
			s := m.State()
			if held != (s == Master) {
				t.Fatalf("event %d %T: state %v but VIPs held=%v (actions %s)", i, ev, s, held, render(acts))
			}
			if timer := !m.Deadline().IsZero(); timer != (s == Master || s == Backup) {
				t.Fatalf("event %d %T: state %v with deadline %v", i, ev, s, m.Deadline())
			}
			if p := m.Priority(); p < 1 || p > 255 {
				t.Fatalf("priority %d", p)
			}
		}
	})
}
