package pair

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/internal/control"
)

// Bounds of a shared ticket key set.
const (
	maxSharedTicketKeys = 8  // keys the owner may send
	maxTicketKeys       = 16 // the owner's plus the retained local ones
)

// TicketShare is the session ticket key part of a presence
// (docs/pair.md#session-tickets). Every node sends ID, the key-set id of
// the key it encrypts new tickets with; only the owner sends Keys.
type TicketShare struct {
	ID   string   `json:"id"`
	Keys [][]byte `json:"keys,omitempty"`
}

// String and LogValue keep the keys out of any log or %v.
func (t *TicketShare) String() string {
	if t == nil {
		return "<nil>"
	}
	return fmt.Sprintf("ticket keys %s (%d keys)", t.ID, len(t.Keys))
}

// LogValue implements slog.LogValuer.
func (t *TicketShare) LogValue() slog.Value { return slog.StringValue(t.String()) }

// TicketKeyID is the key-set id shown for a set of ticket keys: a short
// hash of the current (encrypting) key, so both nodes show the same id
// when they share it. It reveals nothing of the key.
func TicketKeyID(keys [][32]byte) string {
	if len(keys) == 0 {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("lbd session ticket key id\x00"))
	h.Write(keys[0][:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// TicketOwner reports whether the node with fingerprint self owns the
// pair's ticket keys against a peer with fingerprint peer: the lower
// fingerprint owns them. Both nodes reach the same answer without asking.
func TicketOwner(self, peer string) bool { return peer == "" || self < peer }

// TicketSync shares one TicketKeys with the peer over the link. The owner
// (TicketOwner) rotates its keys and sends them with every presence; the
// other node installs them and stops rotating while it follows. When the
// owner's keys stop arriving (the link is down) each node rotates its own
// set again, so nothing stops working.
type TicketSync struct {
	keys *certs.TicketKeys
	now  func() time.Time

	mu          sync.Mutex
	peerID      string
	followUntil time.Time  // owner's keys last applied + hold
	retained    [][32]byte // the keys used here before this owner set
	lastOwner   [][32]byte // the owner's set last applied
	retainUntil time.Time
	lastErr     string
}

// NewTicketSync shares keys; now is the clock (nil: time.Now).
func NewTicketSync(keys *certs.TicketKeys, now func() time.Time) *TicketSync {
	if now == nil {
		now = time.Now
	}
	return &TicketSync{keys: keys, now: now}
}

// Keys is the shared TicketKeys.
func (s *TicketSync) Keys() *certs.TicketKeys { return s.keys }

// Outgoing is the ticket part of this node's presence: the key-set id,
// and the keys when this node owns them.
func (s *TicketSync) Outgoing(self, peer string) *TicketShare {
	keys := s.keys.Keys()
	t := &TicketShare{ID: TicketKeyID(keys)}
	if peer != "" && TicketOwner(self, peer) {
		n := min(len(keys), maxSharedTicketKeys)
		t.Keys = make([][]byte, n)
		for i := range n {
			t.Keys[i] = bytes.Clone(keys[i][:])
		}
	}
	return t
}

// Incoming takes the ticket part of the peer's presence (nil: an older
// peer). Keys are applied only from the owner; hold is how long this node
// follows them without hearing again (the link's staleness bound). The
// link has authenticated the peer before this is called.
func (s *TicketSync) Incoming(self, peer string, t *TicketShare, hold time.Duration) error {
	if t == nil {
		s.mu.Lock()
		s.peerID = ""
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peerID = t.ID
	if TicketOwner(self, peer) || len(t.Keys) == 0 {
		return nil
	}
	if len(t.Keys) > maxSharedTicketKeys {
		return s.refuse(fmt.Errorf("session ticket keys from the peer: %d keys, at most %d", len(t.Keys), maxSharedTicketKeys))
	}
	owner := make([][32]byte, len(t.Keys))
	for i, k := range t.Keys {
		if len(k) != 32 {
			return s.refuse(fmt.Errorf("session ticket keys from the peer: key %d is %d bytes, not 32", i, len(k)))
		}
		copy(owner[i][:], k)
	}
	if TicketKeyID(owner) != t.ID {
		return s.refuse(errors.New("session ticket keys from the peer: the id does not match the keys"))
	}
	now := s.now()
	cur := s.keys.Keys()
	fresh := !now.Before(s.followUntil) || len(s.lastOwner) == 0 || !containsKey(owner, s.lastOwner[0])
	s.lastOwner = owner
	if fresh {
		// Starting to follow, or the owner made a new set (it restarted):
		// keep the keys used here until now for decryption for one
		// rotation period, so the tickets they encrypted still resume.
		// An owner's rotation keeps its previous current key: not fresh.
		s.retained = s.retained[:0]
		for _, k := range cur {
			if !containsKey(owner, k) {
				s.retained = append(s.retained, k)
			}
		}
		s.retainUntil = now.Add(s.keys.Interval())
	}
	want := owner
	if now.Before(s.retainUntil) {
		for _, k := range s.retained {
			if len(want) < maxTicketKeys && !containsKey(want, k) {
				want = append(want, k)
			}
		}
	} else {
		s.retained = nil
	}
	s.followUntil = now.Add(hold)
	s.lastErr = ""
	if !equalKeys(want, cur) {
		return s.keys.Set(want)
	}
	return nil
}

func (s *TicketSync) refuse(err error) error {
	s.lastErr = err.Error()
	return err
}

// Following reports whether this node uses the owner's keys now (and so
// does not rotate its own).
func (s *TicketSync) Following() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().Before(s.followUntil)
}

// Tick is one rotation period: the keys rotate unless this node follows
// the owner's.
func (s *TicketSync) Tick() error {
	if s.Following() {
		return nil
	}
	return s.keys.Rotate()
}

// Run calls Tick every rotation period until ctx ends; it returns a failed
// rotation's error (the random source), or nil.
func (s *TicketSync) Run(ctx context.Context) error {
	t := time.NewTicker(s.keys.Interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Tick(); err != nil {
				return err
			}
		}
	}
}

// Status is the tickets part of the pair status: never the keys.
func (s *TicketSync) Status(self, peer string, up bool) *control.PairTickets {
	id := TicketKeyID(s.keys.Keys())
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &control.PairTickets{KeyID: id, Role: "local", PeerKeyID: s.peerID, LastError: s.lastErr}
	if peer != "" && up {
		st.Role = "follower"
		if TicketOwner(self, peer) {
			st.Role = "owner"
		}
		st.Shared = s.peerID != "" && s.peerID == id
	}
	return st
}

func containsKey(keys [][32]byte, k [32]byte) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func equalKeys(a, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
