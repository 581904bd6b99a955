package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Drop reasons: the keys of Status.Drops.
const (
	DropTruncated = "truncated" // shorter than its header and address count say
	DropVersion   = "version"   // not the configured VRRP version
	DropType      = "type"      // not an ADVERTISEMENT
	DropAddress   = "address"   // source/destination family mismatch, unknown unicast source
	DropChecksum  = "checksum"  // checksum matches no accepted form
	DropTTL       = "ttl"       // multicast advert with TTL/hop limit != 255
	DropVRID      = "vrid"      // another virtual router's advert
	DropInterval  = "interval"  // v2 interval differs from ours, or v3 interval 0
	DropAuth      = "auth"      // v2 auth type or password differs from ours
)

// DropError is why a received packet was dropped.
type DropError struct {
	// Reason is one of the Drop* constants.
	Reason string
	Detail string
}

func (e *DropError) Error() string {
	return "vrrp packet dropped (" + e.Reason + "): " + e.Detail
}

func dropf(reason, format string, args ...any) error {
	return &DropError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// DropReason returns the Drop* reason carried by err, or "" when err is not
// a *DropError.
func DropReason(err error) string {
	var de *DropError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

// RecvInfo is what the IP layer says about a received advert.
type RecvInfo struct {
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit; -1 when unknown.
	TTL int
}

// Expect is what an instance accepts.
type Expect struct {
	VRID    uint8
	Version int
	// Interval is our advert interval; a v2 advert must carry the same.
	Interval time.Duration
	// AuthPass is the v2 simple password; empty expects no authentication.
	AuthPass string
	// Checksum is the accepted IPv4 VRRPv3 checksum form.
	Checksum ChecksumMode
	// Peers, when set (unicast mode), are the only accepted sources.
	Peers []netip.Addr
}

// Decode parses a received advert and applies the RFC 5798 §7.1 / RFC 3768
// §7.1 receive checks for one instance. Errors are *DropError values.
func Decode(b []byte, info RecvInfo, want Expect) (Packet, error) {
	if len(b) > maxPacket {
		b = b[:maxPacket] // longer is padding at best; Parse bounds the rest
	}
	p, err := Parse(b, info.Src, info.Dst, want.Checksum)
	if err != nil {
		return p, err
	}
	if info.Dst.IsMulticast() && info.TTL >= 0 && info.TTL != TTL {
		return p, dropf(DropTTL, "TTL %d from %v, want %d", info.TTL, info.Src, TTL)
	}
	if p.Version != want.Version {
		return p, dropf(DropVersion, "version %d from %v, want %d", p.Version, info.Src, want.Version)
	}
	if p.VRID != want.VRID {
		return p, dropf(DropVRID, "VRID %d from %v, want %d", p.VRID, info.Src, want.VRID)
	}
	if len(want.Peers) > 0 {
		known := false
		for _, a := range want.Peers {
			if a == info.Src {
				known = true
				break
			}
		}
		if !known {
			return p, dropf(DropAddress, "source %v is not a unicast peer", info.Src)
		}
	}
	switch p.Version {
	case 2:
		if p.Interval != want.Interval {
			return p, dropf(DropInterval, "interval %v from %v, want %v", p.Interval, info.Src, want.Interval)
		}
		wantType := uint8(AuthNone)
		if want.AuthPass != "" {
			wantType = AuthSimple
		}
		if p.AuthType != wantType {
			return p, dropf(DropAuth, "auth type %d from %v, want %d", p.AuthType, info.Src, wantType)
		}
		if wantType == AuthSimple {
			var w [8]byte
			copy(w[:], want.AuthPass)
			if w != p.AuthData {
				return p, dropf(DropAuth, "password mismatch from %v", info.Src)
			}
		}
	case 3:
		if p.Interval == 0 {
			return p, dropf(DropInterval, "interval 0 from %v", info.Src)
		}
	}
	return p, nil
}
