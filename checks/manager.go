package checks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

// DefaultMaxConcurrent bounds the checks running at once.
const DefaultMaxConcurrent = 64

// Options configure a Manager. Every field is optional.
type Options struct {
	// Logger receives the HAProxy-style state-change lines; nil discards.
	Logger *slog.Logger
	// OnChange is called on every UP/DOWN and admin change, in order, from
	// the goroutine that made the change, never while the Manager's lock is
	// held: it may call Status, Snapshot and Usable, but not SetAdmin, Apply
	// or Close.
	OnChange func(Event)
	// Now is the clock for timestamps; nil means time.Now. Scheduling uses
	// real timers.
	Now func() time.Time
	// MaxConcurrent bounds the checks in flight; 0 means
	// DefaultMaxConcurrent.
	MaxConcurrent int
}

// Event is one server state change.
type Event struct {
	Backend, Server string
	// Up is the health state after the change (admin aside).
	Up bool
	// Admin is the admin state after the change.
	Admin Admin
	// State is the operator-facing state: UP, DOWN, DRAIN or MAINT.
	State string
	// Reason is the check reason ("Layer7 wrong status") for health changes,
	// or "admin state X" for admin changes.
	Reason string
	// Message is the HAProxy-style log line.
	Message string
	// At is when the change happened.
	At time.Time
}

// ServerInfo is one server in a Snapshot.
type ServerInfo struct {
	Backend, Server, Address string
	Backup                   bool
	Up                       bool
	Admin                    Admin
	State                    string
	Usable                   bool
	Check                    control.CheckStatus
	LastChange               time.Time
	Downtime                 time.Duration
	Transitions              uint64
}

// Fill copies the check-owned fields into a control.ServerStatus.
func (si ServerInfo) Fill(s *control.ServerStatus) {
	s.State = si.State
	s.Check = si.Check
	s.LastChange = si.LastChange
	s.DowntimeSec = si.Downtime.Seconds()
	s.Transitions = si.Transitions
}

type server struct {
	spec    serverSpec
	m       *Machine
	removed bool

	// goroutine control; set under Manager.mu, read by the goroutine only
	// through its arguments.
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}
}

type note struct {
	ev    *Event
	level slog.Level
	msg   string
}

// Manager schedules health checks and owns every server's state.
type Manager struct {
	opts Options
	now  func() time.Time
	sem  chan struct{}
	log  *slog.Logger

	applyMu   sync.Mutex // serializes Apply, Close
	deliverMu sync.Mutex // serializes OnChange delivery

	mu       sync.Mutex
	closed   bool
	spread   int
	rnd      *rand.Rand
	servers  map[string]*server
	order    []string            // keys in config order
	backends map[string][]string // backend -> server names, config order
	pending  []note
	running  int // per-server goroutines alive (leak checks)

	newChecker func(checkSpec) Checker // test hook
}

