package vrrp

import (
	"errors"
	"net/netip"
)

// Conn carries VRRP adverts for one instance. *IPConn (from Dial) is the
// real one; tests inject fakes through Deps.Conn.
type Conn interface {
	// ReadAdvert reads one VRRP message (the IP payload) into b. It blocks
	// until a packet arrives or the Conn is closed.
	ReadAdvert(b []byte) (n int, info RecvInfo, err error)
	// WriteAdvert sends one VRRP message to dst (the group or a unicast
	// peer) with TTL / hop limit 255.
	WriteAdvert(b []byte, dst netip.Addr) error
	// LocalAddr is the source address adverts carry: the interface's
	// primary IPv4 address (or unicast_src), or its IPv6 link-local
	// address. It enters the checksum and the equal-priority tie-break.
	LocalAddr() netip.Addr
	Close() error
}

// DialConfig says which socket Dial opens.
type DialConfig struct {
	// Interface is the link adverts are sent and received on.
	Interface string
	// IPv6 selects ip6:112 and ff02::12 instead of ip4:112 and 224.0.0.18.
	IPv6 bool
	// Src forces the source address (keepalived's unicast_src_ip /
	// mcast_src_ip); invalid: the interface's first address of the family
	// (link-local for IPv6) that is not in Exclude.
	Src netip.Addr
	// Exclude lists addresses never chosen as source (the VIPs).
	Exclude []netip.Addr
	// Unicast skips joining the multicast group (unicast peers mode).
	Unicast bool
	// VRID, when not 0, attaches a socket filter so that only adverts of
	// this virtual router reach the socket: several instances on one
	// interface then do not count each other's adverts as "vrid" drops.
	VRID uint8
}

// ErrUnsupported is returned by Dial on systems without raw IP sockets.
var ErrUnsupported = errors.New("vrrp: raw sockets not supported on this system")
