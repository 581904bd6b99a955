package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/vip"
)

// Defaults applied when the config leaves a field zero (config.Load applies
// the same ones; the driver does not rely on it).
const (
	DefaultPriority     = 100
	DefaultInterval     = time.Second
	DefaultVersion      = 3
	DefaultGARPRepeat   = 5
	DefaultGARPDelay    = 5 * time.Second
	notifyTimeout       = 30 * time.Second
	vipOpTimeout        = 5 * time.Second
	notifyQueue         = 32
	readBufferSize      = 2048
	shutdownNotifyDrain = 10 * time.Second
	readRetry           = 100 * time.Millisecond
	maxReadFailures     = 600 // one minute of consecutive read errors
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
	cfg      config.VRRPInstance
	mcfg     MachineConfig
	m        *Machine
	deps     Deps
	clock    Clock
	log      *slog.Logger
	vips     []vip.Address
	addrs    []netip.Addr // VIP addresses carried in adverts
	dsts     []netip.Addr // group, or the unicast peers
	expect   Expect
	sendMode ChecksumMode
	authPass string
	garp     garpSchedule

	wake chan struct{}

	mu        sync.Mutex
	tracks    []trackState
	handover  bool
	running   bool
	st        control.VRRPStatus
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

type garpSchedule struct {
	repeat  int
	delay   time.Duration
	refresh time.Duration
}

// ValidateInstance checks one instance's VRRP settings (zero values take the
// defaults). config validation can call it.
func ValidateInstance(cfg config.VRRPInstance) error {
	_, _, err := instanceSettings(cfg, netip.AddrFrom4([4]byte{192, 0, 2, 1}))
	return err
}

// instanceSettings turns the config into a MachineConfig and the VIP list.
func instanceSettings(cfg config.VRRPInstance, local netip.Addr) (MachineConfig, []vip.Address, error) {
	mc := MachineConfig{
		Version:      cfg.Version,
		Priority:     cfg.Priority,
		Interval:     cfg.AdvertInterval,
		Preempt:      cfg.Preempt == nil || *cfg.Preempt,
		PreemptDelay: cfg.PreemptDelay,
		LocalAddr:    local,
	}
	if mc.Version == 0 {
		mc.Version = DefaultVersion
	}
	if mc.Priority == 0 {
		mc.Priority = DefaultPriority
	}
	if mc.Interval == 0 {
		mc.Interval = DefaultInterval
	}
	errf := func(format string, args ...any) error {
		return fmt.Errorf("vrrp instance %q: "+format, append([]any{cfg.Name}, args...)...)
	}
	if cfg.VRID < 1 || cfg.VRID > 255 {
		return mc, nil, errf("virtual_router_id %d: want 1..255", cfg.VRID)
	}
	if cfg.Interface == "" {
		return mc, nil, errf("no interface")
	}
	if len(cfg.AuthPass) > authDataLen {
		return mc, nil, errf("auth_pass longer than %d bytes", authDataLen)
	}
	if cfg.AuthPass != "" && mc.Version != 2 {
		return mc, nil, errf("auth_pass needs version 2 (VRRPv3 has no authentication)")
	}
	if len(cfg.VIPs) == 0 {
		return mc, nil, errf("no vips")
	}
	var vips []vip.Address
	v6 := false
	for i, v := range cfg.VIPs {
		pfx, err := parseVIP(v.Address)
		if err != nil {
			return mc, nil, errf("vip %q: %v", v.Address, err)
		}
		if i == 0 {
			v6 = pfx.Addr().Is6()
		} else if pfx.Addr().Is6() != v6 {
			return mc, nil, errf("vip %v: all VIPs of an instance must be of one family", pfx)
		}
		ifname := v.Interface
		if ifname == "" {
			ifname = cfg.Interface
		}
		vips = append(vips, vip.Address{Prefix: pfx, Interface: ifname, Label: v.Label})
	}
	if len(vips) > 255 {
		return mc, nil, errf("%d VIPs: at most 255", len(vips))
	}
	if v6 && mc.Version != 3 {
		return mc, nil, errf("IPv6 VIPs need version 3")
	}
	if cfg.UnicastSrc != "" {
		if a, err := netip.ParseAddr(cfg.UnicastSrc); err != nil || a.Is6() != v6 {
			return mc, nil, errf("unicast_src %q: not an address of the VIPs' family", cfg.UnicastSrc)
		}
	}
	for _, p := range cfg.UnicastPeers {
		if a, err := netip.ParseAddr(p); err != nil || a.Is6() != v6 {
			return mc, nil, errf("unicast peer %q: not an address of the VIPs' family", p)
		}
	}
	for _, list := range [][]config.TrackItem{cfg.Track.Interfaces, cfg.Track.Backends, cfg.Track.Frontends} {
		for _, t := range list {
			if t.Weight < -253 || t.Weight > 253 {
				return mc, nil, errf("track %q weight %d: want -253..253", t.Name, t.Weight)
			}
		}
	}
	if cfg.GARP.MasterRepeat < 0 || (cfg.GARP.MasterDelay != nil && *cfg.GARP.MasterDelay < 0) || cfg.GARP.MasterRefresh < 0 {
		return mc, nil, errf("garp settings must not be negative")
	}
	if err := mc.Validate(); err != nil {
		return mc, nil, errf("%v", err)
	}
	return mc, vips, nil
}

func parseVIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// NewNode builds the driver of one instance. With deps.Conn nil it opens the
// raw socket (Dial), which needs CAP_NET_RAW.
func NewNode(cfg config.VRRPInstance, deps Deps) (*Node, error) {
	if deps.VIPs == nil {
		return nil, fmt.Errorf("vrrp instance %q: no vip.Manager", cfg.Name)
	}
	// Validate before dialling, with a stand-in local address.
	if _, vips, err := instanceSettings(cfg, netip.AddrFrom4([4]byte{192, 0, 2, 1})); err != nil {
		return nil, err
	} else if deps.Conn == nil {
		dc := DialConfig{Interface: cfg.Interface, IPv6: vips[0].Prefix.Addr().Is6(), Unicast: len(cfg.UnicastPeers) > 0, VRID: uint8(cfg.VRID)}
		if cfg.UnicastSrc != "" {
			dc.Src = netip.MustParseAddr(cfg.UnicastSrc)
		}
		for _, v := range vips {
			dc.Exclude = append(dc.Exclude, v.Prefix.Addr())
		}
		c, err := Dial(dc)
		if err != nil {
			return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
		}
		deps.Conn = c
	}
	mc, vips, err := instanceSettings(cfg, deps.Conn.LocalAddr())
	if err != nil {
		return nil, err
	}
	m, err := NewMachine(mc)
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	n := &Node{
		cfg: cfg, mcfg: mc, m: m, deps: deps, clock: deps.Clock, log: deps.Logger,
		vips: vips, authPass: cfg.AuthPass,
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
	for _, v := range vips {
		n.addrs = append(n.addrs, v.Prefix.Addr())
	}
	for _, p := range cfg.UnicastPeers {
		n.dsts = append(n.dsts, netip.MustParseAddr(p))
	}
	if len(n.dsts) == 0 {
		if n.addrs[0].Is4() {
			n.dsts = []netip.Addr{Group4}
		} else {
			n.dsts = []netip.Addr{Group6}
		}
	} else {
		n.expect.Peers = n.dsts
	}
	n.expect.VRID = uint8(cfg.VRID)
	n.expect.Version = mc.Version
	n.expect.Interval = mc.Interval
	n.expect.AuthPass = cfg.AuthPass
	// Receive either IPv4 v3 checksum form; send the configured one.
	n.expect.Checksum = ChecksumAny
	n.sendMode = ChecksumPseudoHeader
	if cfg.StrictChecksum {
		n.sendMode = ChecksumNoPseudoHeader
	}
	n.garp = garpSchedule{repeat: cfg.GARP.MasterRepeat, delay: DefaultGARPDelay, refresh: cfg.GARP.MasterRefresh}
	if n.garp.repeat == 0 {
		n.garp.repeat = DefaultGARPRepeat
	}
	if cfg.GARP.MasterDelay != nil {
		n.garp.delay = *cfg.GARP.MasterDelay
	}
	for _, kind := range []struct {
		kind  string
		items []config.TrackItem
	}{{"interface", cfg.Track.Interfaces}, {"backend", cfg.Track.Backends}, {"frontend", cfg.Track.Frontends}} {
		for _, it := range kind.items {
			n.tracks = append(n.tracks, trackState{key: kind.kind + "/" + it.Name, name: it.Name, weight: it.Weight, ok: true})
		}
	}
	n.lastTrack = TrackChange{Priority: mc.Priority} // what the machine starts with
	n.st = control.VRRPStatus{
		Name: cfg.Name, Interface: cfg.Interface, VRID: cfg.VRID, Version: mc.Version,
		State: Init.String(), BasePriority: mc.Priority, EffectivePriority: mc.Priority,
		AdvertInterval: mc.Interval, Drops: map[string]uint64{},
	}
	for _, v := range vips {
		n.st.VIPs = append(n.st.VIPs, v.Prefix.String())
	}
	return n, nil
}

func execNotify(cmd string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	return exec.CommandContext(ctx, cmd, args...).Run()
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

// Status returns a snapshot for lbctl status.
func (n *Node) Status() control.VRRPStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.st
	s.VIPs = slices.Clone(s.VIPs)
	s.Drops = make(map[string]uint64, len(n.st.Drops))
	for k, v := range n.st.Drops {
		s.Drops[k] = v
	}
	return s
}

// State returns the current state.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

type received struct {
	b    []byte
	info RecvInfo
}

// Run runs the instance until ctx is cancelled, then stops gracefully: a
// master sends a priority-0 advert and removes its VIPs, and the stop
// notify runs. At start it removes configured VIPs left on the interfaces
// (by a crash) before joining as backup. Run closes the Conn when it returns
// and may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("vrrp: node already ran")
	}
	n.running = true
	n.mu.Unlock()

	opCtx := context.WithoutCancel(ctx)
	n.notifyWG.Add(1)
	go n.notifyWorker()
	defer func() {
		close(n.notifyQ)
		done := make(chan struct{})
		go func() { n.notifyWG.Wait(); close(done) }()
		c, stop := n.clock.NewTimer(shutdownNotifyDrain)
		defer stop()
		select {
		case <-done:
		case <-c:
			n.log.Warn("vrrp notify commands still running at stop")
		}
	}()

	n.mu.Lock()
	resume := n.resume
	n.mu.Unlock()
	if resume != Master {
		if err := n.removeStale(opCtx); err != nil {
			n.deps.Conn.Close()
			return err
		}
	}

	rx := make(chan received)
	rxErr := make(chan error, 1)
	done := make(chan struct{})
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		fails := 0
		for {
			b := make([]byte, readBufferSize)
			k, info, err := n.deps.Conn.ReadAdvert(b)
			if err != nil {
				select {
				case <-done:
					return
				default:
				}
				// A read error does not stop the instance (that would drop
				// the VIPs): back off and retry; give up after a long run
				// of failures.
				fails++
				if fails >= maxReadFailures {
					rxErr <- err
					return
				}
				if fails == 1 || fails%10 == 0 {
					n.log.Warn("vrrp read failed, retrying", "err", err, "failures", fails)
				}
				c, stop := n.clock.NewTimer(readRetry)
				select {
				case <-c:
				case <-done:
					stop()
					return
				}
				continue
			}
			fails = 0
			select {
			case rx <- received{b[:k], info}:
			case <-done:
				return
			}
		}
	}()
	stopAll := func() {
		close(done)
		n.deps.Conn.Close()
		readerWG.Wait()
	}

	n.reconcile(opCtx)
	n.exec(opCtx, n.m.Handle(n.clock.Now(), Startup{Resume: resume}))
	var runErr error
