package pair

import (
	"fmt"
	"sync"
	"time"
)

// replayWindow is how many sequence numbers below the highest seen are
// still accepted once (messages on different connections may cross).
const replayWindow = 64

// guard refuses application messages it has seen before. TLS already stops
// tampering and replay inside a connection; the guard covers a message
// replayed on another connection: each message carries the sender's boot
// id (random per process start), a sequence number that only grows, and
// its send time. A message is accepted once, if it is no older than maxAge
// (against this node's clock) and its sequence number is above the highest
// seen or inside the window and not seen yet. A new boot id is accepted only
// with a send time after the last accepted message's.
type guard struct {
	maxAge time.Duration

	mu       sync.Mutex
	boot     string
	max      uint64
	seen     uint64 // bit i: max-i was seen
	lastSent time.Time
}

// replayError is a refused message; reason is the counter's label.
type replayError struct{ reason, msg string }

func (e *replayError) Error() string { return e.msg }

func (g *guard) check(boot string, seq uint64, sent, now time.Time) error {
	if boot == "" || seq == 0 || sent.IsZero() {
		return &replayError{"bad_message", "message without boot id, sequence or time"}
	}
	if d := now.Sub(sent); d > g.maxAge || d < -g.maxAge {
		return &replayError{"stale", fmt.Sprintf("message sent at %s is outside the ±%s window (clocks of the pair differ, or a replay)", sent.UTC().Format(time.RFC3339), g.maxAge)}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if boot != g.boot {
		if !g.lastSent.IsZero() && !sent.After(g.lastSent) {
			return &replayError{"replay", "message from an earlier boot of the peer (replayed)"}
		}
		g.boot, g.max, g.seen, g.lastSent = boot, seq, 1, sent
		return nil
	}
	switch {
	case seq > g.max:
		shift := seq - g.max
		if shift >= replayWindow {
			g.seen = 0
		} else {
			g.seen <<= shift
		}
		g.seen |= 1
		g.max = seq
	case g.max-seq >= replayWindow:
		return &replayError{"replay", fmt.Sprintf("sequence %d is older than the window (highest %d)", seq, g.max)}
	default:
		bit := uint64(1) << (g.max - seq)
		if g.seen&bit != 0 {
			return &replayError{"replay", fmt.Sprintf("sequence %d was already received", seq)}
		}
		g.seen |= bit
	}
	if sent.After(g.lastSent) {
		g.lastSent = sent
	}
	return nil
}

// reset forgets what was seen (a new peer was pinned).
func (g *guard) reset() {
	g.mu.Lock()
	g.boot, g.max, g.seen, g.lastSent = "", 0, 0, time.Time{}
	g.mu.Unlock()
}
