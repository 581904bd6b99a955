package checks

import "time"

// ServerInfo is one server in a Snapshot.
type ServerInfo struct {
	Backend, Server, Address string
	Backup                   bool
	// Up is the health state (admin aside); always true when not checked.
	Up bool
	// Admin is the admin state.
	Admin Admin
	// State is the operator-facing state: UP, DOWN, DRAIN or MAINT.
	State string
	// Usable: READY and UP (may take new non-persistent traffic).
	Usable bool
	// Check is the health-check view.
	Check CheckStatus
	// LastChange is when State last changed (or when the server was added).
	LastChange time.Time
	// Downtime is the total time spent DOWN or in MAINT.
	Downtime time.Duration
	// Transitions counts changes of State.
	Transitions uint64
}

// CheckStatus is a server's health-check view, as lbctl status shows it.
type CheckStatus struct {
	// Enabled: the server is checked. When false only Health, Rise and Fall
	// are set.
	Enabled bool
	// Type is tcp or http; empty when not checked.
	Type string
	// Result is the last check's code (L7OK, L4CON, ...); empty before the
	// first check.
	Result Code
	// Status is the HTTP status of the last check; 0 when none was read.
	Status int
	// Reason is the HAProxy reason of the last check ("Layer7 wrong status").
	Reason string
	// Info is the last check's detail ("Connection refused", "certificate
	// verify failed: ..."); may be empty.
	Info string
	// Duration is how long the last check took.
	Duration time.Duration
	// Health is HAProxy's health counter, 0..Rise+Fall-1.
	Health int
	// Rise and Fall are the effective thresholds.
	Rise, Fall int
	// LastAt is when the last check result came in; zero before the first.
	LastAt time.Time
}

func (m *Manager) infoLocked(s *server, now time.Time) ServerInfo {
	p := s.m.Params()
	cs := CheckStatus{
		Enabled: s.m.Checked(), // configured and not paused (SetChecking)
		Health:  s.m.Health(),
		Rise:    p.Rise,
		Fall:    p.Fall,
	}
	if s.spec.checked {
		cs.Type = s.spec.check.typeName()
		if r, at, ok := s.m.Last(); ok {
			cs.Result, cs.Status, cs.Reason, cs.Info, cs.Duration, cs.LastAt = r.Code, r.Status, r.Reason(), r.Info, r.Duration, at
		}
	}
	return ServerInfo{
		Backend: s.spec.backend, Server: s.spec.name, Address: s.spec.addr,
		Backup: s.spec.backup, Up: s.m.Up(), Admin: s.m.Admin(), State: s.m.State(),
		Usable: s.m.Usable(), Check: cs, LastChange: s.m.LastChange(),
		Downtime: s.m.Downtime(now), Transitions: s.m.Transitions(),
	}
}

// Status returns a server's check view and operator-facing state; ok is
// false for an unknown server.
func (m *Manager) Status(backend, server string) (CheckStatus, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.servers[serverKey(backend, server)]
	if s == nil {
		return CheckStatus{}, "", false
	}
	si := m.infoLocked(s, m.now())
	return si.Check, si.State, true
}

// Info returns one server's full view.
func (m *Manager) Info(backend, server string) (ServerInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.servers[backend+"/"+server]
	if s == nil {
		return ServerInfo{}, false
	}
	return m.infoLocked(s, m.now()), true
}

// Snapshot returns every server in config order.
func (m *Manager) Snapshot() []ServerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]ServerInfo, 0, len(m.order))
	for _, k := range m.order {
		if s := m.servers[k]; s != nil {
			out = append(out, m.infoLocked(s, now))
		}
	}
	return out
}

// Usable reports whether a server may take new non-persistent traffic
// (READY and UP); false for an unknown server.
func (m *Manager) Usable(backend, server string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.servers[backend+"/"+server]
	return s != nil && s.m.Usable()
}