// New returns a Manager with no servers; call Apply.
func New(opts Options) *Manager {
	m := &Manager{
		opts:       opts,
		now:        opts.Now,
		log:        opts.Logger,
		rnd:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		servers:    map[string]*server{},
		backends:   map[string][]string{},
		newChecker: checkSpec.checker,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	n := opts.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	m.sem = make(chan struct{}, n)
	return m
}

// Jitter returns d changed by a random ±pct percent (spread-checks); r is a
// uniform random number in [0,1).
func Jitter(d time.Duration, pct int, r float64) time.Duration {
	if pct <= 0 || d <= 0 {
		return d
	}
	pct = min(pct, 50)
	delta := float64(d) * float64(pct) / 100 * (2*r - 1)
	return d + time.Duration(delta)
}

// Apply (re)configures the checks from cfg. A server kept across Apply (same
// backend, name and address) keeps its state and history; changed check
// settings restart its checker. Removed servers stop before Apply returns.
// On error nothing changes.
func (m *Manager) Apply(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("checks: nil config")
	}
	specs, err := buildSpecs(cfg)
	if err != nil {
		return err
	}
	if cfg.Global.SpreadChecks < 0 || cfg.Global.SpreadChecks > 50 {
		return fmt.Errorf("checks: spread_checks %d out of range 0..50", cfg.Global.SpreadChecks)
	}
	m.applyMu.Lock()
	defer m.applyMu.Unlock()

	now := m.now()
	var stop, start []*server
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("checks: manager closed")
	}
	m.spread = cfg.Global.SpreadChecks
	want := make(map[string]bool, len(specs))
	order := make([]string, 0, len(specs))
	backends := map[string][]string{}
	for _, b := range cfg.Backends {
		backends[b.Name] = []string{}
	}
	for _, sp := range specs {
		order = append(order, sp.key())
		backends[sp.backend] = append(backends[sp.backend], sp.name)
	}
	m.order, m.backends = order, backends
	for _, sp := range specs {
		k := sp.key()
		want[k] = true
		old := m.servers[k]
		if old != nil && old.spec.addr != sp.addr {
			old.removed = true
			stop = append(stop, old)
			old = nil
		}
		if old == nil {
			admin := Ready
			if sp.disabled {
				admin = Maint
			}
			s := &server{spec: sp, m: NewMachine(sp.params, sp.checked, admin, now)}
			m.servers[k] = s
			if sp.checked {
				start = append(start, s)
			}
			if admin != Ready {
				t := Transition{Kind: KindAdmin, From: StateUp, To: s.m.State(), Up: s.m.Up(), Admin: admin, At: now}
				m.queueLocked(s, t)
			}
			continue
		}
		prev := old.spec
		old.spec = sp
		t := old.m.Reconfigure(sp.params, sp.checked, now)
		if t.Kind != KindNone {
			m.queueLocked(old, t)
		}
		if sp.disabled != prev.disabled {
			a := Ready
			if sp.disabled {
				a = Maint
			}
			if t := old.m.SetAdmin(a, now); t.Kind != KindNone {
				m.queueLocked(old, t)
			}
		}
		if prev.checked != sp.checked || prev.check != sp.check || prev.params != sp.params {
			if old.cancel != nil {
				stop = append(stop, &server{cancel: old.cancel, done: old.done})
				old.cancel, old.done = nil, nil
			}
			if sp.checked {
				start = append(start, old)
			}
		}
	}
	for k, s := range m.servers {
		if !want[k] {
			s.removed = true
			stop = append(stop, s)
			delete(m.servers, k)
		}
	}
	m.mu.Unlock()

	for _, s := range stop {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	}
	m.startAll(start)
	m.flush()
	return nil
}

