package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/internal/pair"
	"github.com/lbd-ha/lbd/proxy"
)

// Stick-table replication over the pair link (docs/pair.md#stick-tables):
// every min(pair.interval, 1 s) while the link is up, this node sends the
// entries that changed since the last send, in batches of at most
// stickBatch entries and pair.MaxStickBody bytes, at most stickRounds
// batches a round (the rest waits for the next round). When the link comes
// up or the peer restarted (its start time changed) or a send fails, the
// whole tables are sent again.
const (
	stickBatch  = 4096
	stickRounds = 8
	// stickBackoff is how long a peer without the route (an older lbd) is
	// left alone.
	stickBackoff = time.Minute
)

type stickSyncState struct {
	mu     sync.Mutex
	eng    *proxy.Engine
	ss     *proxy.StickSync
	logged map[string]time.Time // what was logged when (at most every 10 s)
}

// stickSync returns the sync of the running engine; nil without one.
func (d *Daemon) stickSync() *proxy.StickSync {
	rt := d.runtime()
	if rt == nil || rt.engine == nil {
		return nil
	}
	st := &d.pair.stick
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.eng != rt.engine {
		st.eng, st.ss = rt.engine, proxy.NewStickSync(rt.engine)
	}
	return st.ss
}

// stickLog logs at warn level, at most once every 10 s per key.
func (d *Daemon) stickLog(key, msg string, args ...any) {
	st := &d.pair.stick
	st.mu.Lock()
	if st.logged == nil {
		st.logged = map[string]time.Time{}
	}
	now := time.Now()
	if t, ok := st.logged[key]; ok && now.Sub(t) < 10*time.Second {
		st.mu.Unlock()
		return
	}
	if len(st.logged) > 64 {
		clear(st.logged)
	}
	st.logged[key] = now
	st.mu.Unlock()
	d.log.Warn(msg, args...)
}

// stickSyncLoop sends this node's stick-table changes to the peer until
// the link is replaced or stopped.
func (d *Daemon) stickSyncLoop(l *pair.Link, gen int, interval time.Duration) {
	every := min(interval, time.Second)
	if every <= 0 {
		every = time.Second
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	wasUp := false
	var quietUntil, peerStart time.Time
	for range tk.C {
		d.pair.mu.Lock()
		current := d.pair.gen == gen
		d.pair.mu.Unlock()
		if !current {
			return
		}
		ss := d.stickSync()
		if ss == nil || time.Now().Before(quietUntil) {
			continue
		}
		st := l.Status()
		if st.Link != "up" {
			wasUp = false
			continue
		}
		if !st.PeerStartedAt.Equal(peerStart) {
			// The peer restarted (quicker than the link's down delay):
			// its tables are empty.
			peerStart, wasUp = st.PeerStartedAt, false
		}
		if !wasUp {
			ss.MarkAll()
			wasUp = true
		}
		for i := 0; i < stickRounds; i++ {
			msg := ss.Collect(stickBatch, pair.MaxStickBody-4096) // an entry may go past the budget
			if msg == nil {
				break
			}
			res, err := l.SendStick(context.Background(), msg)
			if err != nil {
				wasUp = false // send everything again next round
				if pair.Unsupported(err) {
					quietUntil = time.Now().Add(stickBackoff)
					d.stickLog("unsupported", "pair: the peer does not take stick-table updates (older lbd): counters are not replicated", "error", err)
				} else {
					d.stickLog("send", "pair: stick-table updates not sent; retried", "error", err)
				}
				break
			}
			for _, n := range res.Unknown {
				d.stickLog("unknown "+n, "pair: the peer has no stick table of this name: its counters are not replicated", "table", n)
			}
			if res.Dropped > 0 {
				d.stickLog("dropped", "pair: the peer's stick table is full of entries in use: some updates were not merged", "dropped", res.Dropped)
			}
		}
	}
}

// stickPeerMessage merges the peer's stick-table updates (the link has
// authenticated the pinned peer).
func (d *Daemon) stickPeerMessage(data []byte) (pair.StickResult, error) {
	ss := d.stickSync()
	if ss == nil {
		return pair.StickResult{}, errNoRuntime
	}
	res, err := ss.Apply(data)
	if err != nil {
		return pair.StickResult{}, err
	}
	for _, n := range res.Unknown {
		d.stickLog("unknown-in "+n, "pair: the peer sent updates of a stick table this node does not have: ignored", "table", n)
	}
	return pair.StickResult{Received: res.Received, UnknownTable: res.UnknownTable, Unknown: res.Unknown, Dropped: res.Dropped}, nil
}