loop:
	for {
		var timerC <-chan time.Time
		stopTimer := func() bool { return false }
		if d := n.m.Deadline(); !d.IsZero() {
			timerC, stopTimer = n.clock.NewTimer(max(d.Sub(n.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			stopTimer()
			break loop
		case err := <-rxErr:
			stopTimer()
			runErr = fmt.Errorf("vrrp instance %q: read: %w", n.cfg.Name, err)
			break loop
		case r := <-rx:
			stopTimer()
			n.receive(opCtx, r)
		case <-n.wake:
			stopTimer()
			n.reconcile(opCtx)
		case <-timerC:
			n.exec(opCtx, n.m.Handle(n.clock.Now(), Timer{}))
		}
	}
	n.mu.Lock()
	detach := n.detach && runErr == nil
	n.stoppedAs = n.m.State()
	n.mu.Unlock()
	if detach {
		n.log.Info("vrrp instance detached: the new lbd process takes it over", "state", n.stoppedAs.String())
	}
	n.exec(opCtx, n.m.Handle(n.clock.Now(), Shutdown{Detach: detach}))
	n.stopGARP()
	stopAll()
	return runErr
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

// removeStale deletes configured VIPs found on the interfaces at start.
func (n *Node) removeStale(ctx context.Context) error {
	for _, a := range n.vips {
		octx, cancel := context.WithTimeout(ctx, vipOpTimeout)
		has, err := n.deps.VIPs.Has(octx, a)
		if err == nil && has {
			n.log.Warn("vrrp removing stale VIP left from a previous run", "vip", a.String())
			err = n.deps.VIPs.Remove(octx, a)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("vrrp instance %q: stale VIP cleanup of %s: %w", n.cfg.Name, a, err)
		}
	}
	return nil
}

// reconcile feeds pending tracking and admin changes to the machine.
func (n *Node) reconcile(ctx context.Context) {
	n.mu.Lock()
	tc := n.trackChangeLocked()
	handover := n.handover
	n.mu.Unlock()
	now := n.clock.Now()
	if tc != n.lastTrack {
		n.lastTrack = tc
		n.exec(ctx, n.m.Handle(now, tc))
	}
	if handover != n.m.HandedOver() {
		if handover {
			n.exec(ctx, n.m.Handle(now, AdminHandover{}))
		} else {
			n.exec(ctx, n.m.Handle(now, AdminResume{}))
		}
	}
	n.syncStatus()
}

func (n *Node) receive(ctx context.Context, r received) {
	if r.info.Src == n.deps.Conn.LocalAddr() {
		return // our own advert looped back
	}
	p, err := Decode(r.b, r.info, n.expect)
	if err != nil {
		reason := DropReason(err)
		n.mu.Lock()
		n.st.Drops[reason]++
		n.mu.Unlock()
		n.log.Debug("vrrp drop", "reason", reason, "err", err)
		return
	}
	n.mu.Lock()
	n.st.AdvertsRx++
	n.mu.Unlock()
	n.exec(ctx, n.m.Handle(n.clock.Now(), AdvertReceived{Src: r.info.Src, Priority: p.Priority, Interval: p.Interval}))
}

// exec runs the machine's actions in order.
func (n *Node) exec(ctx context.Context, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			n.sendAdvert(a.Priority)
		case AddVIPs:
			all := true
			for _, v := range n.vips {
				octx, cancel := context.WithTimeout(ctx, vipOpTimeout)
				if err := n.deps.VIPs.Add(octx, v); err != nil {
					all = false
					n.log.Error("vrrp adding VIP", "vip", v.String(), "err", err)
				}
				cancel()
			}
			n.mu.Lock()
			n.st.VIPsHeld = all
			n.mu.Unlock()
		case RemoveVIPs:
			n.stopGARP()
			for _, v := range n.vips {
				octx, cancel := context.WithTimeout(ctx, vipOpTimeout)
				if err := n.deps.VIPs.Remove(octx, v); err != nil {
					n.log.Error("vrrp removing VIP", "vip", v.String(), "err", err)
				}
				cancel()
			}
			n.mu.Lock()
			n.st.VIPsHeld = false
			n.mu.Unlock()
		case SendGARP:
			n.startGARP(ctx)
		case Notify:
			n.notify(a)
		}
	}
	n.syncStatus()
}

func (n *Node) sendAdvert(prio uint8) {
	p := Packet{Version: n.mcfg.Version, VRID: uint8(n.cfg.VRID), Priority: prio, Interval: n.mcfg.Interval, Addrs: n.addrs}
	if n.mcfg.Version == 2 {
		_ = p.SetAuthPass(n.authPass) // length checked by NewNode
	}
	src := n.deps.Conn.LocalAddr()
	for _, dst := range n.dsts {
		b, err := p.Marshal(src, dst, n.sendMode)
		if err == nil {
			err = n.deps.Conn.WriteAdvert(b, dst)
		}
		if err != nil {
			n.log.Error("vrrp sending advert", "dst", dst, "err", err)
			continue
		}
		n.mu.Lock()
		n.st.AdvertsTx++
		n.mu.Unlock()
	}
}

func (n *Node) notify(a Notify) {
	now := n.clock.Now()
	n.mu.Lock()
	n.st.LastTransition = now
	n.st.LastReason = a.Reason
	n.st.Transitions++
	n.mu.Unlock()
	to := a.To.String()
	cmd := ""
	switch a.To {
	case Master:
		cmd = n.cfg.Notify.Master
	case Backup:
		cmd = n.cfg.Notify.Backup
	case Fault:
		cmd = n.cfg.Notify.Fault
	case Init:
		cmd, to = n.cfg.Notify.Stop, "STOP"
	}
	n.log.Info("vrrp transition", "from", a.From.String(), "to", to, "reason", a.Reason, "priority", n.m.Priority())
	args := strings.Fields(cmd)
	if len(args) == 0 {
		return
	}
	args = append(args, n.cfg.Name, to)
	select {
	case n.notifyQ <- args:
	default:
		n.log.Error("vrrp notify queue full, command skipped", "cmd", cmd, "state", to)
	}
}

func (n *Node) notifyWorker() {
	defer n.notifyWG.Done()
	for args := range n.notifyQ {
		if err := n.deps.RunNotify(args[0], args[1:]...); err != nil {
			n.log.Error("vrrp notify command failed", "cmd", strings.Join(args, " "), "err", err)
		}
	}
}

// syncStatus copies the machine's view into the status snapshot.
func (n *Node) syncStatus() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.state = n.m.State()
	n.st.State = n.state.String()
	n.st.EffectivePriority = n.m.Priority()
	n.st.HandedOver = n.m.HandedOver()
	n.st.AdvertInterval = n.m.MasterAdverInterval()
	n.st.MasterIP = ""
	if a := n.m.Master(); a.IsValid() {
		n.st.MasterIP = a.String()
	}
}

