package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// MachineConfig is what the state machine needs from an instance's config.
type MachineConfig struct {
	// Version is 2 or 3.
	Version int
	// Priority is the base priority 1..255 (255: address owner).
	Priority int
	// Interval is our Advertisement_Interval.
	Interval time.Duration
	// Preempt lets a higher-priority backup take over from a lower master.
	Preempt bool
	// PreemptDelay postpones a preemption (not a takeover from a dead
	// master) by this much beyond the Master_Down_Timer, as keepalived's
	// preempt_delay does.
	PreemptDelay time.Duration
	// LocalAddr is our primary address, compared with the sender's for the
	// equal-priority tie-break.
	LocalAddr netip.Addr
}

// MaxPreemptDelay bounds MachineConfig.PreemptDelay (keepalived's
// preempt_delay range).
const MaxPreemptDelay = 1000 * time.Second

// Validate checks the ranges the machine relies on. lbd's config loader
// reports the same ranges with file and line; NewMachine refuses a config
// outside them rather than run a machine whose timers make no sense.
func (c MachineConfig) Validate() error {
	switch c.Version {
	case 2:
		if c.Interval < MinIntervalV2 || c.Interval > MaxIntervalV2 || c.Interval%time.Second != 0 {
			return fmt.Errorf("advert interval %v: VRRPv2 needs whole seconds from 1s to 255s", c.Interval)
		}
	case 3:
		if c.Interval < MinIntervalV3 || c.Interval > MaxIntervalV3 || c.Interval%(10*time.Millisecond) != 0 {
			return fmt.Errorf("advert interval %v: VRRPv3 needs a multiple of 10ms from 10ms to 40.95s", c.Interval)
		}
	default:
		return fmt.Errorf("vrrp version %d: want 2 or 3", c.Version)
	}
	if c.Priority < 1 || c.Priority > 255 {
		return fmt.Errorf("priority %d: want 1..255", c.Priority)
	}
	if c.PreemptDelay < 0 || c.PreemptDelay > MaxPreemptDelay {
		return fmt.Errorf("preempt delay %v: want 0..1000s", c.PreemptDelay)
	}
	if !c.LocalAddr.IsValid() {
		return fmt.Errorf("no local address for the tie-break")
	}
	return nil
}

// HandoverPriority is the priority a handed-over node runs with: the lowest
// a backup can have, so any other router wins and it only takes over when no
// master at all is heard for Master_Down_Interval.
const HandoverPriority = 1

// Machine is the RFC 5798 §6.4 state machine of one instance. It is pure: no
// clock, no I/O. Handle takes the current time and one Event and returns the
// Actions to execute in order; Deadline says when to deliver the next Timer.
//
// Deviations and choices (all documented in docs/vrrp.md):
//   - a master that receives a lower-priority advert answers with an advert
//     and re-announces its VIPs (keepalived's default, RFC 9568), which ends
//     a split brain fast;
//   - a master entering Fault or shutting down resigns with priority 0;
//   - handover: a master resigns with priority 0 and the instance then runs
//     at HandoverPriority until AdminResume, so the peer takes over within
//     Skew_Time and keeps the VIPs; if no master is heard the node still
//     takes the VIPs after Master_Down_Interval rather than leave them
//     unowned;
//   - a tracked-priority change while master is advertised at once.
type Machine struct {
	cfg      MachineConfig
	state    State
	prio     int // effective priority from tracking
	fault    bool
	handover bool
	// mai is Master_Adver_Interval: learned from the master in v3.
	mai      time.Duration
	deadline time.Time
	// lowerSeen is when a backup last discarded a lower-priority advert
	// (preempt on); preemptWait marks the preempt_delay extension.
	lowerSeen   time.Time
	preemptWait bool
	// downReason explains the next Master_Down_Timer expiry.
	downReason string
	master     netip.Addr
	reason     string
}

// NewMachine returns a machine in Init.
func NewMachine(cfg MachineConfig) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Machine{cfg: cfg, state: Init, prio: cfg.Priority, mai: cfg.Interval}, nil
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority is the priority the instance runs with now: base priority adjusted
// by tracking, or HandoverPriority during a handover.
func (m *Machine) Priority() int {
	if m.handover {
		return HandoverPriority
	}
	return m.prio
}

// Deadline is when the next Timer is due; zero when no timer runs (Init,
// Fault).
func (m *Machine) Deadline() time.Time { return m.deadline }

