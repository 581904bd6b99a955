package proxy

import "time"

// Dial pacing: reuse before dialing while a server is slow to take new
// connections.
//
// When thousands of clients send their first requests at once (5,000 in
// bench case b5k) and a server's idle pool is empty, every request would
// dial a connection of its own. The kernel completes each handshake at
// once, so the connect succeeds and the request is written, but it then
// waits in the server's accept queue until the server process accepts the
// connection: a busy event-loop server such as nginx (multi_accept off, its
// default) accepts one connection per loop turn, so the last of 2,500 new
// connections waited seconds (measured: first requests answered one after
// another over 2.3 s while the server answered established connections in
// milliseconds), and past the listen backlog (nginx: 511) SYNs are dropped
// and retried a second and three seconds later.
//
// So each pool counts its fresh connections: dialed and not answered yet
// (the first response head, or a failure, ends that). While freshMax of
// them are pending, a request that finds no idle connection waits for
// whichever comes first: a connection put back to the pool (handed to the
// oldest waiter directly, FIFO), or a fresh connection answered (its slot
// goes to the oldest waiter, which dials). Established connections keep
// serving the waiters while the new ones are being accepted, and the pool
// grows at the pace the server accepts.
//
// It is a pace, not a limit: a waiter dials anyway when the pool made no
// progress (nothing put back, nothing answered) during paceQuiet - a server
// whose connections are all held by slow or long-poll requests - or once
// it has waited paceMaxWait (or the backend's connect timeout, if
// shorter). No request is refused for it. Requests that find an idle
// connection never wait; HTTP/2 streams, backends without server
// keep-alive, servers sent a PROXY header (never pooled) and servers whose
// last answer closed the connection are not paced; mode tcp has no pool.
//
// freshMax is small on purpose: a server that accepts one connection per
// loop turn makes the k-th pending one wait k turns (measured with nginx
// under b5k's load: 64 pending per server left requests waiting 2.3 s in
// the accept queue; 8 or 16: none over 2 s).
const (
	freshMax    = 16
	paceQuiet   = 100 * time.Millisecond
	paceMaxWait = time.Second
)

// poolWaiter is a request waiting in connPool.waiters. The pool sends it
// an idle connection, or a zero idleConn meaning "dial: a fresh slot is
// yours" (the slot is already counted). Buffered: the pool sends under
// its lock without blocking.
type poolWaiter struct{ ch chan idleConn }

// reserve is called when the pool had no idle connection. dial: a fresh
// slot is counted for the caller, which dials now; else the caller waits
// on w (awaitPool). seen is the pool's progress count at this moment.
func (p *connPool) reserve() (w *poolWaiter, seen uint64, dial bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fresh < freshMax || p.closes {
		p.fresh++
		return nil, p.progress, true
	}
	w = &poolWaiter{ch: make(chan idleConn, 1)}
	p.waiters = append(p.waiters, w)
	return w, p.progress, false
}

// answered ends a fresh connection's pending state (first response head,
// or failure before it): its slot goes to the oldest waiter, which dials.
func (p *connPool) answered() {
	p.mu.Lock()
	p.fresh--
	p.progress++
	if len(p.waiters) > 0 && p.fresh < freshMax {
		p.fresh++
		p.popWaiter().ch <- idleConn{}
	}
	p.mu.Unlock()
}

// serverCloses notes that the server closed a connection after its
// answer (Connection: close, or a body delimited by the close): no
// connection will come back, so requests dial without waiting until one
// is put back again. The waiters queued meanwhile dial.
func (p *connPool) serverCloses() {
	p.mu.Lock()
	p.closes = true
	for len(p.waiters) > 0 {
		p.fresh++
		p.popWaiter().ch <- idleConn{}
	}
	p.mu.Unlock()
}

// popWaiter takes the oldest waiter out; under mu, waiters not empty.
func (p *connPool) popWaiter() *poolWaiter {
	w := p.waiters[0]
	copy(p.waiters, p.waiters[1:])
	p.waiters[len(p.waiters)-1] = nil
	p.waiters = p.waiters[:len(p.waiters)-1]
	return w
}

// progressCount reads the pool's progress count (puts and answers).
func (p *connPool) progressCount() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress
}

// giveUp takes w out of the queue to dial without a slot (a fresh one is
// counted for it). If the pool handed w something meanwhile, that is
// returned instead: a connection, or a slot (zero idleConn).
func (p *connPool) giveUp(w *poolWaiter) idleConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, o := range p.waiters {
		if o == w {
			copy(p.waiters[i:], p.waiters[i+1:])
			p.waiters[len(p.waiters)-1] = nil
			p.waiters = p.waiters[:len(p.waiters)-1]
			p.fresh++
			return idleConn{}
		}
	}
	return <-w.ch // sent under mu before w left the queue
}

// keepWaiting is the waiter's rule at each paceQuiet tick: wait on while
// the pool made progress since the last tick and the wait is under
// paceMaxWait and connect (the backend's connect timeout; 0: none).
func keepWaiting(progress, seen uint64, waited, connect time.Duration) bool {
	limit := paceMaxWait
	if connect > 0 && connect < limit {
		limit = connect
	}
	return progress != seen && waited < limit
}

// awaitPool waits on w for a connection or a slot, and gives up as
// keepWaiting says. It returns the connection handed over (c nil: the
// caller dials, its fresh slot counted).
func awaitPool(p *connPool, w *poolWaiter, seen uint64, limit time.Duration) idleConn {
	start := time.Now()
	t := time.NewTimer(paceQuiet)
	defer t.Stop()
	for {
		select {
		case ic := <-w.ch:
			return ic
		case <-t.C:
		}
		cur := p.progressCount()
		if !keepWaiting(cur, seen, time.Since(start), limit) {
			return p.giveUp(w)
		}
		seen = cur
		t.Reset(paceQuiet)
	}
}

// freshDone ends the pending state of the exchange's fresh connection, if
// it has one: once the response head is read, or the connection failed or
// was dropped before that. Idempotent.
func (x *exchange) freshDone() {
	if x.fresh != nil {
		x.fresh.answered()
		x.fresh = nil
	}
}
