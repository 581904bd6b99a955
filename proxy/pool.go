package proxy

import (
	"sync"
	"syscall"
	"time"
)

// bufSize matches HAProxy's tune.bufsize.
const bufSize = 16384

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

type idleConn struct {
	c        conn
	since    time.Time
	rdl, wdl time.Time // deadlines set on c when it was parked
	rc       syscall.RawConn
	awaitOK  bool
}

// connPool keeps idle keep-alive connections to one server address, most
// recently used first out.
type connPool struct {
	mu   sync.Mutex
	idle []idleConn
	// byName holds the pools of a server whose SNI is chosen per request,
	// one per name (server_tls.go); nil otherwise.
	byName map[string]*connPool
	// retired: the pool's server left the configuration (reload) or the
	// engine stopped; nothing reaps it any more, so it keeps nothing.
	retired bool
	// Dial pacing (dialpace.go): fresh connections dialed and not yet
	// answered, the requests waiting for a connection or a fresh slot
	// (oldest first), and a count of puts and answers.
	fresh    int
	waiters  []*poolWaiter
	progress uint64
	// closes: the server's last answer closed its connection (no
	// keep-alive): nothing comes back to wait for; a put clears it.
	closes bool
}

// named returns the pool of the connections made for SNI name, nil when
// maxSNIPools names already have one (such connections are not pooled).
func (p *connPool) named(name []byte) *connPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if np, ok := p.byName[string(name)]; ok {
		return np
	}
	if len(p.byName) >= maxSNIPools || p.retired {
		return nil
	}
	if p.byName == nil {
		p.byName = map[string]*connPool{}
	}
	np := newConnPool()
	p.byName[string(name)] = np
	return np
}

func newConnPool() *connPool { return &connPool{} }

func (p *connPool) get(now time.Time) (idleConn, bool) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		ic := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = idleConn{}
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(ic.since) < poolIdleTimeout {
			p.mu.Unlock()
			return ic, true
		}
		ic.c.Close()
	}
	p.mu.Unlock()
	return idleConn{}, false
}

func (p *connPool) put(ic idleConn) {
	p.mu.Lock()
	if len(p.waiters) > 0 && !p.retired {
		// A request waits for a connection (dialpace.go): hand it over.
		p.progress++
		p.closes = false
		p.popWaiter().ch <- ic
		p.mu.Unlock()
		return
	}
	if len(p.idle) >= poolMaxIdle || p.retired {
		p.mu.Unlock()
		ic.c.Close()
		return
	}
	p.progress++
	p.closes = false
	p.idle = append(p.idle, ic)
	p.mu.Unlock()
}

// reap closes connections idle longer than poolIdleTimeout.
func (p *connPool) reap(now time.Time) {
	for _, c := range p.expire(now, nil) {
		c.Close()
	}
}

// expire takes the connections idle longer than poolIdleTimeout out of
// the pool and appends them to dead, for the caller to close outside the
// locks: after a burst there may be thousands (poolMaxIdle), and a
// server's requests must not wait on the pool's lock while they close.
// The slice shrinks when a burst's connections are gone.
func (p *connPool) expire(now time.Time, dead []conn) []conn {
	p.mu.Lock()
	keep := p.idle[:0]
	for _, ic := range p.idle {
		if now.Sub(ic.since) < poolIdleTimeout {
			keep = append(keep, ic)
		} else {
			dead = append(dead, ic.c)
		}
	}
	for i := len(keep); i < len(p.idle); i++ {
		p.idle[i] = idleConn{}
	}
	if c := cap(keep); c > 1024 && len(keep) < c/4 {
		keep = append(make([]idleConn, 0, 2*len(keep)), keep...)
	}
	p.idle = keep
	// Named pools stay (an exchange may hold one to put its connection
	// back): their number is bounded by maxSNIPools.
	for _, np := range p.byName {
		dead = np.expire(now, dead)
	}
	p.mu.Unlock()
	return dead
}

// closeAll closes the idle connections (the server went down); the pool
// keeps later ones.
func (p *connPool) closeAll() {
	for _, c := range p.drain(nil, false) {
		c.Close()
	}
}

// retire closes the idle connections of a pool nothing will reap any more
// (its server left the configuration, or the engine stopped) and closes
// those put back later by exchanges still in flight.
func (p *connPool) retire() {
	for _, c := range p.drain(nil, true) {
		c.Close()
	}
}

// drain empties the pool and its named pools into dead; retire marks them
// retired.
func (p *connPool) drain(dead []conn, retire bool) []conn {
	p.mu.Lock()
	for _, ic := range p.idle {
		dead = append(dead, ic.c)
	}
	p.idle = nil
	if retire {
		p.retired = true
	}
	for _, np := range p.byName {
		dead = np.drain(dead, retire)
	}
	p.mu.Unlock()
	return dead
}
