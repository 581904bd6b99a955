package checks

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	ok   = Result{Code: L7OK, Status: 200, Duration: 2 * time.Millisecond}
	fail = Result{Code: L7STS, Status: 500, Duration: 3 * time.Millisecond}
)

// seq renders a result sequence: '+' success, '-' failure.
func seq(s string) []Result {
	out := make([]Result, 0, len(s))
	for _, c := range s {
		if c == '+' {
			out = append(out, ok)
		} else {
			out = append(out, fail)
		}
	}
	return out
}

func TestMachineRiseFall(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		in         string
		// want is the state after each result: U or D.
		want   string
		health []int
	}{
		{"start up, one failure marks down", 2, 3, "-", "D", []int{0}},
		{"start up, first success fully up", 2, 3, "+", "U", []int{4}},
		{"fully up needs fall failures", 2, 3, "+---", "UUUD", []int{4, 3, 2, 0}},
		{"one success while going down restores", 2, 3, "+--+---", "UUUUUUD", []int{4, 3, 2, 4, 3, 2, 0}},
		{"down needs rise successes", 2, 3, "-++", "DDU", []int{0, 1, 4}},
		{"failure while going up resets", 2, 3, "-+-++", "DDDDU", []int{0, 1, 0, 1, 4}},
		{"seed rise 2 fall 5", 2, 5, "+-----++", "UUUUUDDU", []int{6, 5, 4, 3, 2, 0, 1, 6}},
		{"rise 1 fall 1", 1, 1, "+-+-", "UDUD", []int{1, 0, 1, 0}},
		{"rise 3", 3, 2, "-+++", "DDDU", []int{0, 1, 2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine(Params{Inter: time.Second, Rise: tc.rise, Fall: tc.fall}, true, Ready, t0)
			if !m.Up() || m.Health() != tc.rise {
				t.Fatalf("start: up=%v health=%d, want up with health=rise=%d", m.Up(), m.Health(), tc.rise)
			}
			var got strings.Builder
			var hs []int
			for i, r := range seq(tc.in) {
				m.Observe(r, t0.Add(time.Duration(i+1)*time.Second))
				if m.Up() {
					got.WriteByte('U')
				} else {
					got.WriteByte('D')
				}
				hs = append(hs, m.Health())
			}
			if got.String() != tc.want {
				t.Errorf("states %s, want %s", got.String(), tc.want)
			}
			for i := range hs {
				if hs[i] != tc.health[i] {
					t.Errorf("health %v, want %v", hs, tc.health)
					break
				}
			}
		})
	}
}

func TestMachineIntervals(t *testing.T) {
	p := Params{Inter: 2 * time.Second, FastInter: 500 * time.Millisecond, DownInter: 10 * time.Second, Rise: 2, Fall: 3}
	m := NewMachine(p, true, Ready, t0)
	steps := []struct {
		r    []Result
		want time.Duration
	}{
		{nil, 500 * time.Millisecond},      // health=rise: transitioning
		{seq("+"), 2 * time.Second},        // fully up
		{seq("-"), 500 * time.Millisecond}, // going down
		{seq("--"), 10 * time.Second},      // fully down
		{seq("+"), 500 * time.Millisecond}, // going up
		{seq("+"), 2 * time.Second},        // fully up again
	}
	for i, st := range steps {
		for _, r := range st.r {
			m.Observe(r, t0)
		}
		if got := m.NextInterval(); got != st.want {
			t.Errorf("step %d: interval %v, want %v (health %d)", i, got, st.want, m.Health())
		}
	}
	// Without fastinter/downinter everything uses inter.
	m = NewMachine(Params{Inter: time.Second}, true, Ready, t0)
	for _, r := range seq("+-----") {
		m.Observe(r, t0)
		if got := m.NextInterval(); got != time.Second {
			t.Fatalf("interval %v, want inter", got)
		}
	}
	if m.Params().Rise != DefaultRise || m.Params().Fall != DefaultFall {
		t.Errorf("defaults rise/fall = %d/%d", m.Params().Rise, m.Params().Fall)
	}
	if NewMachine(Params{}, true, Ready, t0).NextInterval() != DefaultInter {
		t.Error("default inter not 2s")
	}
}

