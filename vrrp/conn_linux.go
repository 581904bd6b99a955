//go:build linux

package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// IPConn is a raw IP protocol 112 socket bound to one interface.
type IPConn struct {
	c     net.PacketConn
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	ifi   *net.Interface
	local netip.Addr
}

var _ Conn = (*IPConn)(nil)

// Dial opens a raw VRRP socket on cfg.Interface (CAP_NET_RAW): bound to the
// device, TTL / hop limit 255 for multicast and unicast, multicast loopback
// off, the group joined unless cfg.Unicast, and control messages on so that
// reads report TTL and destination.
func Dial(cfg DialConfig) (*IPConn, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp dial: %w", err)
	}
	local := cfg.Src
	if !local.IsValid() {
		if local, err = primaryAddr(ifi, cfg.IPv6, cfg.Exclude); err != nil {
			return nil, err
		}
	}
	if local.Is4() == cfg.IPv6 {
		return nil, fmt.Errorf("vrrp dial: source %v is not of the socket's family", local)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name)
		}); err != nil {
			return err
		}
		return serr
	}}
	network, wildcard := "ip4:112", "0.0.0.0"
	if cfg.IPv6 {
		network, wildcard = "ip6:112", "::"
	}
	c, err := lc.ListenPacket(context.Background(), network, wildcard)
	if err != nil {
		return nil, fmt.Errorf("vrrp dial %s on %s: %w", network, ifi.Name, err)
	}
	ic := &IPConn{c: c, ifi: ifi, local: local}
	if err := ic.setup(cfg); err != nil {
		c.Close()
		return nil, fmt.Errorf("vrrp dial %s on %s: %w", network, ifi.Name, err)
	}
	return ic, nil
}

// vridFilter accepts only VRRP messages whose VRID byte (offset 1 of the
// VRRP header) is vrid. IPv4 raw sockets see the IP header first (its length
// in the low nibble of byte 0); IPv6 raw sockets see the payload only.
func vridFilter(vrid uint8, v6 bool) ([]bpf.RawInstruction, error) {
	var prog []bpf.Instruction
	if v6 {
		prog = []bpf.Instruction{bpf.LoadAbsolute{Off: 1, Size: 1}}
	} else {
		prog = []bpf.Instruction{
			bpf.LoadMemShift{Off: 0},
			bpf.LoadIndirect{Off: 1, Size: 1},
		}
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(vrid), SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	)
	return bpf.Assemble(prog)
}

func (c *IPConn) setup(cfg DialConfig) error {
	var filter []bpf.RawInstruction
	if cfg.VRID != 0 {
		var err error
		if filter, err = vridFilter(cfg.VRID, cfg.IPv6); err != nil {
			return fmt.Errorf("vrid filter: %w", err)
		}
	}
	if cfg.IPv6 {
		p := ipv6.NewPacketConn(c.c)
		c.p6 = p
		if filter != nil {
			if err := p.SetBPF(filter); err != nil {
				return fmt.Errorf("vrid filter: %w", err)
			}
		}
		if !cfg.Unicast {
			if err := p.JoinGroup(c.ifi, &net.IPAddr{IP: Group6.AsSlice()}); err != nil {
				return fmt.Errorf("join %v: %w", Group6, err)
			}
		}
		return errors.Join(
			p.SetMulticastInterface(c.ifi),
			p.SetMulticastHopLimit(TTL),
			p.SetHopLimit(TTL),
			p.SetMulticastLoopback(false),
			p.SetTrafficClass(0xc0),
			p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true),
		)
	}
	p := ipv4.NewPacketConn(c.c)
	c.p4 = p
	if filter != nil {
		if err := p.SetBPF(filter); err != nil {
			return fmt.Errorf("vrid filter: %w", err)
		}
	}
	if !cfg.Unicast {
		if err := p.JoinGroup(c.ifi, &net.IPAddr{IP: Group4.AsSlice()}); err != nil {
			return fmt.Errorf("join %v: %w", Group4, err)
		}
	}
	return errors.Join(
		p.SetMulticastInterface(c.ifi),
		p.SetMulticastTTL(TTL),
		p.SetTTL(TTL),
		p.SetMulticastLoopback(false),
		p.SetTOS(0xc0), // internetwork control, as keepalived
		p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true),
	)
}

// primaryAddr is the interface's first address of the family that is not
// excluded: the primary IPv4 address, or the IPv6 link-local address.
func primaryAddr(ifi *net.Interface, v6 bool, exclude []netip.Addr) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp dial: addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() == v6 || (v6 && !ip.IsLinkLocalUnicast()) || slices.Contains(exclude, ip) {
			continue
		}
		return ip, nil
	}
	fam := "IPv4"
	if v6 {
		fam = "IPv6 link-local"
	}
	return netip.Addr{}, fmt.Errorf("vrrp dial: %s has no %s address", ifi.Name, fam)
}

// ReadAdvert implements Conn.
func (c *IPConn) ReadAdvert(b []byte) (int, RecvInfo, error) {
	info := RecvInfo{TTL: -1}
	var (
		n   int
		src net.Addr
		err error
	)
	if c.p6 != nil {
		var cm *ipv6.ControlMessage
		n, cm, src, err = c.p6.ReadFrom(b)
		if cm != nil {
			info.TTL = cm.HopLimit
			info.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, src, err = c.p4.ReadFrom(b)
		if cm != nil {
			info.TTL = cm.TTL
			info.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	}
	if err != nil {
		return 0, info, err
	}
	if ia, ok := src.(*net.IPAddr); ok {
		info.Src, _ = netip.AddrFromSlice(ia.IP)
	}
	info.Src, info.Dst = info.Src.Unmap(), info.Dst.Unmap()
	return n, info, nil
}

// WriteAdvert implements Conn.
func (c *IPConn) WriteAdvert(b []byte, dst netip.Addr) error {
	to := &net.IPAddr{IP: dst.AsSlice()}
	var err error
	if c.p6 != nil {
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
			to.Zone = c.ifi.Name
		}
		_, err = c.p6.WriteTo(b, &ipv6.ControlMessage{Src: c.local.AsSlice(), IfIndex: c.ifi.Index, HopLimit: TTL}, to)
	} else {
		_, err = c.p4.WriteTo(b, &ipv4.ControlMessage{Src: c.local.AsSlice(), IfIndex: c.ifi.Index}, to)
	}
	if err != nil {
		return fmt.Errorf("vrrp send to %v: %w", dst, err)
	}
	return nil
}

// LocalAddr implements Conn.
func (c *IPConn) LocalAddr() netip.Addr { return c.local }

// Close implements Conn; a blocked ReadAdvert returns.
func (c *IPConn) Close() error { return c.c.Close() }
