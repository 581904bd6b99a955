package proxy

import (
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTrimStateDecides(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var st trimState
	st.base = 100 << 20
	clock := t0
	quiet := func(act uint64) bool { // one tick later
		clock = clock.Add(trimTick)
		return st.quiet(act, clock)
	}
	// Idle from the start: never quiet (nothing happened).
	for range 2 {
		if quiet(0) {
			t.Fatal("quiet without any activity before")
		}
	}
	// Steady load: every tick alike, never a transition to idle.
	act := uint64(0)
	for i := 0; i < 10; i++ {
		act += 1000
		if quiet(act) {
			t.Fatalf("tick %d: steady load taken for a quiet tick", i)
		}
	}
	// The load falls to under 1/8: quiet, but memory did not grow.
	act += 100
	if !quiet(act) {
		t.Fatal("load fell to 1/10: want a quiet tick")
	}
	if st.due(t0, 100<<20+trimGrowth-1) {
		t.Fatal("trim although memory grew by less than trimGrowth")
	}
	if quiet(act) {
		t.Fatal("after a refused trim, quiet ticks wait for the next busy spell")
	}
	// A burst, then idle, with memory grown: trim.
	act += 5000
	quiet(act)
	if !quiet(act) || !st.due(t0, 100<<20+trimGrowth) {
		t.Fatal("burst then idle with memory grown: want a trim")
	}
	st.done(t0, 120<<20+trimGrowth, 120<<20, 0)
	// Another burst at once: memory must grow again from the new base and
	// trimMinInterval must have passed.
	act += 5000
	quiet(act)
	if !quiet(act) {
		t.Fatal("second burst then idle: want a quiet tick")
	}
	if st.due(t0.Add(trimMinInterval/2), 120<<20+trimGrowth) {
		t.Fatal("two trims within trimMinInterval")
	}
	if st.due(t0.Add(trimMinInterval), 120<<20+trimGrowth-1) {
		t.Fatal("trim although memory did not grow from the last trim's level")
	}
	act += 5000
	quiet(act)
	quiet(act)
	if !st.due(t0.Add(trimMinInterval), 120<<20+trimGrowth) {
		t.Fatal("burst after trimMinInterval with memory grown: want a trim")
	}
}

// TestTrimStateLateTick: under a steady load, a tick that comes soon after
// a late one (the trimmer's goroutine ran late on a loaded machine: the
// ticker then delivers its next tick at once) counts few requests; that is
// no fall in the load, and must not be taken for a quiet tick.
func TestTrimStateLateTick(t *testing.T) {
	var st trimState
	now := time.Unix(1000, 0)
	act := uint64(0)
	const rate = 4000 // requests a second
	step := func(d time.Duration) bool {
		now = now.Add(d)
		act += uint64(rate * d.Seconds())
		return st.quiet(act, now)
	}
	for i := 0; i < 8; i++ {
		if step(trimTick) {
			t.Fatalf("tick %d: steady load taken for a quiet tick", i)
		}
	}
	if step(trimTick - 20*time.Millisecond + trimTick) { // received late
		t.Fatal("a late tick taken for a quiet one")
	}
	if step(20 * time.Millisecond) { // the next one, at once
		t.Fatal("steady load: a tick 20 ms after a late one taken for a quiet tick")
	}
	for i := 0; i < 4; i++ {
		if step(trimTick) {
			t.Fatalf("tick %d after the late one: steady load taken for a quiet tick", i)
		}
	}
	// The load really falls: quiet.
	now = now.Add(trimTick)
	act += 10
	if !st.quiet(act, now) {
		t.Fatal("load fell to almost nothing: want a quiet tick")
	}
}

// TestTrimStateCounterBack: a reload that removes a frontend takes its
// requests out of the activity sum, which then goes back; under a steady
// load that is no burst (nor a fall), and the ticks after it are not
// quiet.
func TestTrimStateCounterBack(t *testing.T) {
	var st trimState
	now := time.Unix(1000, 0)
	act := uint64(5_000_000)
	st.prev, st.at = act, now // as the trimmer starts
	for i := 0; i < 4; i++ {
		now, act = now.Add(trimTick), act+1000
		st.quiet(act, now)
	}
	now, act = now.Add(trimTick), act+1000-4_000_000 // the reload
	if st.quiet(act, now) {
		t.Fatal("the tick of the reload taken for a quiet one")
	}
	for i := 0; i < 4; i++ {
		now, act = now.Add(trimTick), act+1000
		if st.quiet(act, now) {
			t.Fatalf("tick %d after a reload removed a frontend: steady load taken for a quiet tick", i)
		}
	}
}

// TestTrimAfterBurst: many requests held at once, then idle connections:
// the engine runs one trim (collections and memory back to the OS), the
// connections stay open and usable, and steady traffic afterwards does not
// trim again.
func TestTrimAfterBurst(t *testing.T) {
	old := trimGrowth
	trimGrowth = 1 << 20
	t.Cleanup(func() { trimGrowth = old })
	const n = 100
	var inFlight atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if inFlight.Add(1) >= n {
			once.Do(func() { close(release) })
		}
		select { // hold every request until all n are in: a burst
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("ok"))
	})
	debug.FreeOSMemory() // what earlier tests left free must not hide the burst's growth
	e, addr, _ := startEngine(t, testConfig(srv("a", be.addr())))
	conns := make([]*rawClient, n)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
	}
	before := e.trims.n.Load()
	sendAll(t, conns) // the burst
	waitFor(t, "a trim after the burst", func() bool { return e.trims.n.Load() == before+1 })
	// The connections are still open and keep-alive works.
	for _, rc := range conns[:5] {
		if res, body := rc.get("/again"); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("request after the trim: %d %q", res.StatusCode, body)
		}
	}
	time.Sleep(3 * trimTick)
	if got := e.trims.n.Load(); got != before+1 {
		t.Errorf("%d trims after a few requests, want still 1", got-before)
	}
}