func TestMachineAdmin(t *testing.T) {
	m := NewMachine(Params{Inter: time.Second, Rise: 2, Fall: 3}, true, Ready, t0)
	m.Observe(ok, t0)
	if m.State() != StateUp || !m.Usable() {
		t.Fatalf("state %s usable %v", m.State(), m.Usable())
	}
	tr := m.SetAdmin(Drain, t0.Add(time.Second))
	if tr.Kind != KindAdmin || tr.From != StateUp || tr.To != StateDrain || m.Usable() {
		t.Fatalf("drain: %+v usable=%v", tr, m.Usable())
	}
	// Checks still count in DRAIN.
	for _, r := range seq("---") {
		m.Observe(r, t0.Add(2*time.Second))
	}
	if m.Up() || m.State() != StateDrain {
		t.Fatalf("drain with failures: up=%v state=%s", m.Up(), m.State())
	}
	// MAINT wins; results are not counted.
	m.SetAdmin(Maint, t0.Add(3*time.Second))
	for _, r := range seq("+++") {
		if tr := m.Observe(r, t0.Add(4*time.Second)); tr.Kind != KindNone {
			t.Fatalf("result counted in MAINT: %+v", tr)
		}
	}
	if m.Health() != 0 || m.State() != StateMaint {
		t.Fatalf("maint: health=%d state=%s", m.Health(), m.State())
	}
	// Leaving MAINT: UP with health=rise, one failure -> DOWN.
	tr = m.SetAdmin(Ready, t0.Add(5*time.Second))
	if tr.To != StateUp || !tr.Up || m.Health() != 2 {
		t.Fatalf("leave maint: %+v health=%d", tr, m.Health())
	}
	tr = m.Observe(fail, t0.Add(6*time.Second))
	if tr.Kind != KindHealth || tr.To != StateDown {
		t.Fatalf("first failure after maint: %+v", tr)
	}
	// Same admin twice: nothing.
	if tr := m.SetAdmin(Ready, t0.Add(7*time.Second)); tr.Kind != KindNone {
		t.Fatalf("no-op admin: %+v", tr)
	}

	// An unchecked server is UP for good but has admin states.
	u := NewMachine(Params{}, false, Ready, t0)
	for _, r := range seq("-----") {
		u.Observe(r, t0)
	}
	if !u.Up() || !u.Usable() || u.Health() != 4 {
		t.Fatalf("unchecked: up=%v health=%d", u.Up(), u.Health())
	}
	u.SetAdmin(Maint, t0)
	if u.State() != StateMaint || u.Usable() {
		t.Fatalf("unchecked maint: %s", u.State())
	}
}

func TestMachineCounters(t *testing.T) {
	m := NewMachine(Params{Inter: time.Second, Rise: 1, Fall: 1}, true, Ready, t0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m.Observe(ok, at(1))
	m.Observe(fail, at(10)) // down 10..20
	m.Observe(fail, at(15))
	m.Observe(ok, at(20))
	if m.Transitions() != 2 || !m.LastChange().Equal(at(20)) {
		t.Fatalf("transitions %d last %v", m.Transitions(), m.LastChange())
	}
	if d := m.Downtime(at(30)); d != 10*time.Second {
		t.Fatalf("downtime %v, want 10s", d)
	}
	m.SetAdmin(Maint, at(40)) // maint counts as down: 40..now
	if d := m.Downtime(at(45)); d != 15*time.Second {
		t.Fatalf("downtime with ongoing maint %v, want 15s", d)
	}
	if m.Transitions() != 3 {
		t.Fatalf("transitions %d", m.Transitions())
	}
	r, when, have := m.Last()
	if !have || r != ok || !when.Equal(at(20)) {
		t.Fatalf("last %+v %v %v", r, when, have)
	}
}

func TestMachineCheckFlip(t *testing.T) {
	m := NewMachine(Params{Inter: time.Second, Rise: 2, Fall: 3}, true, Ready, t0)
	kinds := []Kind{}
	for _, r := range seq("+-+--") {
		kinds = append(kinds, m.Observe(r, t0).Kind)
	}
	want := []Kind{KindNone, KindCheck, KindCheck, KindCheck, KindNone}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
	}
}

