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
}

// named returns the pool of the connections made for SNI name, nil when
// maxSNIPools names already have one (such connections are not pooled).
func (p *connPool) named(name []byte) *connPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if np, ok := p.byName[string(name)]; ok {
		return np
	}
	if len(p.byName) >= maxSNIPools {
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
	if len(p.idle) >= poolMaxIdle {
		p.mu.Unlock()
		ic.c.Close()
		return
	}
	p.idle = append(p.idle, ic)
	p.mu.Unlock()
}

// reap closes connections idle longer than poolIdleTimeout.
func (p *connPool) reap(now time.Time) {
	p.mu.Lock()
	keep := p.idle[:0]
	for _, ic := range p.idle {
		if now.Sub(ic.since) < poolIdleTimeout {
			keep = append(keep, ic)
		} else {
			ic.c.Close()
		}
	}
	for i := len(keep); i < len(p.idle); i++ {
		p.idle[i] = idleConn{}
	}
	p.idle = keep
	// Named pools stay (an exchange may hold one to put its connection
	// back): their number is bounded by maxSNIPools.
	for _, np := range p.byName {
		np.reap(now)
	}
	p.mu.Unlock()
}

func (p *connPool) closeAll() {
	p.mu.Lock()
	for _, ic := range p.idle {
		ic.c.Close()
	}
	p.idle = nil
	for _, np := range p.byName {
		np.closeAll()
	}
	p.mu.Unlock()
}
