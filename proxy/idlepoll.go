package proxy

import (
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Idle poller: where an idle keep-alive connection waits without a
// goroutine.
//
// A keep-alive connection idle past idleParkAfter is parked (conn_h1.go,
// conn_tls.go): the goroutine that served it registers its descriptor with
// the engine's idle poller and exits, so that an idle connection holds its
// clientConn and Go's descriptor state, and no goroutine stack (2-8 KB). The
// poller has its own epoll instance, in which each parked descriptor is
// registered level-triggered and one-shot (EPOLLIN|EPOLLRDHUP|EPOLLONESHOT):
// bytes that arrived before the registration are reported at once, and a
// reported descriptor stays disabled until it parks again. The epoll
// descriptor is itself watched by Go's network poller (it is readable when
// events are pending), so the poller is one goroutine waiting like any
// connection, with no thread blocked in epoll_wait. For each ready
// descriptor it starts a goroutine that continues the connection's request
// loop exactly where the park left it (the request, a peer's close or an
// error is then read as on any connection).
//
// The keep-alive expiry of parked connections is a min-heap on their expiry
// and one read deadline on the epoll descriptor for the earliest: no timer
// per connection. An expired connection is closed by the poller (silently,
// as the request loop does at the keep-alive expiry). A hard stop
// (Shutdown's context) closes a parked connection through forceClose, which
// takes it out of the poller first and lets a goroutine end it.
//
// Parking falls back to the previous way (a fresh goroutine waiting on the
// descriptor) when the poller cannot be set up or has stopped.

// idlePoller is the engine's idle poller; its zero value is ready (set up
// at the first park).
type idlePoller struct {
	mu      sync.Mutex
	started bool
	stopped bool
	epfd    int
	f       *os.File // epfd, watched by Go's network poller
	rc      syscall.RawConn
	base    time.Time // expiries are durations since base (monotonic)
	next    int64     // the deadline set on f, 0 if none
	heap    []parked  // by expiry; clientConn.pidx-1 is its index
	byFD    []*clientConn
	evs     []unix.EpollEvent
	// the poller goroutine's own
	ready   []*clientConn
	expired []*clientConn
	pollFn  func(fd uintptr) bool
}

// clientConn.pidx, the connection's place in the idle poller: > 0 parked
// (heap index + 1); 0 never registered; pidxOut not parked, its
// descriptor maybe still registered (disabled since its one-shot event);
// pidxClosed closed by forceClose, never to park.
const (
	pidxOut    = -1
	pidxClosed = -2
)

// parked is a parked connection with its expiry and descriptor.
type parked struct {
	exp int64
	cc  *clientConn
	fd  int32
}

// setup makes the epoll instance and starts the poller goroutine; under mu.
func (p *idlePoller) setup() bool {
	if p.started {
		return p.f != nil
	}
	p.started = true
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return false
	}
	f := os.NewFile(uintptr(fd), "idle-poller")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return false
	}
	p.epfd, p.f, p.rc = fd, f, rc
	p.base = time.Now()
	p.evs = make([]unix.EpollEvent, 256)
	p.pollFn = p.poll
	go p.run()
	return true
}

// park hands cc, idle and waiting for its next request until the deadline
// in cc.in.dl, to the poller. False: the poller is not available, the
// caller waits on a goroutine as before.
func (cc *clientConn) park() bool {
	p := &cc.e.idle
	exp := cc.in.dl
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || exp.IsZero() || cc.pidx == pidxClosed || !p.setup() {
		return false
	}
	rc := cc.rc
	if rc == nil { // TLS
		var err error
		if rc, err = cc.c.SyscallConn(); err != nil {
			return false
		}
	}
	ok := false
	var fd int
	err := rc.Control(func(sfd uintptr) {
		// Inside Control the descriptor cannot be closed under us.
		fd = int(sfd)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
		var err error
		if cc.pidx == pidxOut {
			// Still registered since its last park (one-shot, disabled).
			if err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err == unix.ENOENT {
				err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
			}
		} else if err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err == unix.EEXIST {
			err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
		}
		ok = err == nil
	})
	if err != nil || !ok {
		return false
	}
	if fd >= len(p.byFD) {
		t := make([]*clientConn, 2*fd+64)
		copy(t, p.byFD)
		p.byFD = t
	}
	p.byFD[fd] = cc
	x := int64(exp.Sub(p.base))
	p.push(parked{exp: x, cc: cc, fd: int32(fd)})
	if p.next == 0 || x < p.next {
		p.setNext(x)
	}
	return true
}

