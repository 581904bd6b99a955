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
//
// After a trim the memory held is about the live heap, and ordinary
// allocation lets the heap grow again up to the collector's goal (twice
// the live heap with GOGC=100) without any burst: growth is measured from
// the memory held after the trim plus that room (heap goal minus live
// heap, read just after the trim), so that a large live heap and a little
// traffic do not trim every trimMinInterval for ever. A trim that still
// gives back little (under trimGrowth/2) doubles the least time to the
// next one, up to trimMaxInterval; one that gives back more resets it.
const (
	trimTick        = 250 * time.Millisecond
	trimMinInterval = 10 * time.Second
	trimMaxInterval = 16 * trimMinInterval
)

// trimGrowth: the memory the runtime holds must have grown by this much
// since the last trim. Tests lower it.
var trimGrowth uint64 = 16 << 20

// trimState is the trimmer's decision state, apart from the clock and the
// runtime so that tests can drive it.
type trimState struct {
	prev    uint64        // activity counter at the previous tick
	at      time.Time     // when prev was read (zero: not yet)
	busiest uint64        // most activity in one tick since the last trim
	base    uint64        // memory held just after the last trim (or the lowest seen since)
	room    uint64        // heap goal minus live heap just after the last trim: growth that needs no burst (0 before the first)
	wait    time.Duration // least time between trims (0: trimMinInterval); doubled by trims that give back little
	last    time.Time     // last trim
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
	if held < t.base+t.room+trimGrowth {
		t.busiest = 0 // nothing to give back: wait for the next busy spell
		return false
	}
	return t.last.IsZero() || now.Sub(t.last) >= max(t.wait, trimMinInterval)
}

// done records a trim: the memory held before and after it, and the room
// the heap has to grow after it without a burst (heap goal minus live
// heap).
func (t *trimState) done(now time.Time, before, after, room uint64) {
	t.last, t.busiest, t.base, t.room = now, 0, after, room
	if before < after || before-after < trimGrowth/2 {
		t.wait = min(2*max(t.wait, trimMinInterval), trimMaxInterval)
	} else {
		t.wait = trimMinInterval
	}
}

// memNames: the memory mapped by the runtime and the part of it returned
// to the OS (their difference is what the runtime holds), the heap goal
// and the live heap.
var memNames = [4]string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes",
	"/gc/heap/goal:bytes", "/gc/heap/live:bytes"}

// memHeld returns the memory the runtime holds and the room the heap has
// to grow before the next collection's goal (goal minus live).
func memHeld(s *[4]metrics.Sample) (held, room uint64) {
	metrics.Read(s[:])
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	total, released, goal, live := v(0), v(1), v(2), v(3)
	if released < total {
		held = total - released
	}
	if live < goal {
		room = goal - live
	}
	return held, room
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
	var s [4]metrics.Sample
	for i := range s {
		s[i].Name = memNames[i]
	}
	var st trimState
	st.prev, st.at = e.activity(), time.Now()
	st.base, _ = memHeld(&s)
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
			if !st.quiet(e.activity(), now) {
				continue
			}
			before, _ := memHeld(&s)
			if !st.due(now, before) {
				continue
			}
			t0 := time.Now()
			runtime.GC()         // pooled buffers move to the pools' victim caches
			debug.FreeOSMemory() // a second collection frees them; free pages go back to the OS
			el := time.Since(t0)
			e.trims.n.Add(1)
			e.trims.wall.Add(int64(el))
			held, room := memHeld(&s)
			st.done(time.Now(), before, held, room)
			e.log.Debug("memory returned to the OS after a burst", "held_bytes", held, "before_bytes", before, "took", el)
		}
	}
}