func TestMachineReconfigure(t *testing.T) {
	m := NewMachine(Params{Rise: 2, Fall: 3}, true, Ready, t0)
	m.Observe(ok, t0) // health 4, fully up
	m.Reconfigure(Params{Rise: 3, Fall: 5}, true, t0)
	if !m.Up() || m.Health() != 4 {
		t.Fatalf("up kept: up=%v health=%d", m.Up(), m.Health())
	}
	for _, r := range seq("-----") {
		m.Observe(r, t0)
	}
	if m.Up() {
		t.Fatal("still up")
	}
	m.Reconfigure(Params{Rise: 1, Fall: 1}, true, t0)
	if m.Up() {
		t.Fatal("down server came up on reconfigure")
	}
	tr := m.Reconfigure(Params{}, false, t0)
	if !m.Up() || tr.Kind != KindHealth {
		t.Fatalf("unchecked must be up: %+v", tr)
	}
	m.Reconfigure(Params{}, true, t0)
	if m.Health() != DefaultRise {
		t.Fatalf("newly checked health %d", m.Health())
	}
}

func TestParseAdmin(t *testing.T) {
	for in, want := range map[string]Admin{"ready": Ready, "DRAIN": Drain, " maint ": Maint, "disable": Maint, "enable": Ready} {
		got, err := ParseAdmin(in)
		if err != nil || got != want {
			t.Errorf("ParseAdmin(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseAdmin("sleepy"); err == nil {
		t.Error("no error for bad admin")
	}
	if Ready.String() != "READY" || Drain.String() != "DRAIN" || Maint.String() != "MAINT" {
		t.Error("admin strings")
	}
}

func TestMessages(t *testing.T) {
	tests := []struct{ got, want string }{
		{DownMessage("app_servers", "web01", fail, 1, 0),
			"Server app_servers/web01 is DOWN, reason: Layer7 wrong status, code: 500, check duration: 3ms. 1 active and 0 backup servers left."},
		{UpMessage("app_servers", "web01", ok, 2, 0),
			"Server app_servers/web01 is UP, reason: Layer7 check passed, code: 200, check duration: 2ms. 2 active and 0 backup servers online."},
		{NoServerMessage("app_servers"), "backend app_servers has no server available!"},
		{DownMessage("be", "s", Result{Code: L4CON, Info: "Connection refused"}, 0, 1),
			`Server be/s is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 1 backup servers left.`},
		{DownMessage("be", "s", Result{Code: L4TOUT, Duration: 1500 * time.Millisecond}, 0, 0),
			"Server be/s is DOWN, reason: Layer4 timeout, check duration: 1500ms. 0 active and 0 backup servers left."},
		{CheckMessage("be", "s", fail, 3, 2, 3),
			"Health check for server be/s failed, reason: Layer7 wrong status, code: 500, check duration: 3ms, status: 2/3 UP."},
		{CheckMessage("be", "s", ok, 1, 2, 3),
			"Health check for server be/s succeeded, reason: Layer7 check passed, code: 200, check duration: 2ms, status: 1/2 DOWN."},
		{AdminMessage("be", "s", Ready, Maint, true, 1, 0),
			"Server be/s is going DOWN for maintenance. 1 active and 0 backup servers left."},
		{AdminMessage("be", "s", Maint, Ready, true, 2, 0),
			"Server be/s is UP (leaving maintenance). 2 active and 0 backup servers online."},
		{AdminMessage("be", "s", Ready, Drain, true, 1, 0),
			"Server be/s enters drain state. 1 active and 0 backup servers left."},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got  %q\nwant %q", tc.got, tc.want)
		}
	}
	// Hostile info cannot break the line.
	m := DownMessage("b", "s", Result{Code: L4CON, Info: "a\"b\r\nc" + strings.Repeat("x", 500)}, 0, 0)
	if strings.ContainsAny(m, "\r\n") || len(m) > 300 {
		t.Errorf("info not sanitized: %q", m)
	}
}

func TestJitter(t *testing.T) {
	d := time.Second
	for _, pct := range []int{0, 5, 50, 80} {
		lo := d - d*time.Duration(min(pct, 50))/100
		hi := d + d*time.Duration(min(pct, 50))/100
		for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
			got := Jitter(d, pct, r)
			if got < lo || got > hi {
				t.Errorf("Jitter(%v,%d,%v)=%v outside [%v,%v]", d, pct, r, got, lo, hi)
			}
		}
	}
	if Jitter(d, 5, 0) == Jitter(d, 5, 0.9) {
		t.Error("jitter does not vary with r")
	}
}
