package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrLinkNotFound is returned (wrapped) when a VIP's interface does not exist.
var ErrLinkNotFound = errors.New("interface not found")

// ErrBadAddress is returned (wrapped) for an invalid Address (no prefix,
// no interface, a bad label).
var ErrBadAddress = errors.New("invalid VIP")

// Netlink is the Manager backed by rtnetlink.
type Netlink struct {
	h *netlink.Handle
}

var _ Manager = (*Netlink)(nil)

// NewNetlink returns the Manager acting in the calling thread's network
// namespace (the daemon's).
func NewNetlink() Manager { return &Netlink{h: &netlink.Handle{}} }

// NewNetlinkAt returns a Manager that acts through h (for example a handle
// bound to another namespace with netlink.NewHandleAt). The caller owns h.
func NewNetlinkAt(h *netlink.Handle) *Netlink { return &Netlink{h: h} }

// Validate checks a: a valid prefix, an interface name of 1..15 bytes and,
// if set, an IPv4-only label of <= 15 bytes that starts with the interface
// name (the kernel and ip(8) rule).
func Validate(a Address) error {
	if !a.Prefix.IsValid() {
		return fmt.Errorf("%w: prefix %q is not valid", ErrBadAddress, a.Prefix)
	}
	if a.Prefix.Addr().Zone() != "" || a.Prefix.Addr().Is4In6() {
		return fmt.Errorf("%w: %s: no zones or IPv4-mapped addresses", ErrBadAddress, a.Prefix)
	}
	if a.Interface == "" || len(a.Interface) > 15 || strings.ContainsAny(a.Interface, "/ \x00") {
		return fmt.Errorf("%w: %s: interface name %q", ErrBadAddress, a.Prefix, a.Interface)
	}
	if a.Label != "" {
		if !a.Prefix.Addr().Is4() {
			return fmt.Errorf("%w: %s: labels exist only for IPv4", ErrBadAddress, a.Prefix)
		}
		if len(a.Label) > 15 || !strings.HasPrefix(a.Label, a.Interface) {
			return fmt.Errorf("%w: %s: label %q must start with %q and be at most 15 bytes", ErrBadAddress, a.Prefix, a.Label, a.Interface)
		}
	}
	return nil
}

func (n *Netlink) link(op string, a Address) (netlink.Link, error) {
	if err := Validate(a); err != nil {
		return nil, fmt.Errorf("%s VIP: %w", op, err)
	}
	l, err := n.h.LinkByName(a.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%s VIP %s on %s: %w", op, a.Prefix, a.Interface, ErrLinkNotFound)
		}
		return nil, fmt.Errorf("%s VIP %s on %s: looking up the interface: %w", op, a.Prefix, a.Interface, err)
	}
	return l, nil
}

func nlAddr(a Address) *netlink.Addr {
	p := a.Prefix
	na := &netlink.Addr{
		IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Label: a.Label,
	}
	if p.Addr().Is6() {
		// A VIP moves between nodes: duplicate address detection would keep
		// it tentative (unusable, unbindable) for a second after takeover.
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

// Add implements Manager. An address already present with the same prefix
// length is success.
func (n *Netlink) Add(ctx context.Context, a Address) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("adding VIP %s: %w", a, err)
	}
	l, err := n.link("adding", a)
	if err != nil {
		return err
	}
	if err := n.h.AddrAdd(l, nlAddr(a)); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			return nil
		}
		return fmt.Errorf("adding VIP %s to %s: %w", a.Prefix, a.Interface, err)
	}
	return nil
}

// Remove implements Manager. An absent address is success; a missing
// interface is ErrLinkNotFound.
func (n *Netlink) Remove(ctx context.Context, a Address) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("removing VIP %s: %w", a, err)
	}
	l, err := n.link("removing", a)
	if err != nil {
		return err
	}
	if err := n.h.AddrDel(l, nlAddr(a)); err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("removing VIP %s from %s: %w", a.Prefix, a.Interface, err)
	}
	return nil
}

// Has implements Manager: the address with the same prefix length is on
// the interface.
func (n *Netlink) Has(ctx context.Context, a Address) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("checking VIP %s: %w", a, err)
	}
	l, err := n.link("checking", a)
	if err != nil {
		return false, err
	}
	ps, err := n.list(l)
	if err != nil {
		return false, fmt.Errorf("checking VIP %s on %s: %w", a.Prefix, a.Interface, err)
	}
	for _, p := range ps {
		if p == a.Prefix {
			return true, nil
		}
	}
	return false, nil
}

// Addrs lists the addresses on ifname (both families).
func (n *Netlink) Addrs(ifname string) ([]netip.Prefix, error) {
	l, err := n.h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w: %w", ifname, ErrLinkNotFound, err)
	}
	ps, err := n.list(l)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", ifname, err)
	}
	return ps, nil
}

func (n *Netlink) list(l netlink.Link) ([]netip.Prefix, error) {
	var (
		list []netlink.Addr
		err  error
	)
	for try := 0; try < 5; try++ {
		list, err = n.h.AddrList(l, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), bits))
	}
	return out, nil
}