// TestTrimStateLiveHeap: with a live heap of 32 MiB, the memory held
// after a trim is about that, and ordinary allocation takes it up to the
// heap goal (twice that) with no burst behind it; light bursty traffic
// must not trim every trimMinInterval for ever. A real burst beyond the
// goal still trims; trims that give back little back off.
func TestTrimStateLiveHeap(t *testing.T) {
	const mib = 1 << 20
	var st trimState
	now := time.Unix(1000, 0)
	act := uint64(0)
	// A small burst then a quiet tick (light, bursty traffic).
	quietTick := func() bool {
		now = now.Add(trimTick)
		act += 100
		st.quiet(act, now)
		now = now.Add(trimTick)
		act++
		return st.quiet(act, now)
	}
	st.base = 40 * mib
	if !quietTick() || !st.due(now, 200*mib) {
		t.Fatal("a real burst (200 MiB held): want a trim")
	}
	st.done(now, 200*mib, 40*mib, 32*mib) // live 32 MiB, goal 64 MiB
	// An hour of light traffic: the heap cycles up to its goal.
	trims := 0
	for i := 0; i < 3600; i++ {
		held := uint64(40+32*(i%2)) * mib // 40 MiB after a collection, 72 MiB before the next
		if quietTick() && st.due(now, held) {
			trims++
			st.done(now, held, 40*mib, 32*mib)
		}
	}
	if trims != 0 {
		t.Fatalf("%d trims in an hour of light traffic with a 32 MiB live heap", trims)
	}
	// A burst beyond the goal: trim.
	if !quietTick() || !st.due(now, 40*mib+32*mib+trimGrowth) {
		t.Fatal("a burst beyond the heap goal by trimGrowth: want a trim")
	}
	st.done(now, 40*mib+32*mib+trimGrowth, 40*mib, 32*mib)
	if st.wait != trimMinInterval {
		t.Fatalf("wait after a trim that gave back much: %v", st.wait)
	}

	// Trims that give back little double the wait, up to trimMaxInterval;
	// a good one resets it.
	var bt trimState
	t0 := time.Unix(5000, 0)
	bt.done(t0, 100*mib, 100*mib-trimGrowth/4, 0)
	if bt.wait != 2*trimMinInterval {
		t.Fatalf("wait after a poor trim: %v, want %v", bt.wait, 2*trimMinInterval)
	}
	if bt.due(t0.Add(trimMinInterval), 200*mib) {
		t.Fatal("trim within the backed-off wait")
	}
	if !bt.due(t0.Add(2*trimMinInterval), 200*mib) {
		t.Fatal("no trim once the backed-off wait passed")
	}
	for i := 0; i < 10; i++ {
		bt.done(t0, 100*mib, 100*mib, 0)
	}
	if bt.wait != trimMaxInterval {
		t.Fatalf("wait after many poor trims: %v, want %v", bt.wait, trimMaxInterval)
	}
	bt.done(t0, 100*mib+trimGrowth, 100*mib, 0)
	if bt.wait != trimMinInterval {
		t.Fatalf("wait after a good trim: %v, want %v", bt.wait, trimMinInterval)
	}
}