// startAll starts the check goroutines, the first checks spread over one
// interval.
func (m *Manager) startAll(ss []*server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(ss)
	for i, s := range ss {
		inter := s.spec.params.Inter
		first := time.Duration(int64(inter) * int64(i) / int64(n))
		if m.spread > 0 {
			first = min(max(Jitter(first, m.spread, m.rnd.Float64()), 0), inter-1)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel, s.done, s.kick = cancel, make(chan struct{}), make(chan struct{}, 1)
		m.running++
		go m.run(ctx, s, m.newChecker(s.spec.check), s.done, s.kick, first)
	}
}

// run is one server's check loop.
func (m *Manager) run(ctx context.Context, s *server, c Checker, done chan struct{}, kick chan struct{}, first time.Duration) {
	defer close(done)
	defer func() {
		m.mu.Lock()
		m.running--
		m.mu.Unlock()
	}()
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		m.mu.Lock()
		maint := s.m.Admin() == Maint || !s.m.Checked() // MAINT, or checks paused
		m.mu.Unlock()
		if !maint {
			select {
			case m.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			r := c.Check(ctx)
			<-m.sem
			if ctx.Err() != nil {
				return
			}
			m.observe(s, r)
		}
		m.mu.Lock()
		next := Jitter(s.m.NextInterval(), m.spread, m.rnd.Float64())
		m.mu.Unlock()
		t.Reset(next)
	}
}

func (m *Manager) observe(s *server, r Result) {
	m.mu.Lock()
	if s.removed {
		m.mu.Unlock()
		return
	}
	t := s.m.Observe(r, m.now())
	m.queueLocked(s, t)
	m.mu.Unlock()
	m.flush()
}

// countLocked returns the usable active and backup servers of a backend.
func (m *Manager) countLocked(backend string) (active, backup int) {
	for _, name := range m.backends[backend] {
		s := m.servers[backend+"/"+name]
		if s == nil || !s.m.Usable() {
			continue
		}
		if s.spec.backup {
			backup++
		} else {
			active++
		}
	}
	return active, backup
}

// queueLocked turns a transition into log lines and an Event.
func (m *Manager) queueLocked(s *server, t Transition) {
	be, name := s.spec.backend, s.spec.name
	switch t.Kind {
	case KindNone:
		return
	case KindCheck:
		p := s.m.Params()
		m.pending = append(m.pending, note{level: slog.LevelInfo,
			msg: CheckMessage(be, name, t.Result, s.m.Health(), p.Rise, p.Fall)})
		return
	}
	active, backup := m.countLocked(be)
	ev := &Event{Backend: be, Server: name, Up: t.Up, Admin: t.Admin, State: t.To, At: t.At}
	level := slog.LevelInfo
	if t.Kind == KindHealth {
		ev.Reason = t.Result.Reason()
		if t.Up {
			ev.Message = UpMessage(be, name, t.Result, active, backup)
		} else {
			ev.Message = DownMessage(be, name, t.Result, active, backup)
			level = slog.LevelWarn
		}
		if t.Result.Code == "" {
			ev.Reason, ev.Message = "reconfigured", fmt.Sprintf("Server %s/%s is %s after reload.", be, name, t.To)
		}
	} else {
		ev.Reason = "admin state " + t.Admin.String()
		ev.Message = AdminMessage(be, name, t.FromAdmin, t.Admin, t.Up, active, backup)
		if t.Admin == Maint {
			level = slog.LevelWarn
		}
	}
	m.pending = append(m.pending, note{ev: ev, level: level, msg: ev.Message})
	if active+backup == 0 && t.From == StateUp && !s.m.Usable() {
		m.pending = append(m.pending, note{level: slog.LevelError, msg: NoServerMessage(be)})
	}
}

// flush logs and delivers queued notes in order, without holding mu.
func (m *Manager) flush() {
	m.deliverMu.Lock()
	defer m.deliverMu.Unlock()
	for {
		m.mu.Lock()
		ns := m.pending
		m.pending = nil
		m.mu.Unlock()
		if len(ns) == 0 {
			return
		}
		for _, n := range ns {
			if n.ev != nil {
				m.log.Log(context.Background(), n.level, n.msg,
					"backend", n.ev.Backend, "server", n.ev.Server, "state", n.ev.State)
				if m.opts.OnChange != nil {
					m.opts.OnChange(*n.ev)
				}
				continue
			}
			m.log.Log(context.Background(), n.level, n.msg)
		}
	}
}

// lookupLocked finds a server or explains which names are valid.
func (m *Manager) lookupLocked(backend, name string) (*server, error) {
	names, ok := m.backends[backend]
	if !ok {
		bs := make([]string, 0, len(m.backends))
		for b := range m.backends {
			bs = append(bs, b)
		}
		slices.Sort(bs)
		return nil, fmt.Errorf("checks: no backend %q (backends: %s)", backend, strings.Join(bs, ", "))
	}
	s := m.servers[backend+"/"+name]
	if s == nil {
		return nil, fmt.Errorf("checks: no server %q in backend %s (servers: %s)", name, backend, strings.Join(names, ", "))
	}
	return s, nil
}

// SetAdmin sets a server's admin state (READY, DRAIN, MAINT). Leaving MAINT
// checks the server at once. OnChange has been called when it returns.
func (m *Manager) SetAdmin(backend, server string, a Admin) error {
	if a > Maint {
		return fmt.Errorf("checks: invalid admin state %d", a)
	}
	m.mu.Lock()
	s, err := m.lookupLocked(backend, server)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	from := s.m.Admin()
	t := s.m.SetAdmin(a, m.now())
	m.queueLocked(s, t)
	if from == Maint && a != Maint && s.kick != nil {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	m.flush()
	return nil
}

func (m *Manager) infoLocked(s *server, now time.Time) ServerInfo {
	p := s.m.Params()
	cs := control.CheckStatus{
		Enabled: s.m.Checked(), // configured and not paused (SetChecking)
		Health:  s.m.Health(),
		Rise:    p.Rise,
		Fall:    p.Fall,
	}
	if s.spec.checked {
		cs.Type = s.spec.check.typ
		if r, at, ok := s.m.Last(); ok {
			cs.Result, cs.Code, cs.Reason, cs.Duration, cs.LastAt = string(r.Code), r.Status, r.Reason(), r.Duration, at
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
func (m *Manager) Status(backend, server string) (control.CheckStatus, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.servers[backend+"/"+server]
	if s == nil {
		return control.CheckStatus{}, "", false
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

// Close stops every check and waits for them. The Manager cannot be
// reused.
func (m *Manager) Close() {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.mu.Lock()
	m.closed = true
	var stop []*server
	for _, s := range m.servers {
		s.removed = true
		if s.cancel != nil {
			stop = append(stop, &server{cancel: s.cancel, done: s.done})
			s.cancel = nil
		}
	}
	m.mu.Unlock()
	for _, s := range stop {
		s.cancel()
		<-s.done
	}
	m.flush()
}

// runningChecks reports the live check goroutines (tests).
func (m *Manager) runningChecks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

// BackendUsable reports whether at least one server of the backend may take
// new traffic (for VRRP tracking and the stats page); false for an unknown
// backend.
func (m *Manager) BackendUsable(backend string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, b := m.countLocked(backend)
	return a+b > 0
}