// Master is the current master's address as last heard (ours when master);
// invalid when unknown.
func (m *Machine) Master() netip.Addr { return m.master }

// MasterAdverInterval is Master_Adver_Interval: our interval when master,
// the master's (v3) when backup.
func (m *Machine) MasterAdverInterval() time.Duration { return m.mai }

// HandedOver reports whether an AdminHandover is in force.
func (m *Machine) HandedOver() bool { return m.handover }

// Reason is why the last transition happened.
func (m *Machine) Reason() string { return m.reason }

// Handle processes one event at time now.
func (m *Machine) Handle(now time.Time, ev Event) []Action {
	switch ev := ev.(type) {
	case Startup:
		if m.state != Init {
			return nil
		}
		if ev.Resume == Master && !m.fault && !m.handover {
			return m.becomeMaster(now, "resumed as master from the previous lbd process (binary upgrade)")
		}
		return m.start(now, "startup")
	case Shutdown:
		if ev.Detach {
			return m.detach()
		}
		return m.shutdown()
	case Timer:
		return m.timer(now)
	case AdvertReceived:
		switch m.state {
		case Backup:
			return m.backupAdvert(now, ev)
		case Master:
			return m.masterAdvert(now, ev)
		}
		return nil
	case TrackChange:
		return m.track(now, ev)
	case AdminHandover:
		return m.handoverStart(now)
	case AdminResume:
		return m.resume(now)
	}
	panic(fmt.Sprintf("vrrp: unknown event %T", ev))
}

func (m *Machine) transition(to State, reason string) Notify {
	n := Notify{From: m.state, To: to, Reason: reason}
	m.state = to
	m.reason = reason
	return n
}

// start leaves Init or Fault (RFC 5798 §6.4.1).
func (m *Machine) start(now time.Time, reason string) []Action {
	if m.fault {
		m.deadline = time.Time{}
		return []Action{m.transition(Fault, reason+": tracked object down")}
	}
	if m.Priority() == PriorityOwner {
		return m.becomeMaster(now, reason+": address owner (priority 255)")
	}
	m.becomeBackupTimers(now, m.cfg.Interval)
	m.master = netip.Addr{}
	return []Action{m.transition(Backup, reason)}
}

func (m *Machine) becomeBackupTimers(now time.Time, mai time.Duration) {
	m.mai = mai
	m.deadline = now.Add(m.masterDown())
	m.lowerSeen = time.Time{}
	m.preemptWait = false
	m.downReason = "no advert for Master_Down_Interval"
}

func (m *Machine) becomeMaster(now time.Time, reason string) []Action {
	m.mai = m.cfg.Interval
	m.deadline = now.Add(m.cfg.Interval)
	m.master = m.cfg.LocalAddr
	m.lowerSeen = time.Time{}
	m.preemptWait = false
	return []Action{
		SendAdvert{Priority: uint8(m.Priority())},
		AddVIPs{},
		SendGARP{},
		m.transition(Master, reason),
	}
}

func (m *Machine) skew() time.Duration {
	return SkewTime(m.cfg.Version, m.Priority(), m.mai)
}

func (m *Machine) masterDown() time.Duration {
	return MasterDownInterval(m.cfg.Version, m.Priority(), m.mai)
}

func (m *Machine) shutdown() []Action {
	var acts []Action
	switch m.state {
	case Init:
		return nil
	case Master:
		acts = append(acts, SendAdvert{Priority: PriorityStop}, RemoveVIPs{})
	}
	m.deadline = time.Time{}
	m.master = netip.Addr{}
	return append(acts, m.transition(Init, "shutdown"))
}

// detach stops silently: no priority-0 advert, the VIPs stay, no notify.
func (m *Machine) detach() []Action {
	m.state = Init
	m.reason = "detached for a binary upgrade"
	m.deadline = time.Time{}
	m.master = netip.Addr{}
	return nil
}

func (m *Machine) timer(now time.Time) []Action {
	if m.deadline.IsZero() || now.Before(m.deadline) {
		return nil
	}
	switch m.state {
	case Master:
		// Adver_Timer fired (§6.4.3).
		m.deadline = now.Add(m.cfg.Interval)
		return []Action{SendAdvert{Priority: uint8(m.Priority())}}
	case Backup:
		// Master_Down_Timer fired (§6.4.2).
		preempting := !m.lowerSeen.IsZero() && now.Sub(m.lowerSeen) <= m.masterDown()
		if preempting && m.cfg.PreemptDelay > 0 && !m.preemptWait {
			m.preemptWait = true
			m.deadline = now.Add(m.cfg.PreemptDelay)
			return nil
		}
		reason := m.downReason
		if preempting {
			reason = fmt.Sprintf("preempting lower-priority master %v", m.master)
		}
		return m.becomeMaster(now, reason)
	}
	m.deadline = time.Time{}
	return nil
}

