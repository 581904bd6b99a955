package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
)

// Fake is a Speaker that records calls. Fail makes the next calls fail.
type Fake struct {
	mu      sync.Mutex
	Started bool
	Stopped bool
	// Calls: "announce 10.0.0.1/32", "withdraw 10.0.0.1/32".
	Calls []string
	// Announced is the set offered now.
	Announced map[netip.Prefix]bool
	Fail      error
	Peers     []NeighborStatus
}

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{Announced: map[netip.Prefix]bool{}} }

// Start implements Speaker.
func (f *Fake) Start(ctx context.Context, o Options) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Started = true
	return nil
}

// Announce implements Speaker.
func (f *Fake) Announce(ctx context.Context, ps []netip.Prefix) error {
	return f.set(ps, true)
}

// Withdraw implements Speaker.
func (f *Fake) Withdraw(ctx context.Context, ps []netip.Prefix) error {
	return f.set(ps, false)
}

func (f *Fake) set(ps []netip.Prefix, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return f.Fail
	}
	verb := "withdraw"
	if on {
		verb = "announce"
	}
	for _, p := range ps {
		f.Calls = append(f.Calls, fmt.Sprintf("%s %s", verb, p))
		if on {
			f.Announced[p] = true
		} else {
			delete(f.Announced, p)
		}
	}
	return nil
}

// Neighbors implements Speaker.
func (f *Fake) Neighbors(ctx context.Context) []NeighborStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]NeighborStatus(nil), f.Peers...)
}

// Stop implements Speaker.
func (f *Fake) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Stopped = true
}

// Detach implements Speaker.
func (f *Fake) Detach() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Stopped = true
	f.Calls = append(f.Calls, "detach")
}

// SetFail sets or clears the error returned by Announce and Withdraw.
func (f *Fake) SetFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Fail = err
}

// Snapshot returns the calls so far and whether p is announced now.
func (f *Fake) Snapshot(p netip.Prefix) ([]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Calls...), f.Announced[p]
}