// startGARP (re)starts the announcement schedule: a burst of garp.repeat
// rounds now, another after garp.delay, then one round every garp.refresh.
func (n *Node) startGARP(ctx context.Context) {
	n.stopGARP()
	if n.deps.Announcer == nil {
		return
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	n.mu.Lock()
	n.garpStop, n.garpDone = cancel, done
	n.mu.Unlock()
	go func() {
		defer close(done)
		round := func() bool {
			for _, v := range n.vips {
				if gctx.Err() != nil {
					return false
				}
				if err := n.deps.Announcer.Announce(gctx, v.Interface, v.Prefix.Addr()); err != nil && gctx.Err() == nil {
					n.log.Warn("vrrp announcing VIP", "vip", v.String(), "err", err)
				}
			}
			return gctx.Err() == nil
		}
		burst := func() bool {
			for range n.garp.repeat {
				if !round() {
					return false
				}
			}
			return true
		}
		wait := func(d time.Duration) bool {
			c, stop := n.clock.NewTimer(d)
			defer stop()
			select {
			case <-c:
				return true
			case <-gctx.Done():
				return false
			}
		}
		if !burst() {
			return
		}
		if n.garp.delay > 0 && (!wait(n.garp.delay) || !burst()) {
			return
		}
		for n.garp.refresh > 0 && wait(n.garp.refresh) && round() {
		}
	}()
}

func (n *Node) stopGARP() {
	n.mu.Lock()
	stop, done := n.garpStop, n.garpDone
	n.garpStop, n.garpDone = nil, nil
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
