package acme

import (
	"context"
	"fmt"
	"time"
)

// Lock takes the pair-wide lease name: it waits while the peer or another
// goroutine holds it. The peer is asked first; when it cannot be asked,
// the lease is taken only on the VRRP master. A held lease is refreshed
// every third of LockTTL until Unlock; a holder that dies loses it when it
// expires.
func (s *Store) Lock(ctx context.Context, name string) error {
	logged := false
	for {
		now := s.opts.Now()
		s.mu.Lock()
		l := s.leases[name]
		free := l == nil || (l.owner != s.opts.Node && !now.Before(l.expires))
		if !free {
			wait := time.Until(l.expires)
			if l.owner == s.opts.Node || wait > s.opts.LockTTL/4 || wait <= 0 {
				wait = s.opts.LockTTL / 20
			}
			holder := l.owner
			s.mu.Unlock()
			if !logged {
				s.log.Info("acme: waiting for a lock", "lock", name, "holder", holder)
				logged = true
			}
			if err := sleep(ctx, max(wait, 10*time.Millisecond)); err != nil {
				return fmt.Errorf("acme lock %s: %w", name, err)
			}
			continue
		}
		mine := &lease{owner: s.opts.Node, expires: now.Add(s.opts.LockTTL), pending: true}
		s.leases[name] = mine
		s.mu.Unlock()

		granted, holder, remaining, err := s.ask(ctx, name)
		s.mu.Lock()
		switch {
		case granted:
			mine.pending = false
			mine.stop = make(chan struct{})
			s.mu.Unlock()
			go s.keepalive(name, mine)
			return nil
		case err != nil && s.opts.IsMaster != nil && s.opts.IsMaster():
			mine.pending = false
			mine.stop = make(chan struct{})
			s.mu.Unlock()
			s.log.Warn("acme: the peer cannot be asked for a lock; taken as VRRP master", "lock", name, "error", err)
			go s.keepalive(name, mine)
			return nil
		}
		if s.leases[name] == mine {
			delete(s.leases, name)
			if holder != "" {
				s.leases[name] = &lease{owner: holder, expires: s.opts.Now().Add(remaining)}
			}
		}
		s.mu.Unlock()
		if err != nil && !logged {
			s.log.Warn("acme: the peer cannot be asked for a lock and this node is not VRRP master: waiting", "lock", name, "error", err)
			logged = true
		}
		if err := sleep(ctx, max(s.opts.LockTTL/20, 10*time.Millisecond)); err != nil {
			return fmt.Errorf("acme lock %s: %w", name, err)
		}
	}
}

// ask asks the peer for the lease; granted without a peer.
func (s *Store) ask(ctx context.Context, name string) (granted bool, holder string, remaining time.Duration, err error) {
	if s.opts.Peer == nil {
		return true, "", 0, nil
	}
	cctx, cancel := context.WithTimeout(ctx, max(s.opts.LockTTL/4, time.Second))
	defer cancel()
	ans, err := s.opts.Peer.Lease(cctx, LeaseRequest{Name: name, Owner: s.opts.Node, TTL: s.opts.LockTTL, Op: "acquire"})
	if err != nil {
		return false, "", 0, err
	}
	return ans.Granted, ans.Holder, ans.Remaining, nil
}

func (s *Store) keepalive(name string, l *lease) {
	t := time.NewTicker(max(s.opts.LockTTL/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		l.expires = s.opts.Now().Add(s.opts.LockTTL)
		s.mu.Unlock()
		if s.opts.Peer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), max(s.opts.LockTTL/4, time.Second))
			ans, err := s.opts.Peer.Lease(ctx, LeaseRequest{Name: name, Owner: s.opts.Node, TTL: s.opts.LockTTL, Op: "acquire"})
			cancel()
			if err == nil && !ans.Granted {
				s.log.Warn("acme: the peer gave a held lock to another node (its lease had expired there)", "lock", name, "holder", ans.Holder)
			}
		}
	}
}

// Unlock releases a lease this node holds, here and on the peer.
func (s *Store) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.leases[name]
	if l == nil || l.owner != s.opts.Node || l.pending {
		s.mu.Unlock()
		return fmt.Errorf("acme unlock %s: not held by this node", name)
	}
	delete(s.leases, name)
	if l.stop != nil {
		close(l.stop)
	}
	s.mu.Unlock()
	if s.opts.Peer != nil {
		cctx, cancel := context.WithTimeout(ctx, max(s.opts.LockTTL/4, time.Second))
		_, err := s.opts.Peer.Lease(cctx, LeaseRequest{Name: name, Owner: s.opts.Node, Op: "release"})
		cancel()
		if err != nil {
			s.log.Warn("acme: the peer did not hear a lock release; it expires there", "lock", name, "error", err)
		}
	}
	return nil
}

// ApplyLease answers the peer's lease request. The peer gets the lease
// when nobody holds it here, or it held it already, or both nodes are
// asking at once and the peer's name sorts first.
func (s *Store) ApplyLease(req LeaseRequest) LeaseAnswer {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.leases[req.Name]
	if req.Op == "release" {
		if l != nil && l.owner == req.Owner {
			delete(s.leases, req.Name)
		}
		return LeaseAnswer{Granted: true}
	}
	ttl := req.TTL
	if ttl <= 0 || ttl > time.Hour {
		ttl = s.opts.LockTTL
	}
	if req.Owner == s.opts.Node {
		return LeaseAnswer{Holder: s.opts.Node, Remaining: ttl} // a peer with this node's name: refuse
	}
	switch {
	case l == nil, l.owner == req.Owner, l.owner != s.opts.Node && !now.Before(l.expires),
		l.owner == s.opts.Node && l.pending && req.Owner < s.opts.Node:
		s.leases[req.Name] = &lease{owner: req.Owner, expires: now.Add(ttl)}
		return LeaseAnswer{Granted: true}
	}
	return LeaseAnswer{Holder: l.owner, Remaining: max(l.expires.Sub(now), 0)}
}

// Holder tells who holds a lease as this node knows it ("" when free).
func (s *Store) Holder(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.leases[name]; l != nil && (l.owner == s.opts.Node || s.opts.Now().Before(l.expires)) {
		return l.owner
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
