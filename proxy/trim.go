package proxy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Memory after a burst. A burst of simultaneous requests makes every
// connection hold its buffers (client, server, response: 16 KB each) at
// the same time, and the heap grows to match. When the burst is over the
// buffers go back to bufPool, but nothing returns them to the OS: a
// sync.Pool is emptied only by garbage collections (two of them), the
// runtime collects only when the program allocates up to a heap goal set
// by the peak, and a forwarding path that allocates nothing per request
// never gets there; the background scavenger keeps memory up to that goal
// too. So after a spike the process would keep its peak RSS for as long as
// its connections stay idle (bench/run.sh case (d') burst: 25 KB per
// connection of the spike, against HAProxy's 10).
//
// The trimmer watches the request rate: when a tick serves under 1/8 of the
// busiest tick since the last trim (the load fell away) and the memory the
// runtime holds has grown by trimGrowth since the last trim, it runs two
// collections (the first moves pooled objects to the pool's victim cache,
// the second frees them) and returns the free pages to the OS
// (debug.FreeOSMemory). At most once per trimMinInterval, never under
// steady load, and only after memory grew: a proxy that is busy, or idle
// without a burst behind it, never pays for it.
const (
	trimTick        = 250 * time.Millisecond
	trimMinInterval = 10 * time.Second
)

// trimGrowth: the memory the runtime holds must have grown by this much
// since the last trim. Tests lower it.
var trimGrowth uint64 = 16 << 20

// trimState is the trimmer's decision state, apart from the clock and the
// runtime so that tests can drive it.
type trimState struct {
	prev    uint64    // activity counter at the previous tick
	at      time.Time // when prev was read (zero: not yet)
	busiest uint64    // most activity in one tick since the last trim
	base    uint64    // memory held just after the last trim (or the lowest seen since)
	last    time.Time // last trim
}

// quiet takes the activity counter (requests and connections so far), read
// at now, and reports whether this tick is a transition to idle worth
// checking: some activity since the last trim, and this tick under 1/8 of
// the busiest. Activity is counted per trimTick of the time that really
// passed: a ticker whose receiver ran late (a loaded machine) delivers its
// next tick soon after, and that short tick's count is no sign of a fall
// in the load. A tick under half a trimTick after the previous one is not
// judged (its activity counts in the next).
func (t *trimState) quiet(act uint64, now time.Time) bool {
	el := trimTick
	if !t.at.IsZero() {
		if el = now.Sub(t.at); el < trimTick/2 {
			return false
		}
	}
	if act < t.prev {
		// The sum went back (a reload removed a frontend and its
		// counts): start again from here, not judged.
		t.prev, t.at = act, now
		return false
	}
	d := act - t.prev
	t.prev, t.at = act, now
	if el != trimTick {
		d = uint64(float64(d) * float64(trimTick) / float64(el))
	}
	if d > t.busiest {
		t.busiest = d
	}
	return t.busiest > 0 && d*8 <= t.busiest
}

// due decides on a quiet tick, given the memory the runtime holds.
func (t *trimState) due(now time.Time, held uint64) bool {
	if held < t.base {
		t.base = held
	}
	if held < t.base+trimGrowth {
		t.busiest = 0 // nothing to give back: wait for the next busy spell
		return false
	}
	return t.last.IsZero() || now.Sub(t.last) >= trimMinInterval
}

// done records a trim and the memory held after it.
func (t *trimState) done(now time.Time, held uint64) {
	t.last, t.busiest, t.base = now, 0, held
}

// heldSamples: the memory mapped by the runtime and the part of it
// returned to the OS; their difference is what the runtime holds.
var heldNames = [2]string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes"}

func memHeld(s *[2]metrics.Sample) uint64 {
	metrics.Read(s[:])
	total, released := s[0].Value.Uint64(), s[1].Value.Uint64()
	if released > total {
		return 0
	}
	return total - released
}

// trimStats counts the trims and their cost, for tests and lbctl.
type trimStats struct {
	n    atomic.Uint64
	wall atomic.Int64 // nanoseconds spent in trims, all together
}

// activity sums the frontends' requests and connections and the parks of
// idle connections: a wave of new connections is over for the trimmer once
// its connections have parked too (their goroutines' stacks are then free;
// idlepoll.go), so that one trim gives back the wave's buffers and stacks.
func (e *Engine) activity() uint64 {
	n := e.idleParks.Load()
	e.reg.mu.Lock()
	for _, c := range e.reg.frontends {
		n += c.requests.Load() + c.total.Load()
	}
	e.reg.mu.Unlock()
	return n
}

// trimmer runs until stop is closed.
func (e *Engine) trimmer(stop chan struct{}) {
	var s [2]metrics.Sample
	for i := range s {
		s[i].Name = heldNames[i]
	}
	var st trimState
	st.prev, st.at = e.activity(), time.Now()
	st.base = memHeld(&s)
	t := time.NewTicker(trimTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// The time of the reading, not the tick's: the goroutine may
			// run late.
			now := time.Now()
			if !st.quiet(e.activity(), now) || !st.due(now, memHeld(&s)) {
				continue
			}
			t0 := time.Now()
			runtime.GC()         // pooled buffers move to the pools' victim caches
			debug.FreeOSMemory() // a second collection frees them; free pages go back to the OS
			el := time.Since(t0)
			e.trims.n.Add(1)
			e.trims.wall.Add(int64(el))
			held := memHeld(&s)
			st.done(time.Now(), held)
			e.log.Debug("memory returned to the OS after a burst", "held_bytes", held, "took", el)
		}
	}
}