// backupAdvert is RFC 5798 §6.4.2 "If an ADVERTISEMENT is received".
func (m *Machine) backupAdvert(now time.Time, ev AdvertReceived) []Action {
	if ev.Priority == PriorityStop {
		// The master resigned: take over after Skew_Time only.
		m.deadline = now.Add(m.skew())
		m.preemptWait = false
		m.downReason = fmt.Sprintf("master %v resigned (priority 0)", ev.Src)
		return nil
	}
	if !m.cfg.Preempt || int(ev.Priority) >= m.Priority() {
		mai := m.cfg.Interval
		if m.cfg.Version == 3 && ev.Interval > 0 {
			mai = ev.Interval
		}
		m.becomeBackupTimers(now, mai)
		m.master = ev.Src
		return nil
	}
	// Preempt and a lower priority: discard; the timer keeps running.
	if m.lowerSeen.IsZero() {
		m.master = ev.Src
	}
	m.lowerSeen = now
	return nil
}

// masterAdvert is RFC 5798 §6.4.3 "If an ADVERTISEMENT is received".
func (m *Machine) masterAdvert(now time.Time, ev AdvertReceived) []Action {
	prio := m.Priority()
	switch {
	case ev.Priority == PriorityStop:
		// Another master resigned: advertise at once so backups stay put.
		m.deadline = now.Add(m.cfg.Interval)
		return []Action{SendAdvert{Priority: uint8(prio)}}
	case int(ev.Priority) > prio || (int(ev.Priority) == prio && ev.Src.Compare(m.cfg.LocalAddr) > 0):
		mai := m.cfg.Interval
		if m.cfg.Version == 3 && ev.Interval > 0 {
			mai = ev.Interval
		}
		m.becomeBackupTimers(now, mai)
		m.master = ev.Src
		reason := fmt.Sprintf("higher priority advert from %v (%d, ours %d)", ev.Src, ev.Priority, prio)
		if int(ev.Priority) == prio {
			reason = fmt.Sprintf("equal priority %d advert from higher address %v", prio, ev.Src)
		}
		return []Action{RemoveVIPs{}, m.transition(Backup, reason)}
	default:
		// Lower priority (or equal from a lower address): another node
		// thinks it is master. Answer now and re-announce the VIPs.
		m.deadline = now.Add(m.cfg.Interval)
		return []Action{SendAdvert{Priority: uint8(prio)}, SendGARP{}}
	}
}

func (m *Machine) track(now time.Time, ev TrackChange) []Action {
	old := m.Priority()
	m.prio = min(max(ev.Priority, 1), 255)
	switch {
	case ev.Fault && !m.fault:
		m.fault = true
		var acts []Action
		switch m.state {
		case Init:
			return nil
		case Master:
			acts = append(acts, SendAdvert{Priority: PriorityStop}, RemoveVIPs{})
		}
		m.deadline = time.Time{}
		m.master = netip.Addr{}
		return append(acts, m.transition(Fault, "tracked object down"))
	case !ev.Fault && m.fault:
		m.fault = false
		if m.state == Fault {
			return m.start(now, "tracked objects recovered")
		}
		return nil
	}
	if m.state == Master && m.Priority() != old {
		m.deadline = now.Add(m.cfg.Interval)
		return []Action{SendAdvert{Priority: uint8(m.Priority())}}
	}
	return nil
}

func (m *Machine) handoverStart(now time.Time) []Action {
	if m.handover {
		return nil
	}
	m.handover = true
	if m.state != Master {
		return nil
	}
	m.becomeBackupTimers(now, m.cfg.Interval)
	m.master = netip.Addr{}
	return []Action{SendAdvert{Priority: PriorityStop}, RemoveVIPs{}, m.transition(Backup, "admin handover")}
}

func (m *Machine) resume(now time.Time) []Action {
	if !m.handover {
		return nil
	}
	m.handover = false
	if m.state == Master {
		m.deadline = now.Add(m.cfg.Interval)
		return []Action{SendAdvert{Priority: uint8(m.Priority())}}
	}
	return nil
}
