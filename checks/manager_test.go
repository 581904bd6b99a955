package checks

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeWorld answers checks from a script and records when each server was
// checked. Used inside synctest bubbles, where time is fake.
type fakeWorld struct {
	mu       sync.Mutex
	result   map[string]func(now time.Time) Result // by target address
	calls    map[string][]time.Time
	delay    time.Duration
	inflight int
	maxIn    int
}

func newFakeWorld() *fakeWorld {
	return &fakeWorld{result: map[string]func(time.Time) Result{}, calls: map[string][]time.Time{}}
}

func (w *fakeWorld) set(addr string, f func(time.Time) Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.result[addr] = f
}

func (w *fakeWorld) times(addr string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.calls[addr]...)
}

type fakeCheck struct {
	w    *fakeWorld
	addr string
}

func (c fakeCheck) Check(ctx context.Context) Result {
	w := c.w
	w.mu.Lock()
	w.calls[c.addr] = append(w.calls[c.addr], time.Now())
	w.inflight++
	w.maxIn = max(w.maxIn, w.inflight)
	f, d := w.result[c.addr], w.delay
	w.mu.Unlock()
	defer func() { w.mu.Lock(); w.inflight--; w.mu.Unlock() }()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return Result{Code: SOCKERR}
		}
	}
	if f == nil {
		return Result{Code: L4OK}
	}
	return f(time.Now())
}

func (w *fakeWorld) install(m *Manager) {
	m.newChecker = func(c CheckSpec, _ time.Duration) (Checker, error) { return fakeCheck{w: w, addr: c.Addr}, nil }
}

// events collects OnChange calls.
type events struct {
	mu sync.Mutex
	ev []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }
func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.ev...)
}

// srv is a server with a TCP check of its own address and HAProxy's usual
// timing (inter 2s, rise 2, fall 3), changed by mod.
func srv(name, addr string, mod func(*ServerSpec)) ServerSpec {
	s := ServerSpec{Name: name, Address: addr, Params: Params{Inter: 2 * time.Second, Rise: 2, Fall: 3}, Check: &CheckSpec{Addr: addr}}
	if mod != nil {
		mod(&s)
	}
	return s
}

func cfgOf(spread int, backends ...Backend) Config {
	return Config{SpreadChecks: spread, Backends: backends}
}

// be is a backend; with tmpl set, its checked servers run that check
// (keeping their own check address), as a backend's health_check does.
func be(name string, tmpl *CheckSpec, servers ...ServerSpec) Backend {
	b := Backend{Name: name}
	for _, s := range servers {
		if s.Check != nil && tmpl != nil {
			c := *tmpl
			c.Addr = s.Check.Addr
			s.Check = &c
		}
		b.Servers = append(b.Servers, s)
	}
	return b
}

func failBetween(from, to time.Time) func(time.Time) Result {
	return func(now time.Time) Result {
		if !now.Before(from) && now.Before(to) {
			return Result{Code: L7STS, Status: 500}
		}
		return Result{Code: L7OK, Status: 200}
	}
}

func TestManagerDetectAndRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := newFakeWorld()
		w.set("10.0.0.1:80", failBetween(start.Add(10500*time.Millisecond), start.Add(20500*time.Millisecond)))
		var ev events
		m := New(Options{OnChange: ev.add})
		w.install(m)
		defer m.Close()
		cfg := cfgOf(0, be("app_servers", nil,
			srv("web01", "10.0.0.1:80", func(s *ServerSpec) {
				s.Params.Inter, s.Params.FastInter, s.Params.DownInter, s.Params.Rise, s.Params.Fall = time.Second, 500*time.Millisecond, 5*time.Second, 2, 3
			}),
			srv("web02", "10.0.0.2:80", func(s *ServerSpec) { s.Params.Inter = time.Second })))
		if err := m.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		got := ev.all()
		if len(got) != 2 {
			t.Fatalf("events %+v", got)
		}
		// Checks at 0,1,..,10 pass; 11 fails, then fastinter while going
		// down: 11.5 and 12 fail, DOWN at 12s (inter + (fall-1) x fastinter).
		down := got[0]
		if down.Up || down.State != StateDown || down.At.Sub(start) != 12*time.Second {
			t.Fatalf("down event %+v at %v", down, down.At.Sub(start))
		}
		if want := "Server app_servers/web01 is DOWN, reason: Layer7 wrong status, code: 500, check duration: 0ms. 1 active and 0 backup servers left."; down.Message != want {
			t.Fatalf("message %q", down.Message)
		}
		// Fully down: downinter 5s -> 17 (still failing), 22 ok (health 1,
		// fastinter) -> 22.5 ok: UP.
		up := got[1]
		if !up.Up || up.State != StateUp || up.At.Sub(start) != 22500*time.Millisecond || up.Reason != "Layer7 check passed" {
			t.Fatalf("up event %+v at %v", up, up.At.Sub(start))
		}
		var gaps []time.Duration
		calls := w.times("10.0.0.1:80")
		for i := 1; i < len(calls) && calls[i].Sub(start) <= 23*time.Second; i++ {
			gaps = append(gaps, calls[i].Sub(calls[i-1]))
		}
		want := []time.Duration{}
		for range 11 {
			want = append(want, time.Second)
		}
		want = append(want, 500*time.Millisecond, 500*time.Millisecond, 5*time.Second, 5*time.Second, 500*time.Millisecond)
		if len(gaps) != len(want) {
			t.Fatalf("gaps %v, want %v", gaps, want)
		}
		for i := range want {
			if gaps[i] != want[i] {
				t.Fatalf("gaps %v, want %v", gaps, want)
			}
		}
		si, ok := m.Info("app_servers", "web01")
		if !ok || si.Transitions != 2 || si.Downtime != 10500*time.Millisecond || si.Check.Result != "L7OK" || si.Check.Health != 4 {
			t.Fatalf("info %+v", si)
		}
		m.Close()
		if n := m.runningChecks(); n != 0 {
			t.Fatalf("%d check goroutines after Close", n)
		}
	})
}

func TestManagerSpreadAndJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := newFakeWorld()
		m := New(Options{})
		w.install(m)
		defer m.Close()
		var servers []ServerSpec
		for i := range 10 {
			servers = append(servers, srv("s"+string(rune('a'+i)), "10.0.1."+string(rune('0'+i))+":80", func(s *ServerSpec) { s.Params.Inter = time.Second }))
		}
		if err := m.Apply(cfgOf(0, be("b", nil, servers...))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		seen := map[time.Duration]bool{}
		for _, s := range servers {
			ts := w.times(s.Address)
			if len(ts) != 1 {
				t.Fatalf("%s: %d checks in the first interval", s.Name, len(ts))
			}
			off := ts[0].Sub(start)
			if off < 0 || off >= time.Second || seen[off] {
				t.Fatalf("first check offset %v out of the interval or shared", off)
			}
			seen[off] = true
		}
		m.Close()

		// spread_checks 10: every interval within +-10%, and not constant.
		w2 := newFakeWorld()
		m2 := New(Options{})
		w2.install(m2)
		defer m2.Close()
		if err := m2.Apply(cfgOf(10, be("b", nil, srv("j", "10.0.2.1:80", func(s *ServerSpec) { s.Params.Inter = time.Second })))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Second)
		synctest.Wait()
		m2.Close()
		ts := w2.times("10.0.2.1:80")
		if len(ts) < 50 {
			t.Fatalf("only %d checks", len(ts))
		}
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(ts); i++ {
			g := ts[i].Sub(ts[i-1])
			if g < 900*time.Millisecond || g > 1100*time.Millisecond {
				t.Fatalf("interval %v outside inter +-10%%", g)
			}
			distinct[g] = true
		}
		if len(distinct) < 10 {
			t.Fatalf("jitter barely varies: %d distinct intervals", len(distinct))
		}
	})
}

