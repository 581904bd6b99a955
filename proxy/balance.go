package proxy

import (
	"crypto/tls"
	"errors"
	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/checks"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ServerState is a server's health (Up, set by the health checker) and
// admin state (set by the operator; checks.Admin is the one admin type).
type ServerState struct {
	Up    bool
	Admin checks.Admin
}

// counters are the statistics a frontend, backend or server keeps.
type counters struct {
	cur, max   atomic.Int64
	total      atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	errConn    atomic.Uint64
	errResp    atomic.Uint64
	errReq     atomic.Uint64
	denied     atomic.Uint64
	ppErr      atomic.Uint64 // connections refused for their PROXY header
	deniedConn atomic.Uint64 // connections refused by tcp-request rules
	retries    atomic.Uint64
	redispatch atomic.Uint64
	requests   atomic.Uint64
	resp       [6]atomic.Uint64 // 1xx..5xx, other
	queueCur   atomic.Int64
	queueMax   atomic.Int64
	tlsOK      atomic.Uint64                // frontends: completed TLS handshakes
	tlsFail    [numTLSReasons]atomic.Uint64 // frontends: failed ones, by certs.Reasons index
	// HTTP/2 (frontends): streams opened, open now, refused (over the
	// concurrency limit), reset by the client, connections ended with
	// ENHANCE_YOUR_CALM (floods).
	h2Streams, h2Refused, h2Resets, h2Calm atomic.Uint64
	h2Cur                                  atomic.Int64
	// Servers with TLS: handshakes completed, and failed by
	// certs.ServerReasons index (server_tls.go).
	tlsSrvOK      atomic.Uint64
	tlsSrvFail    [numSrvTLSReasons]atomic.Uint64
	lastReqCount  uint64 // for rate computation, under Engine.statMu
	lastReqSample time.Time
}

// tlsFailMap returns the handshake failures by reason.
func (c *counters) tlsFailMap() map[string]uint64 {
	m := make(map[string]uint64, len(certs.Reasons))
	for i, r := range certs.Reasons {
		m[string(r)] = c.tlsFail[i].Load()
	}
	return m
}

func (c *counters) inc() int64 {
	n := c.cur.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			return n
		}
	}
}

func (c *counters) status(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.resp[i].Add(1)
}

func (c *counters) respMap() map[string]uint64 {
	return map[string]uint64{
		"1xx": c.resp[0].Load(), "2xx": c.resp[1].Load(), "3xx": c.resp[2].Load(),
		"4xx": c.resp[3].Load(), "5xx": c.resp[4].Load(), "other": c.resp[5].Load(),
	}
}

func setMax(a *atomic.Int64, n int64) {
	for {
		m := a.Load()
		if n <= m || a.CompareAndSwap(m, n) {
			return
		}
	}
}

// serverShared is the part of a server that survives reloads: health and
// admin state, runtime weight, counters and the idle connection pool.
type serverShared struct {
	up        atomic.Bool
	admin     atomic.Int32
	weight    atomic.Int32
	cfgWeight int
	addr      string
	pool      *connPool
	st        counters
	// tlsOpts are the TLS settings the pool's connections were made with
	// (nil: plain); sess resumes sessions on new connections.
	tlsOpts *ServerTLS
	sess    tls.ClientSessionCache
}

// server is one server line of one config generation.
type server struct {
	name     string
	addr     string
	da       dialAddr // addr pre-resolved for dialServer
	cookie   string
	backup   bool
	maxconn  int64
	maxqueue int
	// sendProxy: PROXY protocol version sent on new connections; 0: none.
	sendProxy int
	// tls: speak TLS to the server (server_tls.go); nil: plain.
	tls *serverTLS
	sh  *serverShared
	be  *backend
	// balancer state, guarded by be.mu
	cw    int
	queue []*waiter
}

func (s *server) weight() int { return int(s.sh.weight.Load()) }

// usableLB: may receive load-balanced traffic.
func (s *server) usableLB() bool {
	return s.sh.up.Load() && checks.Admin(s.sh.admin.Load()) == checks.Ready && s.weight() > 0
}