// forceClose closes the connection (a hard stop). A parked connection is
// taken out of the poller first (so that its descriptor is never closed
// while registered there) and ended on a goroutine of its own, as its
// request loop would have ended it.
func (cc *clientConn) forceClose() {
	p := &cc.e.idle
	p.mu.Lock()
	was := cc.pidx > 0
	if was {
		p.remove(cc)
	}
	cc.pidx = pidxClosed // a park now would register a closed descriptor
	p.mu.Unlock()
	cc.c.Close()
	if was {
		go cc.resume()
	}
}

// resume continues a parked connection's request loop.
func (cc *clientConn) resume() {
	if cc.tls != nil {
		cc.runTLS()
		return
	}
	cc.serve()
}

// stop ends the poller; nothing is parked any more (Shutdown calls it once
// every connection has ended). Later parks wait on goroutines.
func (p *idlePoller) stop() {
	p.mu.Lock()
	p.stopped = true
	f := p.f
	p.mu.Unlock()
	if f != nil {
		// Outside mu: Close waits for the poller's Read to return.
		f.Close()
	}
}

// parkedConns reports how many connections are parked in the poller.
func (p *idlePoller) parkedConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heap)
}

// setNext sets the poller's wake-up for the expiry x; under mu.
func (p *idlePoller) setNext(x int64) {
	p.next = x
	p.f.SetReadDeadline(p.base.Add(time.Duration(x)))
}

// run is the poller goroutine: it waits for the epoll descriptor to become
// readable (events pending) or for the earliest expiry.
func (p *idlePoller) run() {
	for {
		err := p.rc.Read(p.pollFn)
		if err != nil && !isTimeout(err) {
			return // closed by stop
		}
		p.dispatch()
	}
}

// poll runs inside RawConn.Read: it collects the ready connections and
// starts them; false waits for more events or the deadline.
func (p *idlePoller) poll(uintptr) bool {
	p.dispatch()
	return false
}

// dispatch takes the ready and the expired connections out of the poller,
// resumes the ready ones on goroutines of their own and ends the expired
// ones.
func (p *idlePoller) dispatch() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	for {
		n, err := unix.EpollWait(p.epfd, p.evs, 0)
		if err == unix.EINTR {
			continue
		}
		for _, ev := range p.evs[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd < len(p.byFD) {
				if cc := p.byFD[fd]; cc != nil && cc.pidx > 0 {
					p.remove(cc) // still registered, disabled
					p.ready = append(p.ready, cc)
				}
			}
		}
		if n < len(p.evs) {
			break
		}
	}
	now := int64(time.Since(p.base))
	for len(p.heap) > 0 && p.heap[0].exp <= now {
		cc := p.heap[0].cc
		p.remove(cc)
		p.expired = append(p.expired, cc)
	}
	switch {
	case len(p.heap) > 0 && p.heap[0].exp != p.next:
		p.setNext(p.heap[0].exp)
	case len(p.heap) == 0 && p.next != 0:
		p.next = 0
		p.f.SetReadDeadline(time.Time{})
	}
	p.mu.Unlock()
	for i, cc := range p.ready {
		go cc.resume()
		p.ready[i] = nil
	}
	p.ready = p.ready[:0]
	for i, cc := range p.expired {
		// The keep-alive expiry: closed silently, as the request loop
		// closes an idle connection whose wait ended.
		cc.end()
		p.expired[i] = nil
	}
	p.expired = p.expired[:0]
}

// push adds x to the heap; under mu.
func (p *idlePoller) push(x parked) {
	p.heap = append(p.heap, x)
	p.up(len(p.heap) - 1)
}

// remove takes cc (parked) out of the heap and the descriptor table; under
// mu. Its descriptor stays registered (disabled if it was reported, else
// until it is closed or parks again).
func (p *idlePoller) remove(cc *clientConn) {
	i := int(cc.pidx - 1)
	if x := p.heap[i]; p.byFD[x.fd] == cc {
		p.byFD[x.fd] = nil
	}
	last := len(p.heap) - 1
	if i != last {
		p.heap[i] = p.heap[last]
		p.heap[i].cc.pidx = int32(i + 1)
	}
	p.heap[last] = parked{}
	p.heap = p.heap[:last]
	if i != last {
		p.down(i)
		p.up(i)
	}
	cc.pidx = pidxOut
}

func (p *idlePoller) up(i int) {
	h := p.heap
	for i > 0 {
		j := (i - 1) / 2
		if h[j].exp <= h[i].exp {
			break
		}
		h[i], h[j] = h[j], h[i]
		h[i].cc.pidx = int32(i + 1)
		i = j
	}
	h[i].cc.pidx = int32(i + 1)
}

func (p *idlePoller) down(i int) {
	h := p.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].exp < h[l].exp {
			j = r
		}
		if h[i].exp <= h[j].exp {
			break
		}
		h[i], h[j] = h[j], h[i]
		h[i].cc.pidx = int32(i + 1)
		i = j
	}
	h[i].cc.pidx = int32(i + 1)
}
