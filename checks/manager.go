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

// serverSpec is a ServerSpec as the Manager keeps it.
type serverSpec struct {
	backend, name, addr string
	backup, disabled    bool
	checked             bool
	params              Params
	check               CheckSpec // zero when not checked
}

func (s serverSpec) key() string { return serverKey(s.backend, s.name) }

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

	newChecker func(c CheckSpec, inter time.Duration) (Checker, error) // test hook
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
		newChecker: CheckSpec.checker,
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
// On error (an expect rstatus that does not compile) nothing changes.
func (m *Manager) Apply(cfg Config) error {
	var specs []serverSpec
	for _, b := range cfg.Backends {
		for _, s := range b.Servers {
			sp := serverSpec{backend: b.Name, name: s.Name, addr: s.Address,
				backup: s.Backup, disabled: s.Disabled, params: s.Params}
			if s.Check != nil {
				sp.checked, sp.check = true, *s.Check
				if _, err := sp.check.checker(sp.params.Inter); err != nil {
					return fmt.Errorf("checks: backend %s: server %s: %w", b.Name, s.Name, err)
				}
			}
			specs = append(specs, sp)
		}
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
	m.spread = cfg.SpreadChecks
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
		inter := s.m.Params().Inter
		first := time.Duration(int64(inter) * int64(i) / int64(n))
		if m.spread > 0 {
			first = min(max(Jitter(first, m.spread, m.rnd.Float64()), 0), inter-1)
		}
		c, err := m.newChecker(s.spec.check, inter)
		if err != nil { // compiled once in Apply already
			m.log.Error("checks: cannot build the check", "backend", s.spec.backend, "server", s.spec.name, "err", err)
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel, s.done, s.kick = cancel, make(chan struct{}), make(chan struct{}, 1)
		m.running++
		go m.run(ctx, s, c, s.done, s.kick, first)
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
		s := m.servers[serverKey(backend, name)]
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
