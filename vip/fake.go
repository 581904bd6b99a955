package vip

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
)

// Fake is an in-memory Manager for tests. If links were given to NewFake,
// other interfaces are ErrLinkNotFound; otherwise every name exists.
type Fake struct {
	mu      sync.Mutex
	links   map[string]bool
	addrs   map[string]Address // key: prefix + " dev " + interface
	failNxt error
	ops     []string
}

var _ Manager = (*Fake)(nil)

// NewFake returns an empty Fake that knows the given interfaces (none: all).
func NewFake(links ...string) *Fake {
	f := &Fake{addrs: map[string]Address{}}
	if len(links) > 0 {
		f.links = map[string]bool{}
		for _, l := range links {
			f.links[l] = true
		}
	}
	return f
}

// FailNext makes the next Add, Remove or Has return err.
func (f *Fake) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNxt = err
}

func key(a Address) string { return a.Prefix.String() + " dev " + a.Interface }

func (f *Fake) check(op string, a Address) error {
	if err := Validate(a); err != nil {
		return fmt.Errorf("%s VIP: %w", op, err)
	}
	if err := f.failNxt; err != nil {
		f.failNxt = nil
		return fmt.Errorf("%s VIP %s on %s: %w", op, a.Prefix, a.Interface, err)
	}
	if f.links != nil && !f.links[a.Interface] {
		return fmt.Errorf("%s VIP %s on %s: %w", op, a.Prefix, a.Interface, ErrLinkNotFound)
	}
	return nil
}

// Add implements Manager.
func (f *Fake) Add(_ context.Context, a Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("adding", a); err != nil {
		return err
	}
	if _, ok := f.addrs[key(a)]; !ok {
		f.addrs[key(a)] = a
		f.ops = append(f.ops, "add "+a.String())
	}
	return nil
}

// Remove implements Manager.
func (f *Fake) Remove(_ context.Context, a Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("removing", a); err != nil {
		return err
	}
	if _, ok := f.addrs[key(a)]; ok {
		delete(f.addrs, key(a))
		f.ops = append(f.ops, "del "+a.String())
	}
	return nil
}

// Has implements Manager.
func (f *Fake) Has(_ context.Context, a Address) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("checking", a); err != nil {
		return false, err
	}
	_, ok := f.addrs[key(a)]
	return ok, nil
}

// Ops returns the state changes in order ("add 10.0.0.1/32 dev eth0",
// "del ..."); idempotent no-ops are not recorded.
func (f *Fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

// Addresses returns the held addresses sorted as String sorts them.
func (f *Fake) Addresses() []Address {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Address, 0, len(f.addrs))
	for _, a := range f.addrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Interface != out[j].Interface {
			return out[i].Interface < out[j].Interface
		}
		return out[i].Prefix.Addr().Less(out[j].Prefix.Addr()) ||
			(out[i].Prefix.Addr() == out[j].Prefix.Addr() && out[i].Prefix.Bits() < out[j].Prefix.Bits())
	})
	return out
}

// String renders the state as sorted `ip addr add PREFIX dev IF [label L]`
// lines (by interface, then address).
func (f *Fake) String() string {
	var b strings.Builder
	for _, a := range f.Addresses() {
		b.WriteString("ip addr add " + a.String() + "\n")
	}
	return b.String()
}

// Announcement is one recorded FakeAnnouncer call.
type Announcement struct {
	Interface string
	Addr      netip.Addr
}

// FakeAnnouncer records Announce calls; Err, if set, is returned by every call
// (the call is still recorded).
type FakeAnnouncer struct {
	mu    sync.Mutex
	calls []Announcement
	Err   error
}

var _ Announcer = (*FakeAnnouncer)(nil)

// Announce implements Announcer.
func (f *FakeAnnouncer) Announce(ctx context.Context, ifname string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	f.calls = append(f.calls, Announcement{Interface: ifname, Addr: addr})
	return f.Err
}

// Calls returns the recorded calls in order.
func (f *FakeAnnouncer) Calls() []Announcement {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Announcement(nil), f.calls...)
}

// String renders the calls as "announce ADDR dev IF" lines in call order.
func (f *FakeAnnouncer) String() string {
	var b strings.Builder
	for _, c := range f.Calls() {
		fmt.Fprintf(&b, "announce %s dev %s\n", c.Addr, c.Interface)
	}
	return b.String()
}
