package logs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Privacy is how a frontend's client addresses appear in its access-log
// lines (log_privacy). It changes the log line only: routing, ACLs and
// X-Forwarded-For see the real address.
type Privacy struct {
	// Pseudonym replaces the address by a keyed hash; else it is masked.
	Pseudonym bool
	// V4Bits and V6Bits are the prefix lengths mask keeps.
	V4Bits, V6Bits int
	// KeepPort logs the client port; else it is logged as 0 (a port with
	// a time and a carrier-grade NAT address can identify a subscriber).
	KeepPort bool
}

// Client returns the address to log for ap at time t.
//
// Mask keeps the first V4Bits/V6Bits bits (192.0.2.77 -> 192.0.2.0).
// Pseudonym is HMAC-SHA256 of the address under the day's key, rendered in
// a reserved range so it is never mistaken for a real client yet parses
// as an address: IPv4 clients as 240.x.y.z (240.0.0.0/4, "reserved for
// future use", 28 bits of the hash), IPv6 clients as 100::/64 (RFC 6666's
// discard prefix, 64 bits). The key is random, made in memory for each UTC
// day and never written anywhere: the same client gets the same pseudonym
// all day (in this process), and cannot be linked across days.
func (p *Privacy) Client(ap netip.AddrPort, t time.Time) netip.AddrPort {
	if p == nil || !ap.IsValid() {
		return ap
	}
	a := ap.Addr().Unmap().WithZone("")
	port := ap.Port()
	if !p.KeepPort {
		port = 0
	}
	if !p.Pseudonym {
		bits := p.V6Bits
		if a.Is4() {
			bits = p.V4Bits
		}
		if pf, err := a.Prefix(bits); err == nil {
			a = pf.Addr()
		}
		return netip.AddrPortFrom(a, port)
	}
	h := dayKeys.sum(a, t)
	if a.Is4() {
		v := binary.BigEndian.Uint32(h[:4])
		v = 0xF0000000 | v&0x0FFFFFFF
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		return netip.AddrPortFrom(netip.AddrFrom4(b), port)
	}
	var b [16]byte
	b[0], b[1] = 0x01, 0x00
	copy(b[8:], h[:8])
	return netip.AddrPortFrom(netip.AddrFrom16(b), port)
}

// keyRing holds the pseudonym key of the current UTC day. It is process
// wide, so a reload (a new Logger) keeps the day's pseudonyms; a restart
// or binary upgrade starts a new key.
type keyRing struct {
	cur atomic.Pointer[dayKey]
	mu  sync.Mutex
}

type dayKey struct {
	day        int64
	ipad, opad [64]byte
}

var dayKeys keyRing

// key returns the key of t's UTC day, making a new random one (and
// dropping the old) when the day changed.
func (k *keyRing) key(t time.Time) *dayKey {
	day := t.Unix() / 86400
	if dk := k.cur.Load(); dk != nil && dk.day == day {
		return dk
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if dk := k.cur.Load(); dk != nil && dk.day >= day {
		return dk // another goroutine rotated (or the clock went back)
	}
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand panics rather than return an error)
	dk := &dayKey{day: day}
	for i := range dk.ipad {
		var b byte
		if i < len(raw) {
			b = raw[i]
		}
		dk.ipad[i], dk.opad[i] = b^0x36, b^0x5c
	}
	clear(raw[:])
	k.cur.Store(dk)
	return dk
}

// sum is HMAC-SHA256(key of t's day, the 16-byte form of a), computed on
// the stack (crypto/hmac would allocate on every line).
func (k *keyRing) sum(a netip.Addr, t time.Time) [32]byte {
	dk := k.key(t)
	var in [64 + 16]byte
	copy(in[:64], dk.ipad[:])
	a16 := a.As16()
	copy(in[64:], a16[:])
	inner := sha256.Sum256(in[:])
	var out [64 + 32]byte
	copy(out[:64], dk.opad[:])
	copy(out[64:], inner[:])
	return sha256.Sum256(out[:])
}
