package certs

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"sync"
	"time"
	"weak"
)

// Ticket key defaults.
const (
	// DefaultTicketRotation is how often a new ticket key is made.
	DefaultTicketRotation = 12 * time.Hour
	// DefaultTicketKeep is how many previous keys still decrypt tickets,
	// so a ticket stays usable for up to (1+keep) rotations.
	DefaultTicketKeep = 2
)

// TicketKeys owns the session ticket keys of one or more tls.Configs: the
// first key encrypts new tickets, the previous ones still decrypt older
// tickets. Rotate (or Run) makes a new key; Set installs keys from outside
// (the pair link will share them between the two nodes). Every attached
// tls.Config gets the new keys at once through SetSessionTicketKeys, which
// crypto/tls allows while the server runs. Configs are held weakly, so a
// tls.Config dropped at a reload needs no detaching.
type TicketKeys struct {
	mu      sync.Mutex
	keys    [][32]byte // current first
	keep    int
	every   time.Duration
	configs []weak.Pointer[tls.Config]
}

// NewTicketKeys returns keys that rotate every `every` (0: the default,
// 12h) and keep `keep` previous keys (<0: the default, 2), with a fresh
// random current key.
func NewTicketKeys(every time.Duration, keep int) (*TicketKeys, error) {
	if every <= 0 {
		every = DefaultTicketRotation
	}
	if keep < 0 {
		keep = DefaultTicketKeep
	}
	k := &TicketKeys{every: every, keep: keep}
	if err := k.Rotate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Interval is the rotation period.
func (k *TicketKeys) Interval() time.Duration { return k.every }

// Keys returns a copy of the keys, current first.
func (k *TicketKeys) Keys() [][32]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([][32]byte(nil), k.keys...)
}

// Rotate makes a new random current key; the old current key and up to
// keep-1 older ones are kept for decryption.
func (k *TicketKeys) Rotate() error {
	var nk [32]byte
	if _, err := rand.Read(nk[:]); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := append([][32]byte{nk}, k.keys...)
	if len(keys) > 1+k.keep {
		keys = keys[:1+k.keep]
	}
	k.keys = keys
	k.pushLocked()
	return nil
}

// Set installs keys made elsewhere (current first) and pushes them to the
// attached configs. At least one key is required.
func (k *TicketKeys) Set(keys [][32]byte) error {
	if len(keys) == 0 {
		return errors.New("session ticket keys: at least one key is required")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append([][32]byte(nil), keys...)
	k.pushLocked()
	return nil
}

// Attach makes cfg use these keys from now on (and turns off crypto/tls's
// own rotation for it). Attach the tls.Config the listener really uses: a
// Clone taken afterwards (http.Server.ServeTLS clones) keeps the keys of
// that moment and does not follow later rotations.
func (k *TicketKeys) Attach(cfg *tls.Config) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cfg.SetSessionTicketKeys(k.keys)
	live := k.configs[:0]
	for _, w := range k.configs {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	k.configs = append(live, weak.Make(cfg))
}

func (k *TicketKeys) pushLocked() {
	live := k.configs[:0]
	for _, w := range k.configs {
		if c := w.Value(); c != nil {
			c.SetSessionTicketKeys(k.keys)
			live = append(live, w)
		}
	}
	clear(k.configs[len(live):])
	k.configs = live
}

// Run rotates the keys every Interval until ctx is done. It returns the
// error of a failed rotation (the random source), or nil when ctx ends.
func (k *TicketKeys) Run(ctx context.Context) error {
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := k.Rotate(); err != nil {
				return err
			}
		}
	}
}