func TestManagerAdmin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := newFakeWorld()
		var ev events
		var m *Manager
		// OnChange may read the Manager.
		m = New(Options{OnChange: func(e Event) {
			if _, st, ok := m.Status(e.Backend, e.Server); !ok || st != e.State {
				t.Errorf("Status in OnChange: %s %v, event %s", st, ok, e.State)
			}
			ev.add(e)
		}})
		w.install(m)
		defer m.Close()
		cfg := cfgOf(0, be("b", nil,
			srv("s1", "10.0.3.1:80", func(s *ServerSpec) { s.Params.Inter = time.Second }),
			srv("s2", "10.0.3.2:80", func(s *ServerSpec) { s.Check = nil }),
			srv("s3", "10.0.3.3:80", func(s *ServerSpec) { s.Disabled = true; s.Check = nil })))
		if err := m.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		if got := ev.all(); len(got) != 1 || got[0].Server != "s3" || got[0].Admin != Maint || got[0].State != StateMaint {
			t.Fatalf("disabled server event: %+v", got)
		}
		time.Sleep(1500 * time.Millisecond) // s1 checked at 0 and 1s
		if err := m.SetAdmin("b", "s1", Maint); err != nil {
			t.Fatal(err)
		}
		if m.Usable("b", "s1") {
			t.Fatal("MAINT server usable")
		}
		// Failures during MAINT are not run nor counted.
		w.set("10.0.3.1:80", func(time.Time) Result { return Result{Code: L4CON} })
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := len(w.times("10.0.3.1:80")); n != 2 {
			t.Fatalf("%d checks, want none during MAINT", n)
		}
		// Leaving MAINT: UP with health=rise, checked at once; the failure
		// then marks it DOWN.
		leave := time.Now()
		if err := m.SetAdmin("b", "s1", Ready); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ts := w.times("10.0.3.1:80")
		if len(ts) != 3 || !ts[2].Equal(leave) {
			t.Fatalf("no immediate check after MAINT: %v", ts)
		}
		got := ev.all()
		states := []string{}
		for _, e := range got[1:] {
			states = append(states, e.Server+":"+e.State)
		}
		if strings.Join(states, " ") != "s1:MAINT s1:UP s1:DOWN" {
			t.Fatalf("events %v", states)
		}
		if got[2].Message != "Server b/s1 is UP (leaving maintenance). 2 active and 0 backup servers online." {
			t.Fatalf("leave msg %q", got[2].Message)
		}
		// DRAIN on an unchecked server.
		if err := m.SetAdmin("b", "s2", Drain); err != nil {
			t.Fatal(err)
		}
		if _, st, _ := m.Status("b", "s2"); st != StateDrain || m.Usable("b", "s2") {
			t.Fatalf("drain state %s", st)
		}
		if e := ev.all(); e[len(e)-1].Admin != Drain || !e[len(e)-1].Up {
			t.Fatalf("drain event %+v", e[len(e)-1])
		}
		// Unknown names list the valid ones.
		if err := m.SetAdmin("b", "nope", Drain); err == nil || !strings.Contains(err.Error(), "s1, s2, s3") {
			t.Fatalf("unknown server error: %v", err)
		}
		if err := m.SetAdmin("x", "s1", Drain); err == nil || !strings.Contains(err.Error(), "backends: b") {
			t.Fatalf("unknown backend error: %v", err)
		}
		snap := m.Snapshot()
		if len(snap) != 3 || snap[0].Server != "s1" || snap[2].State != StateMaint || snap[1].Check.Enabled {
			t.Fatalf("snapshot %+v", snap)
		}
		_ = start
		m.Close()
	})
}

func TestManagerApplyKeepsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		w.set("10.0.4.1:80", func(time.Time) Result { return Result{Code: L7STS, Status: 503} })
		m := New(Options{})
		w.install(m)
		defer m.Close()
		s1 := srv("s1", "10.0.4.1:80", func(s *ServerSpec) { s.Params.Inter = time.Second })
		s2 := srv("s2", "10.0.4.2:80", func(s *ServerSpec) { s.Params.Inter = time.Second })
		if err := m.Apply(cfgOf(0, be("b", nil, s1, s2))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
		if err := m.SetAdmin("b", "s2", Drain); err != nil {
			t.Fatal(err)
		}
		before, _ := m.Info("b", "s1")
		if before.State != StateDown || before.Transitions != 1 {
			t.Fatalf("s1 before reload %+v", before)
		}
		// Reload: s1 and s2 kept (s2 with a new rise), s3 added.
		s2b := s2
		s2b.Params.Rise = 4
		s3 := srv("s3", "10.0.4.3:80", func(s *ServerSpec) { s.Params.Inter = time.Second })
		if err := m.Apply(cfgOf(0, be("b", nil, s1, s2b, s3))); err != nil {
			t.Fatal(err)
		}
		after, _ := m.Info("b", "s1")
		if after.State != StateDown || after.Transitions != 1 || !after.LastChange.Equal(before.LastChange) {
			t.Fatalf("s1 state lost across reload: %+v", after)
		}
		if i2, _ := m.Info("b", "s2"); i2.State != StateDrain || i2.Check.Rise != 4 || !i2.Up {
			t.Fatalf("s2 after reload %+v", i2)
		}
		if m.runningChecks() != 3 {
			t.Fatalf("running %d", m.runningChecks())
		}
		// Kept s1's checker was not restarted: checks stay on its cadence.
		n := len(w.times("10.0.4.1:80"))
		time.Sleep(1 * time.Second)
		synctest.Wait()
		if got := len(w.times("10.0.4.1:80")); got != n+1 {
			t.Fatalf("s1 checks %d -> %d in one interval", n, got)
		}
		// New address = new server; removed servers stop.
		s1b := s1
		s1b.Address = "10.0.4.9:80"
		s1b.Check = &CheckSpec{Addr: s1b.Address}
		if err := m.Apply(cfgOf(0, be("b", nil, s1b))); err != nil {
			t.Fatal(err)
		}
		if i1, _ := m.Info("b", "s1"); i1.State != StateUp || i1.Transitions != 0 {
			t.Fatalf("readdressed s1 kept old state: %+v", i1)
		}
		if _, _, ok := m.Status("b", "s2"); ok {
			t.Fatal("removed s2 still known")
		}
		if m.runningChecks() != 1 {
			t.Fatalf("running %d after removal", m.runningChecks())
		}
		// A bad config changes nothing.
		bad := cfgOf(0, be("b", &CheckSpec{HTTP: true, ExpectRStatus: "("}, s1b))
		if err := m.Apply(bad); err == nil {
			t.Fatal("bad rstatus accepted")
		}
		if m.runningChecks() != 1 {
			t.Fatal("failed Apply changed the running checks")
		}
		if err := m.Apply(cfgOf(0)); err != nil {
			t.Fatal(err)
		}
		if m.runningChecks() != 0 || len(m.Snapshot()) != 0 {
			t.Fatal("empty config left checks running")
		}
		m.Close()
		if err := m.Apply(cfgOf(0)); err == nil {
			t.Fatal("Apply after Close")
		}
	})
}

func TestManagerBoundedConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		w.delay = 300 * time.Millisecond
		m := New(Options{MaxConcurrent: 3})
		w.install(m)
		defer m.Close()
		var servers []ServerSpec
		for i := range 12 {
			servers = append(servers, srv("s"+string(rune('a'+i)), "10.0.5."+string(rune('a'+i))+":80", func(s *ServerSpec) { s.Params.Inter = 100 * time.Millisecond }))
		}
		if err := m.Apply(cfgOf(0, be("b", nil, servers...))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		m.Close()
		if w.maxIn != 3 {
			t.Fatalf("max in flight %d, want 3", w.maxIn)
		}
	})
}

func TestManagerNoServerAvailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		w.set("10.0.6.1:80", func(time.Time) Result { return Result{Code: L4CON, Info: "Connection refused"} })
		var logs strings.Builder
		var mu sync.Mutex
		h := &lineHandler{mu: &mu, b: &logs}
		m := New(Options{Logger: slogNew(h)})
		w.install(m)
		defer m.Close()
		if err := m.Apply(cfgOf(0, be("app_servers", nil, srv("web01", "10.0.6.1:80", nil)))); err != nil {
			t.Fatal(err)
		}
		if !m.Usable("app_servers", "web01") {
			t.Fatal("server unusable before the first check")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if m.Usable("app_servers", "web01") || m.Usable("app_servers", "nope") {
			t.Fatal("server usable while DOWN")
		}
		m.Close()
		mu.Lock()
		out := logs.String()
		mu.Unlock()
		want := "WARN Server app_servers/web01 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left.\nERROR backend app_servers has no server available!\n"
		if out != want {
			t.Fatalf("logs:\n%s\nwant:\n%s", out, want)
		}
	})
}

// SetChecking is `disable health` / `enable health`: a DOWN server whose
// checks are paused counts as UP and gets no checks until resumed.
func TestSetCheckingPausesChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFakeWorld()
		w.set("10.0.0.1:80", func(time.Time) Result { return Result{Code: L4CON} })
		var ev events
		m := New(Options{OnChange: ev.add})
		w.install(m)
		defer m.Close()
		cfg := cfgOf(0, be("app", nil,
			srv("web01", "10.0.0.1:80", func(s *ServerSpec) { s.Params.Inter, s.Params.Rise, s.Params.Fall = time.Second, 2, 3 }),
			srv("web02", "10.0.0.2:80", func(s *ServerSpec) { s.Check = nil })))
		if err := m.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if m.Usable("app", "web01") {
			t.Fatal("failing server still usable")
		}
		if err := m.SetChecking("app", "nope", false); err == nil {
			t.Fatal("unknown server accepted")
		}
		if err := m.SetChecking("app", "web02", true); err != ErrNotChecked {
			t.Fatalf("enable health on an unchecked server: %v", err)
		}
		if err := m.SetChecking("app", "web01", false); err != nil {
			t.Fatal(err)
		}
		si, _ := m.Info("app", "web01")
		if !si.Up || si.Check.Enabled || !m.Usable("app", "web01") {
			t.Fatalf("paused server: %+v", si)
		}
		got := ev.all()
		if last := got[len(got)-1]; last.State != StateUp || last.Reason != "health checks paused" {
			t.Fatalf("events %+v", got)
		}
		n := len(w.times("10.0.0.1:80"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if m := len(w.times("10.0.0.1:80")); m != n {
			t.Fatalf("%d checks sent while paused", m-n)
		}
		if err := m.SetChecking("app", "web01", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if si, _ := m.Info("app", "web01"); !si.Check.Enabled || m.Usable("app", "web01") {
			t.Fatalf("resumed server still up against failing checks: %+v", si)
		}
	})
}
