package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// ErrNoEthernet is returned (wrapped) when an interface has no 6-byte MAC
// (loopback, tun): there is no layer 2 to announce to.
var ErrNoEthernet = errors.New("interface has no Ethernet address")

// GARP is the IPv4 Announcer: gratuitous ARP through mdlayher/arp.
type GARP struct {
	reply bool
	// open returns a client for ifname and a func that releases it.
	open func(ifname string) (*arp.Client, *net.Interface, func(), error)
}

var _ Announcer = (*GARP)(nil)

// NewGARP returns a GARP announcer that opens an AF_PACKET socket on the
// named interface for each Announce (needs CAP_NET_RAW and an IPv4 address
// on the interface, which the VIP itself is). With reply, each round sends
// the request form and then the reply form.
func NewGARP(reply bool) *GARP {
	return &GARP{reply: reply, open: func(ifname string) (*arp.Client, *net.Interface, func(), error) {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: %w", ErrLinkNotFound, err)
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("opening ARP socket: %w", err)
		}
		return c, ifi, func() { _ = c.Close() }, nil
	}}
}

// NewGARPConn returns a GARP announcer that writes Ethernet frames for ifi
// to pc (arp.New(ifi, pc)): the caller owns pc. Announce accepts only
// ifi.Name. Tests pass a recording net.PacketConn to see the exact frames.
func NewGARPConn(ifi *net.Interface, pc net.PacketConn, reply bool) (*GARP, error) {
	c, err := arp.New(ifi, pc)
	if err != nil {
		return nil, fmt.Errorf("garp on %s: %w", ifi.Name, err)
	}
	return &GARP{reply: reply, open: func(ifname string) (*arp.Client, *net.Interface, func(), error) {
		if ifname != ifi.Name {
			return nil, nil, nil, fmt.Errorf("%w: this announcer sends on %s only", ErrLinkNotFound, ifi.Name)
		}
		return c, ifi, func() {}, nil
	}}, nil
}

// GARPPackets returns the packets of one announcement round for vip from
// mac: the request form keepalived sends (op 1, sender = target IP = vip,
// target MAC ff:ff:ff:ff:ff:ff) and, with reply, the reply form (op 2,
// sender = target IP = vip, target MAC = mac, RFC 5944 section 4.6).
// Both go to the Ethernet broadcast address.
func GARPPackets(mac net.HardwareAddr, vip netip.Addr, reply bool) ([]*arp.Packet, error) {
	vip = vip.Unmap()
	if !vip.Is4() {
		return nil, fmt.Errorf("gratuitous ARP for %s: not an IPv4 address", vip)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("gratuitous ARP for %s: %w (%q)", vip, ErrNoEthernet, mac)
	}
	req, err := arp.NewPacket(arp.OperationRequest, mac, vip, ethernet.Broadcast, vip)
	if err != nil {
		return nil, fmt.Errorf("gratuitous ARP request for %s: %w", vip, err)
	}
	ps := []*arp.Packet{req}
	if reply {
		rep, err := arp.NewPacket(arp.OperationReply, mac, vip, mac, vip)
		if err != nil {
			return nil, fmt.Errorf("gratuitous ARP reply for %s: %w", vip, err)
		}
		ps = append(ps, rep)
	}
	return ps, nil
}

// Announce implements Announcer: one gratuitous ARP round for addr.
func (g *GARP) Announce(ctx context.Context, ifname string, addr netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gratuitous ARP for %s on %s: %w", addr, ifname, err)
	}
	c, ifi, release, err := g.open(ifname)
	if err != nil {
		return fmt.Errorf("gratuitous ARP for %s on %s: %w", addr, ifname, err)
	}
	defer release()
	ps, err := GARPPackets(ifi.HardwareAddr, addr, g.reply)
	if err != nil {
		return fmt.Errorf("%w on %s", err, ifname)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(d)
	} else {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	}
	for _, p := range ps {
		if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
			return fmt.Errorf("sending gratuitous ARP %s for %s on %s: %w", p.Operation, addr, ifname, err)
		}
	}
	return nil
}

// NA is the IPv6 Announcer: unsolicited neighbour advertisements to
// all-nodes through mdlayher/ndp.
type NA struct {
	router bool
	send   func(ifi *net.Interface, src netip.Addr, m ndp.Message) error
}

var _ Announcer = (*NA)(nil)

// AllNodes is the IPv6 all-nodes multicast group NAs are sent to.
var AllNodes = netip.MustParseAddr("ff02::1")

// NewNA returns an NA announcer. router sets the Router flag, which
// keepalived sets when IPv6 forwarding is on. Each Announce opens a raw
// ICMPv6 socket bound to the VIP (so the VIP must be on the interface and
// not tentative: Netlink adds IPv6 VIPs with nodad).
func NewNA(router bool) *NA {
	return &NA{router: router, send: func(ifi *net.Interface, src netip.Addr, m ndp.Message) error {
		c, _, err := ndp.Listen(ifi, ndp.Addr(src.String()))
		if err != nil {
			return fmt.Errorf("opening ICMPv6 socket from %s: %w", src, err)
		}
		defer c.Close()
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		return c.WriteTo(m, nil, AllNodes)
	}}
}

// NAMessage returns the unsolicited neighbour advertisement for vip owned
// by mac: Solicited clear, Override set, Router as given, and a target
// link-layer address option.
func NAMessage(mac net.HardwareAddr, vip netip.Addr, router bool) (*ndp.NeighborAdvertisement, error) {
	if !vip.Is6() || vip.Is4In6() {
		return nil, fmt.Errorf("neighbour advertisement for %s: not an IPv6 address", vip)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("neighbour advertisement for %s: %w (%q)", vip, ErrNoEthernet, mac)
	}
	return &ndp.NeighborAdvertisement{
		Router:        router,
		Solicited:     false,
		Override:      true,
		TargetAddress: vip.WithZone(""),
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}, nil
}

// Announce implements Announcer: one unsolicited NA for addr.
func (n *NA) Announce(ctx context.Context, ifname string, addr netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("neighbour advertisement for %s on %s: %w", addr, ifname, err)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("neighbour advertisement for %s on %s: %w: %w", addr, ifname, ErrLinkNotFound, err)
	}
	m, err := NAMessage(ifi.HardwareAddr, addr, n.router)
	if err != nil {
		return fmt.Errorf("%w on %s", err, ifname)
	}
	if err := n.send(ifi, addr, m); err != nil {
		return fmt.Errorf("sending neighbour advertisement for %s on %s: %w", addr, ifname, err)
	}
	return nil
}

// Dual routes IPv4 addresses to V4 and IPv6 addresses to V6.
type Dual struct {
	V4, V6 Announcer
}

var _ Announcer = Dual{}

// NewAnnouncer returns the real Announcer for both families: GARP (with
// the reply form when garpReply) and NA (Router flag when router).
func NewAnnouncer(garpReply, router bool) Announcer {
	return Dual{V4: NewGARP(garpReply), V6: NewNA(router)}
}

// Announce implements Announcer.
func (d Dual) Announce(ctx context.Context, ifname string, addr netip.Addr) error {
	a := d.V6
	if addr.Unmap().Is4() {
		a = d.V4
	}
	if a == nil {
		return fmt.Errorf("announcing %s on %s: no announcer for this address family", addr, ifname)
	}
	return a.Announce(ctx, ifname, addr.Unmap())
}