// usablePersist: may receive traffic from a client holding its cookie.
func (s *server) usablePersist() bool {
	return s.sh.up.Load() && checks.Admin(s.sh.admin.Load()) != checks.Maint
}

func (s *server) hasRoom() bool { return s.maxconn <= 0 || s.sh.st.cur.Load() < s.maxconn }

// waiter is a request parked in a server or backend queue.
type waiter struct {
	ch  chan *server
	srv *server // server queue it sits in, nil for the backend queue
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan *server, 1)} }}

var (
	errNoServer  = errors.New("no server available")
	errQueueTime = errors.New("queue timeout")
)

// pickResult describes how a server was obtained.
type pickResult struct {
	srv        *server
	queued     bool
	srvQueue   int64 // queue position when queued
	beQueue    int64
	redispatch bool // persistence broken because the cookie server was unusable/full
}

// acquire takes a slot on a server: the persistent one when usable, else one
// chosen by the balancing algorithm, else waits in a queue up to timeout.
// exclude is skipped when another server is usable (redispatch on retry).
func (b *backend) acquire(persist *server, src netip.Addr, exclude *server, timeout time.Duration) (pickResult, error) {
	var res pickResult
	b.mu.Lock()
	var w *waiter
	if persist != nil {
		if persist.usablePersist() {
			if persist.hasRoom() && len(persist.queue) == 0 {
				b.take(persist)
				b.mu.Unlock()
				res.srv = persist
				return res, nil
			}
			if persist.maxqueue <= 0 || len(persist.queue) < persist.maxqueue {
				w = waiterPool.Get().(*waiter)
				w.srv = persist
				persist.queue = append(persist.queue, w)
				res.srvQueue = int64(len(persist.queue))
				setMax(&persist.sh.st.queueMax, res.srvQueue)
				persist.sh.st.queueCur.Add(1)
			} else {
				res.redispatch = true
			}
		} else {
			res.redispatch = true
		}
	}
	if w == nil {
		s, anyUsable := b.pick(src, exclude)
		if s != nil {
			b.take(s)
			b.mu.Unlock()
			res.srv = s
			return res, nil
		}
		if !anyUsable {
			b.mu.Unlock()
			return res, errNoServer
		}
		w = waiterPool.Get().(*waiter)
		w.srv = nil
		b.queue = append(b.queue, w)
		res.beQueue = int64(len(b.queue))
		setMax(&b.st.queueMax, res.beQueue)
		b.st.queueCur.Add(1)
	}
	b.mu.Unlock()
	res.queued = true
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case s := <-w.ch:
		waiterPool.Put(w)
		res.srv = s
		return res, nil
	case <-tc:
	}
	b.mu.Lock()
	removed := b.unqueue(w)
	b.mu.Unlock()
	if !removed {
		// Handed a server just as the timer fired: use it.
		s := <-w.ch
		waiterPool.Put(w)
		res.srv = s
		return res, nil
	}
	waiterPool.Put(w)
	return res, errQueueTime
}

func (b *backend) unqueue(w *waiter) bool {
	q := &b.queue
	if w.srv != nil {
		q = &w.srv.queue
	}
	for i, x := range *q {
		if x == w {
			*q = append((*q)[:i], (*q)[i+1:]...)
			if w.srv != nil {
				w.srv.sh.st.queueCur.Add(-1)
			} else {
				b.st.queueCur.Add(-1)
			}
			return true
		}
	}
	return false
}

// take accounts a new request on s; b.mu held.
func (b *backend) take(s *server) {
	s.sh.st.inc()
	s.sh.st.total.Add(1)
}

// release frees s's slot and hands it to the next queued request; a server
// queue has priority over the backend queue.
func (b *backend) release(s *server) {
	b.mu.Lock()
	s.sh.st.cur.Add(-1)
	for s.hasRoom() {
		var w *waiter
		if len(s.queue) > 0 && s.usablePersist() {
			w = s.queue[0]
			s.queue = s.queue[1:]
			s.sh.st.queueCur.Add(-1)
		} else if len(b.queue) > 0 && s.usableLB() {
			w = b.queue[0]
			b.queue = b.queue[1:]
			b.st.queueCur.Add(-1)
		} else {
			break
		}
		b.take(s)
		w.ch <- s
	}
	b.mu.Unlock()
}

