package vrrp

import (
	"context"
	"time"
)

// startGARP (re)starts the announcement schedule: a burst of GARP.Repeat
// rounds now, another after GARP.Delay, then one round every GARP.Refresh.
func (n *Node) startGARP(ctx context.Context) {
	n.stopGARP()
	if n.deps.Announcer == nil {
		return
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	n.mu.Lock()
	n.garpStop, n.garpDone = cancel, done
	n.mu.Unlock()
	go func() {
		defer close(done)
		n.runGARP(gctx)
	}()
}

// runGARP is the schedule; it returns when done or when ctx is cancelled.
func (n *Node) runGARP(ctx context.Context) {
	g := n.cfg.GARP
	round := func() bool {
		for _, v := range n.cfg.VIPs {
			if ctx.Err() != nil {
				return false
			}
			if err := n.deps.Announcer.Announce(ctx, v.Interface, v.Prefix.Addr()); err != nil && ctx.Err() == nil {
				n.log.Warn("vrrp announcing VIP", "vip", v.String(), "err", err)
			}
		}
		return ctx.Err() == nil
	}
	burst := func() bool {
		for range g.Repeat {
			if !round() {
				return false
			}
		}
		return true
	}
	wait := func(d time.Duration) bool {
		c, stop := n.clock.NewTimer(d)
		defer stop()
		select {
		case <-c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !burst() {
		return
	}
	if g.Delay > 0 && (!wait(g.Delay) || !burst()) {
		return
	}
	for g.Refresh > 0 && wait(g.Refresh) && round() {
	}
}

// stopGARP cancels the schedule and waits for it.
func (n *Node) stopGARP() {
	n.mu.Lock()
	stop, done := n.garpStop, n.garpDone
	n.garpStop, n.garpDone = nil, nil
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
