package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/lbd-ha/lbd/vip"
)

// Deps are the side effects a Node uses.
type Deps struct {
	// Conn carries the adverts; nil: NewNode calls Dial for the instance.
	Conn Conn
	// VIPs adds and removes the instance's addresses; required.
	VIPs vip.Manager
	// Announcer sends gratuitous ARP / unsolicited NA; nil: none sent.
	Announcer vip.Announcer
	// Logger receives transitions and errors; nil: discarded.
	Logger *slog.Logger
	// Clock; nil: the real clock.
	Clock Clock
	// RunNotify runs a notify command; nil: exec without a shell, with a
	// 30 s timeout.
	RunNotify func(cmd string, args ...string) error
}

// Node runs one VRRP instance: it feeds a Machine with received adverts,
// timers, tracking and admin requests, and executes its actions.
type Node struct {
	cfg      InstanceConfig
	mcfg     MachineConfig
	m        *Machine
	deps     Deps
	clock    Clock
	log      *slog.Logger
	addrs    []netip.Addr // VIP addresses carried in adverts
	dsts     []netip.Addr // group, or the unicast peers
	expect   Expect
	sendMode ChecksumMode

	wake chan struct{}

	mu        sync.Mutex
	tracks    []trackState
	handover  bool
	running   bool
	st        Status
	garpStop  context.CancelFunc
	garpDone  chan struct{}
	notifyQ   chan []string
	notifyWG  sync.WaitGroup
	lastTrack TrackChange
	state     State
	resume    State // ResumeFrom: the previous process's state
	detach    bool  // Detach: the next stop leaves the VIPs to a new process
	stoppedAs State // the state Run stopped in
}

type trackState struct {
	key, name string
	weight    int
	ok        bool
}

// NewNode builds the driver of one instance. With deps.Conn nil it opens the
// raw socket (Dial), which needs CAP_NET_RAW.
func NewNode(cfg InstanceConfig, deps Deps) (*Node, error) {
	if deps.VIPs == nil {
		return nil, fmt.Errorf("vrrp instance %q: no vip.Manager", cfg.Name)
	}
	if len(cfg.VIPs) == 0 {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, errNoVIPs)
	}
	// The machine's invariants, before dialling, with a stand-in local
	// address.
	if err := cfg.machineConfig(netip.AddrFrom4([4]byte{192, 0, 2, 1})).Validate(); err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	if deps.Conn == nil {
		c, err := Dial(cfg.dialConfig())
		if err != nil {
			return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
		}
		deps.Conn = c
	}
	mc := cfg.machineConfig(deps.Conn.LocalAddr())
	m, err := NewMachine(mc)
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	n := &Node{
		cfg: cfg, mcfg: mc, m: m, deps: deps, clock: deps.Clock, log: deps.Logger,
		dsts: cfg.destinations(), expect: cfg.expect(), sendMode: cfg.sendMode(),
		wake:  make(chan struct{}, 1),
		state: Init, stoppedAs: Init,
		notifyQ: make(chan []string, notifyQueue),
	}
	if n.clock == nil {
		n.clock = realClock{}
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("instance", cfg.Name)
	if n.deps.RunNotify == nil {
		n.deps.RunNotify = execNotify
	}
	for _, v := range cfg.VIPs {
		n.addrs = append(n.addrs, v.Prefix.Addr())
	}
	for _, t := range cfg.Tracks {
		n.tracks = append(n.tracks, trackState{key: t.Kind + "/" + t.Name, name: t.Name, weight: t.Weight, ok: true})
	}
	n.lastTrack = TrackChange{Priority: mc.Priority} // what the machine starts with
	n.st = Status{
		Name: cfg.Name, Interface: cfg.Interface, VRID: cfg.VRID, Version: mc.Version,
		State: Init.String(), BasePriority: mc.Priority, EffectivePriority: mc.Priority,
		AdvertInterval: mc.Interval, Drops: map[string]uint64{},
	}
	for _, v := range cfg.VIPs {
		n.st.VIPs = append(n.st.VIPs, v.Prefix.String())
	}
	return n, nil
}

// SetTrack records the state of a tracked object. name is the object's name
// ("eth0", a backend or frontend name) or a qualified "interface/eth0",
// "backend/NAME", "frontend/NAME". With weight 0 a failure puts the instance
// in FAULT; a negative weight is subtracted while it fails; a positive one
// is added while it is up. Unknown names are ignored. Safe to call before
// and during Run.
func (n *Node) SetTrack(name string, ok bool) {
	n.mu.Lock()
	changed := false
	for i := range n.tracks {
		t := &n.tracks[i]
		if (t.key == name || t.name == name) && t.ok != ok {
			t.ok = ok
			changed = true
		}
	}
	n.mu.Unlock()
	if changed {
		n.poke()
	}
}

// Handover makes a master step down with a priority-0 advert; the node then
// runs at HandoverPriority (it only takes the VIPs back if no master is heard
// at all) until Resume. Safe to call before and during Run.
func (n *Node) Handover() {
	n.mu.Lock()
	n.handover = true
	n.mu.Unlock()
	n.poke()
}

// Resume ends a handover: the base (tracked) priority applies again and,
// with preempt on, a higher-priority node takes the VIPs back.
func (n *Node) Resume() {
	n.mu.Lock()
	n.handover = false
	n.mu.Unlock()
	n.poke()
}

func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// trackChangeLocked computes the effective priority (n.mu held).
func (n *Node) trackChangeLocked() TrackChange {
	delta, fault := 0, false
	for _, t := range n.tracks {
		switch {
		case t.weight == 0 && !t.ok:
			fault = true
		case t.weight > 0 && t.ok, t.weight < 0 && !t.ok:
			delta += t.weight
		}
	}
	prio := n.mcfg.Priority
	if delta != 0 {
		prio = min(max(prio+delta, 1), 254)
	}
	return TrackChange{Priority: prio, Fault: fault}
}

// State returns the current state.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// ResumeFrom tells a node that has not run yet that the previous lbd
// process left the instance in state s (binary upgrade). A master resumes
// as master at once, keeping the VIPs on the interface.
func (n *Node) ResumeFrom(s State) {
	n.mu.Lock()
	n.resume = s
	n.mu.Unlock()
}

// Detach makes the coming stop (ctx cancelled) silent: no priority-0
// advert, VIPs left in place, no stop notify, because a new lbd process
// resumes the instance. StoppedAs then tells the state to hand over.
func (n *Node) Detach() {
	n.mu.Lock()
	n.detach = true
	n.mu.Unlock()
}

// StoppedAs is the state Run was in when it stopped (Init before that).
func (n *Node) StoppedAs() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stoppedAs
}
