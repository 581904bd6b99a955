package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/vip"
)

var errClosed = errors.New("fake conn closed")

// hub is a fake LAN: what one fakeConn writes reaches every other attached
// conn (TTL 255) unless the writer is cut off.
type hub struct {
	mu    sync.Mutex
	conns []*fakeConn
}

type sent struct {
	at  time.Time
	dst netip.Addr
	p   Packet
}

type fakeConn struct {
	local  netip.Addr
	hub    *hub
	rx     chan received
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	out  []sent
	deaf bool // cut off: writes go nowhere (a crashed node)
}

func newFakeConn(h *hub, local string) *fakeConn {
	c := &fakeConn{local: netip.MustParseAddr(local), hub: h, rx: make(chan received, 256), closed: make(chan struct{})}
	if h != nil {
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
	}
	return c
}

func (c *fakeConn) ReadAdvert(b []byte) (int, RecvInfo, error) {
	select {
	case r := <-c.rx:
		return copy(b, r.b), r.info, nil
	case <-c.closed:
		return 0, RecvInfo{}, errClosed
	}
}

func (c *fakeConn) WriteAdvert(b []byte, dst netip.Addr) error {
	select {
	case <-c.closed:
		return errClosed
	default:
	}
	p, err := Parse(b, c.local, dst, ChecksumAny)
	if err != nil {
		return fmt.Errorf("fake conn: node wrote a bad advert: %w", err)
	}
	c.mu.Lock()
	c.out = append(c.out, sent{time.Now(), dst, p})
	deaf := c.deaf
	c.mu.Unlock()
	if c.hub == nil || deaf {
		return nil
	}
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	for _, o := range c.hub.conns {
		if o != c && (dst.IsMulticast() || dst == o.local) {
			select {
			case o.rx <- received{slices.Clone(b), RecvInfo{Src: c.local, Dst: dst, TTL: 255}}:
			default:
			}
		}
	}
	return nil
}

func (c *fakeConn) LocalAddr() netip.Addr { return c.local }

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) inject(b []byte, info RecvInfo) { c.rx <- received{b, info} }

func (c *fakeConn) sent() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.out)
}

func (c *fakeConn) cut() {
	c.mu.Lock()
	c.deaf = true
	c.mu.Unlock()
}

// fakeVIPs is a vip.Manager that keeps addresses in a set and logs ops.
type fakeVIPs struct {
	mu   sync.Mutex
	have map[string]bool
	ops  []string
}

func newFakeVIPs(present ...vip.Address) *fakeVIPs {
	f := &fakeVIPs{have: map[string]bool{}}
	for _, a := range present {
		f.have[a.String()] = true
	}
	return f
}

func (f *fakeVIPs) Add(_ context.Context, a vip.Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.have[a.String()] = true
	f.ops = append(f.ops, "add "+a.String())
	return nil
}

func (f *fakeVIPs) Remove(_ context.Context, a vip.Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.have[a.String()] {
		f.ops = append(f.ops, "del "+a.String())
	}
	delete(f.have, a.String())
	return nil
}

func (f *fakeVIPs) Has(_ context.Context, a vip.Address) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.have[a.String()], nil
}

func (f *fakeVIPs) held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.have)
}

func (f *fakeVIPs) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.ops, "; ")
}

// fakeAnnouncer records the time of every announcement.
type fakeAnnouncer struct {
	mu  sync.Mutex
	log []time.Time
}

func (f *fakeAnnouncer) Announce(_ context.Context, ifname string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, time.Now())
	return nil
}

func (f *fakeAnnouncer) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// notifyLog records notify commands.
type notifyLog struct {
	mu   sync.Mutex
	runs []string
}

func (l *notifyLog) run(cmd string, args ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, strings.Join(append([]string{cmd}, args...), " "))
	return nil
}

func (l *notifyLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.runs, " | ")
}

var (
	_ Conn          = (*fakeConn)(nil)
	_ vip.Manager   = (*fakeVIPs)(nil)
	_ vip.Announcer = (*fakeAnnouncer)(nil)
)
