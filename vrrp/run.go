package vrrp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

const (
	vipOpTimeout    = 5 * time.Second
	readBufferSize  = 2048
	readRetry       = 100 * time.Millisecond
	maxReadFailures = 600 // one minute of consecutive read errors
)

type received struct {
	b    []byte
	info RecvInfo
}

// Run runs the instance until ctx is cancelled, then stops gracefully: a
// master sends a priority-0 advert and removes its VIPs, and the stop
// notify runs. At start it removes configured VIPs left on the interfaces
// (by a crash) before joining as backup. Run closes the Conn when it returns
// and may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("vrrp: node already ran")
	}
	n.running = true
	n.mu.Unlock()

	opCtx := context.WithoutCancel(ctx)
	n.notifyWG.Add(1)
	go n.notifyWorker()
	defer n.drainNotify()

	n.mu.Lock()
	resume := n.resume
	n.mu.Unlock()
	if resume != Master {
		if err := n.removeStale(opCtx); err != nil {
			n.deps.Conn.Close()
			return err
		}
	}

	rx := make(chan received)
	rxErr := make(chan error, 1)
	done := make(chan struct{})
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		n.read(rx, rxErr, done)
	}()
	stopAll := func() {
		close(done)
		n.deps.Conn.Close()
		readerWG.Wait()
	}

	n.reconcile(opCtx)
	n.exec(opCtx, n.m.Handle(n.clock.Now(), Startup{Resume: resume}))
	var runErr error
loop:
	for {
		var timerC <-chan time.Time
		stopTimer := func() bool { return false }
		if d := n.m.Deadline(); !d.IsZero() {
			timerC, stopTimer = n.clock.NewTimer(max(d.Sub(n.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			stopTimer()
			break loop
		case err := <-rxErr:
			stopTimer()
			runErr = fmt.Errorf("vrrp instance %q: read: %w", n.cfg.Name, err)
			break loop
		case r := <-rx:
			stopTimer()
			n.receive(opCtx, r)
		case <-n.wake:
			stopTimer()
			n.reconcile(opCtx)
		case <-timerC:
			n.exec(opCtx, n.m.Handle(n.clock.Now(), Timer{}))
		}
	}
	n.mu.Lock()
	detach := n.detach && runErr == nil
	n.stoppedAs = n.m.State()
	n.mu.Unlock()
	if detach {
		n.log.Info("vrrp instance detached: the new lbd process takes it over", "state", n.stoppedAs.String())
	}
	n.exec(opCtx, n.m.Handle(n.clock.Now(), Shutdown{Detach: detach}))
	n.stopGARP()
	stopAll()
	return runErr
}

// read delivers received adverts to rx until done is closed. A read error
// does not stop the instance (that would drop the VIPs): it backs off and
// retries, and gives up on rxErr after a long run of failures.
func (n *Node) read(rx chan<- received, rxErr chan<- error, done <-chan struct{}) {
	fails := 0
	for {
		b := make([]byte, readBufferSize)
		k, info, err := n.deps.Conn.ReadAdvert(b)
		if err != nil {
			select {
			case <-done:
				return
			default:
			}
			fails++
			if fails >= maxReadFailures {
				rxErr <- err
				return
			}
			if fails == 1 || fails%10 == 0 {
				n.log.Warn("vrrp read failed, retrying", "err", err, "failures", fails)
			}
			c, stop := n.clock.NewTimer(readRetry)
			select {
			case <-c:
			case <-done:
				stop()
				return
			}
			continue
		}
		fails = 0
		select {
		case rx <- received{b[:k], info}:
		case <-done:
			return
		}
	}
}

// removeStale deletes configured VIPs found on the interfaces at start.
func (n *Node) removeStale(ctx context.Context) error {
	for _, a := range n.cfg.VIPs {
		octx, cancel := context.WithTimeout(ctx, vipOpTimeout)
		has, err := n.deps.VIPs.Has(octx, a)
		if err == nil && has {
			n.log.Warn("vrrp removing stale VIP left from a previous run", "vip", a.String())
			err = n.deps.VIPs.Remove(octx, a)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("vrrp instance %q: stale VIP cleanup of %s: %w", n.cfg.Name, a, err)
		}
	}
	return nil
}

// reconcile feeds pending tracking and admin changes to the machine.
func (n *Node) reconcile(ctx context.Context) {
	n.mu.Lock()
	tc := n.trackChangeLocked()
	handover := n.handover
	n.mu.Unlock()
	now := n.clock.Now()
	if tc != n.lastTrack {
		n.lastTrack = tc
		n.exec(ctx, n.m.Handle(now, tc))
	}
	if handover != n.m.HandedOver() {
		if handover {
			n.exec(ctx, n.m.Handle(now, AdminHandover{}))
		} else {
			n.exec(ctx, n.m.Handle(now, AdminResume{}))
		}
	}
	n.syncStatus()
}

func (n *Node) receive(ctx context.Context, r received) {
	if r.info.Src == n.deps.Conn.LocalAddr() {
		return // our own advert looped back
	}
	p, err := Decode(r.b, r.info, n.expect)
	if err != nil {
		reason := DropReason(err)
		n.mu.Lock()
		n.st.Drops[reason]++
		n.mu.Unlock()
		n.log.Debug("vrrp drop", "reason", reason, "err", err)
		return
	}
	n.mu.Lock()
	n.st.AdvertsRx++
	n.mu.Unlock()
	n.exec(ctx, n.m.Handle(n.clock.Now(), AdvertReceived{Src: r.info.Src, Priority: p.Priority, Interval: p.Interval}))
}

// exec runs the machine's actions in order.
func (n *Node) exec(ctx context.Context, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			n.sendAdvert(a.Priority)
		case AddVIPs:
			all := true
			for _, v := range n.cfg.VIPs {
				octx, cancel := context.WithTimeout(ctx, vipOpTimeout)
				if err := n.deps.VIPs.Add(octx, v); err != nil {
					all = false
					n.log.Error("vrrp adding VIP", "vip", v.String(), "err", err)
				}
				cancel()
			}
			n.mu.Lock()
			n.st.VIPsHeld = all
			n.mu.Unlock()
		case RemoveVIPs:
			n.stopGARP()
			for _, v := range n.cfg.VIPs {
				octx, cancel := context.WithTimeout(ctx, vipOpTimeout)
				if err := n.deps.VIPs.Remove(octx, v); err != nil {
					n.log.Error("vrrp removing VIP", "vip", v.String(), "err", err)
				}
				cancel()
			}
			n.mu.Lock()
			n.st.VIPsHeld = false
			n.mu.Unlock()
		case SendGARP:
			n.startGARP(ctx)
		case Notify:
			n.notify(a)
		}
	}
	n.syncStatus()
}

func (n *Node) sendAdvert(prio uint8) {
	p := Packet{Version: n.mcfg.Version, VRID: n.cfg.VRID, Priority: prio, Interval: n.mcfg.Interval, Addrs: n.addrs}
	if n.mcfg.Version == 2 {
		if err := p.SetAuthPass(n.cfg.AuthPass); err != nil {
			n.log.Error("vrrp sending advert", "err", err)
			return
		}
	}
	src := n.deps.Conn.LocalAddr()
	for _, dst := range n.dsts {
		b, err := p.Marshal(src, dst, n.sendMode)
		if err == nil {
			err = n.deps.Conn.WriteAdvert(b, dst)
		}
		if err != nil {
			n.log.Error("vrrp sending advert", "dst", dst, "err", err)
			continue
		}
		n.mu.Lock()
		n.st.AdvertsTx++
		n.mu.Unlock()
	}
}
