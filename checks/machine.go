package checks

import (
	"fmt"
	"strings"
	"time"
)

// Built-in defaults, as HAProxy's.
const (
	DefaultInter = 2 * time.Second
	DefaultRise  = 2
	DefaultFall  = 3
)

// Admin is a server's administrative state, set by the operator (lbctl) or by
// `disabled: true` in the config. It sits beside health: a server takes new
// traffic only when it is READY and UP. The values map 1:1 onto the proxy's
// Ready/Drain/Maint.
type Admin uint8

const (
	// Ready: the server takes traffic when its health is UP.
	Ready Admin = iota
	// Drain: checks continue; no new traffic except persistent sessions.
	Drain
	// Maint: no traffic at all; checks are paused and their results are not
	// counted. Leaving MAINT puts a checked server UP with health=rise (one
	// failure marks it DOWN) and checks it at once, as HAProxy does.
	Maint
)

// String returns READY, DRAIN or MAINT.
func (a Admin) String() string {
	switch a {
	case Ready:
		return "READY"
	case Drain:
		return "DRAIN"
	case Maint:
		return "MAINT"
	}
	return fmt.Sprintf("Admin(%d)", uint8(a))
}

// ParseAdmin accepts ready, drain and maint in any case (also "enable" for
// ready and "disable" for maint, as HAProxy's runtime API words).
func ParseAdmin(s string) (Admin, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ready", "enable", "up":
		return Ready, nil
	case "drain":
		return Drain, nil
	case "maint", "disable", "maintenance":
		return Maint, nil
	}
	return Ready, fmt.Errorf("unknown admin state %q (want ready, drain or maint)", s)
}

// Operator-facing states, in precedence order MAINT > DRAIN > UP/DOWN.
const (
	StateUp    = "UP"
	StateDown  = "DOWN"
	StateDrain = "DRAIN"
	StateMaint = "MAINT"
)

// Params are a server's check timing and thresholds.
type Params struct {
	// Inter is the interval between checks while the server is stable.
	Inter time.Duration
	// FastInter is used while the health counter is between fully down and
	// fully up (transitioning); 0 means Inter.
	FastInter time.Duration
	// DownInter is used while the server is fully DOWN; 0 means Inter.
	DownInter time.Duration
	// Rise consecutive successes bring a DOWN server UP.
	Rise int
	// Fall consecutive failures take a fully UP server DOWN.
	Fall int
}

// WithDefaults fills zero fields with the built-in defaults.
func (p Params) WithDefaults() Params {
	if p.Inter <= 0 {
		p.Inter = DefaultInter
	}
	if p.Rise <= 0 {
		p.Rise = DefaultRise
	}
	if p.Fall <= 0 {
		p.Fall = DefaultFall
	}
	return p
}

// Kind says what a Transition changed.
type Kind uint8

const (
	// KindNone: nothing visible changed.
	KindNone Kind = iota
	// KindCheck: the check result flipped between pass and fail but the
	// server stayed UP or DOWN (HAProxy logs "Health check for server ...").
	KindCheck
	// KindHealth: the server went UP or DOWN.
	KindHealth
	// KindAdmin: the admin state changed.
	KindAdmin
)

// Transition describes what one Observe or SetAdmin call changed.
type Transition struct {
	Kind      Kind
	From, To  string // operator-facing states before and after
	Up        bool   // health after
	Admin     Admin  // admin after
	FromAdmin Admin  // admin before
	Result    Result // the check result (Observe only)
	At        time.Time
}

// Machine is one server's health and admin state. It is not safe for
// concurrent use; Manager guards it with its lock.
type Machine struct {
	p       Params
	checked bool
	health  int
	admin   Admin

	last     Result
	lastAt   time.Time
	haveLast bool
	lastOK   bool

	transitions uint64
	lastChange  time.Time
	down        bool
	downSince   time.Time
	downtime    time.Duration
}

// NewMachine returns a server's machine at time now. A checked server starts
// as HAProxy starts it: UP with health=rise, so that the first failed check
// marks it DOWN and the first success makes it fully UP. An unchecked server
// is UP for good, health-wise.
func NewMachine(p Params, checked bool, admin Admin, now time.Time) *Machine {
	p = p.WithDefaults()
	m := &Machine{p: p, checked: checked, health: p.Rise, admin: admin, lastChange: now, lastOK: true}
	m.down = m.isDown()
	if m.down {
		m.downSince = now
	}
	return m
}

func (m *Machine) max() int { return m.p.Rise + m.p.Fall - 1 }

// Params returns the effective parameters.
func (m *Machine) Params() Params { return m.p }

// Checked reports whether the server is health-checked.
func (m *Machine) Checked() bool { return m.checked }

// Health is HAProxy's health counter, 0..rise+fall-1 (UP iff >= rise). For an
// unchecked server it is rise+fall-1.
func (m *Machine) Health() int {
	if !m.checked {
		return m.max()
	}
	return m.health
}