// wake lets queued requests use servers that became usable or got more
// room (state or weight changes).
func (b *backend) wake() {
	b.mu.Lock()
	for len(b.queue) > 0 {
		s, _ := b.pick(netip.Addr{}, nil)
		if s == nil {
			break
		}
		w := b.queue[0]
		b.queue = b.queue[1:]
		b.st.queueCur.Add(-1)
		b.take(s)
		w.ch <- s
	}
	b.mu.Unlock()
}

// pick chooses a server with room by the balancing algorithm; anyUsable
// reports whether some server could take traffic once it has room. b.mu held.
func (b *backend) pick(src netip.Addr, exclude *server) (s *server, anyUsable bool) {
	set := b.active
	if !anyLB(set) {
		set = b.backups
		if !anyLB(set) {
			return nil, false
		}
		if !b.allBackups {
			// HAProxy uses only the first usable backup server.
			for _, x := range set {
				if x.usableLB() {
					if x.hasRoom() {
						return x, true
					}
					return nil, true
				}
			}
		}
	}
	if exclude != nil {
		n := 0
		for _, x := range set {
			if x != exclude && x.usableLB() {
				n++
			}
		}
		if n == 0 {
			exclude = nil
		}
	}
	switch b.algo {
	case BalanceLeastConn:
		s = pickLeastConn(set, exclude, &b.rrStart)
	case BalanceSource:
		s = pickSource(set, exclude, src)
	case BalanceFirst:
		for _, x := range set {
			if x != exclude && x.usableLB() && x.hasRoom() {
				s = x
				break
			}
		}
	default:
		s = pickSmoothRR(set, exclude)
	}
	return s, true
}

func anyLB(set []*server) bool {
	for _, s := range set {
		if s.usableLB() {
			return true
		}
	}
	return false
}

// pickSmoothRR is the smooth weighted round-robin: each pick adds every
// eligible server's weight to its current weight, takes the highest and
// subtracts the total from it.
func pickSmoothRR(set []*server, exclude *server) *server {
	var best *server
	total := 0
	for _, s := range set {
		if s == exclude || !s.usableLB() || !s.hasRoom() {
			continue
		}
		w := s.weight()
		s.cw += w
		total += w
		if best == nil || s.cw > best.cw {
			best = s
		}
	}
	if best != nil {
		best.cw -= total
	}
	return best
}

// pickLeastConn takes the server with the fewest connections relative to
// its weight; ties rotate.
func pickLeastConn(set []*server, exclude *server, start *int) *server {
	var best *server
	var bc, bw int64
	n := len(set)
	*start++
	for i := 0; i < n; i++ {
		s := set[(*start+i)%n]
		if s == exclude || !s.usableLB() || !s.hasRoom() {
			continue
		}
		c, w := s.sh.st.cur.Load(), int64(s.weight())
		// c/w < bc/bw  <=>  c*bw < bc*w
		if best == nil || c*bw < bc*w {
			best, bc, bw = s, c, w
		}
	}
	return best
}

// pickSource maps a hash of the client address onto the weighted list of
// usable servers, so a client keeps its server while the set is stable.
func pickSource(set []*server, exclude *server, src netip.Addr) *server {
	total := 0
	for _, s := range set {
		if s != exclude && s.usableLB() {
			total += s.weight()
		}
	}
	if total == 0 {
		return nil
	}
	h := hashAddr(src) % uint32(total)
	for _, s := range set {
		if s == exclude || !s.usableLB() {
			continue
		}
		w := uint32(s.weight())
		if h < w {
			if !s.hasRoom() {
				return nil
			}
			return s
		}
		h -= w
	}
	return nil
}

func hashAddr(a netip.Addr) uint32 {
	a = a.Unmap()
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	// final avalanche
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	return h
}
