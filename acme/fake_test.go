package acme

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// fakeLink replicates to another Store in the same process; down cuts it.
type fakeLink struct {
	peer atomic.Pointer[Store]
	down atomic.Bool
	puts atomic.Int64
}

var errDown = errors.New("fake link down")

func (f *fakeLink) Put(_ context.Context, key string, value []byte, mod time.Time, del bool) error {
	p := f.peer.Load()
	if f.down.Load() || p == nil {
		return errDown
	}
	f.puts.Add(1)
	return p.ApplyPut(key, value, mod, del)
}

func (f *fakeLink) Lease(_ context.Context, req LeaseRequest) (LeaseAnswer, error) {
	p := f.peer.Load()
	if f.down.Load() || p == nil {
		return LeaseAnswer{}, errDown
	}
	return p.ApplyLease(req), nil
}

func (f *fakeLink) Manifest(context.Context) (map[string]KeyState, error) {
	p := f.peer.Load()
	if f.down.Load() || p == nil {
		return nil, errDown
	}
	return p.Manifest()
}