// Up reports the health state (admin states aside).
func (m *Machine) Up() bool { return !m.checked || m.health >= m.p.Rise }

// Admin returns the admin state.
func (m *Machine) Admin() Admin { return m.admin }

// Usable reports whether the server may take new non-persistent traffic:
// READY and UP.
func (m *Machine) Usable() bool { return m.admin == Ready && m.Up() }

// State is the operator-facing state: MAINT > DRAIN > UP/DOWN.
func (m *Machine) State() string {
	switch {
	case m.admin == Maint:
		return StateMaint
	case m.admin == Drain:
		return StateDrain
	case m.Up():
		return StateUp
	}
	return StateDown
}

// Last returns the last check result and when it was observed.
func (m *Machine) Last() (Result, time.Time, bool) { return m.last, m.lastAt, m.haveLast }

// Transitions counts changes of State().
func (m *Machine) Transitions() uint64 { return m.transitions }

// LastChange is when State() last changed (or when the machine was made).
func (m *Machine) LastChange() time.Time { return m.lastChange }

// Downtime is the total time spent DOWN or in MAINT, up to now.
func (m *Machine) Downtime(now time.Time) time.Duration {
	d := m.downtime
	if m.down && now.After(m.downSince) {
		d += now.Sub(m.downSince)
	}
	return d
}

// NextInterval is the delay before the next check: inter when fully UP,
// downinter (or inter) when fully DOWN, fastinter (or inter) in between.
// Jitter (spread-checks) is applied by the caller.
func (m *Machine) NextInterval() time.Duration {
	if !m.checked || m.health == m.max() {
		return m.p.Inter
	}
	if m.health == 0 {
		if m.p.DownInter > 0 {
			return m.p.DownInter
		}
		return m.p.Inter
	}
	if m.p.FastInter > 0 {
		return m.p.FastInter
	}
	return m.p.Inter
}

func (m *Machine) isDown() bool { return m.admin == Maint || !m.Up() }

// settle updates counters after a change made at now and fills the
// transition's From/To.
func (m *Machine) settle(before string, now time.Time, t *Transition) {
	after := m.State()
	if d := m.isDown(); d != m.down {
		if d {
			m.downSince = now
		} else if now.After(m.downSince) {
			m.downtime += now.Sub(m.downSince)
		}
		m.down = d
	}
	if after != before {
		m.transitions++
		m.lastChange = now
	}
	t.From, t.To, t.Up, t.Admin, t.At = before, after, m.Up(), m.admin, now
}

// Observe feeds one check result observed at now. In MAINT or for an
// unchecked server the result is recorded but not counted.
func (m *Machine) Observe(r Result, now time.Time) Transition {
	before, wasUp := m.State(), m.Up()
	m.last, m.lastAt, m.haveLast = r, now, true
	t := Transition{Result: r, FromAdmin: m.admin}
	if !m.checked || m.admin == Maint {
		m.settle(before, now, &t)
		return t
	}
	if r.OK() {
		if m.health < m.max() {
			m.health++
			if m.health >= m.p.Rise {
				m.health = m.max()
			}
		}
	} else if m.health > 0 {
		m.health--
		if m.health < m.p.Rise {
			m.health = 0
		}
	}
	m.settle(before, now, &t)
	switch {
	case m.Up() != wasUp:
		t.Kind = KindHealth
	case r.OK() != m.lastOK:
		t.Kind = KindCheck
	}
	m.lastOK = r.OK()
	return t
}

// SetAdmin changes the admin state at now. Leaving MAINT resets a checked
// server's health to rise (UP, one failure marks it DOWN); the caller should
// check it at once.
func (m *Machine) SetAdmin(a Admin, now time.Time) Transition {
	before := m.State()
	t := Transition{FromAdmin: m.admin}
	if a == m.admin {
		m.settle(before, now, &t)
		return t
	}
	if m.admin == Maint && m.checked {
		m.health = m.p.Rise
		m.lastOK = true
	}
	m.admin = a
	m.settle(before, now, &t)
	t.Kind = KindAdmin
	return t
}

// Reconfigure applies new parameters at now, keeping history. The UP/DOWN
// state is kept: an UP server stays UP (health clamped into the new UP
// range), a DOWN one stays DOWN. A server that becomes checked starts at
// health=rise, as a new one.
func (m *Machine) Reconfigure(p Params, checked bool, now time.Time) Transition {
	p = p.WithDefaults()
	before, wasUp, wasChecked := m.State(), m.Up(), m.checked
	m.p, m.checked = p, checked
	switch {
	case checked && !wasChecked:
		m.health = p.Rise
		m.lastOK = true
	case wasUp:
		m.health = min(max(m.health, p.Rise), m.max())
	default:
		m.health = min(m.health, p.Rise-1)
	}
	t := Transition{FromAdmin: m.admin}
	m.settle(before, now, &t)
	if m.Up() != wasUp {
		t.Kind = KindHealth
	}
	return t
}
