package vip

import (
	"context"
	"fmt"
	"net/netip"
)

// Address is one virtual IP as it sits on an interface.
type Address struct {
	// Prefix is the address with its prefix length (10.10.0.100/24, or /32).
	Prefix netip.Prefix
	// Interface is the link name (eth0).
	Interface string
	// Label is the optional IPv4 label (eth0:vip); empty for none.
	Label string
}

// String renders the address as the `ip addr` argument list.
func (a Address) String() string {
	s := fmt.Sprintf("%s dev %s", a.Prefix, a.Interface)
	if a.Label != "" {
		s += " label " + a.Label
	}
	return s
}

// Manager adds and removes VIPs. Add of a present address and Remove of an
// absent one succeed (idempotent), so a driver can retry blindly.
type Manager interface {
	Add(ctx context.Context, a Address) error
	Remove(ctx context.Context, a Address) error
	// Has reports whether the address is configured on its interface.
	Has(ctx context.Context, a Address) (bool, error)
}

// Announcer tells the L2 segment that this node now owns addr: gratuitous ARP
// for IPv4, unsolicited neighbour advertisement for IPv6. One call sends one
// announcement round (the caller schedules bursts and repeats).
type Announcer interface {
	Announce(ctx context.Context, ifname string, addr netip.Addr) error
}
