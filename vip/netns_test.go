package vip

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/lbd-ha/lbd/internal/lab"
)

func TestNetnsVIPManager(t *testing.T) {
	l := lab.New(t, lab.Config{IPv6: true})
	a, b := l.Node("a"), l.Node("b")
	m := NewNetlinkAt(a.Netlink())
	ctx := context.Background()
	v4 := addr("192.0.2.100/24", "lab0", "lab0:vip")
	v6 := addr("2001:db8::100/64", "lab0", "")

	for _, v := range []Address{v4, v6} {
		for i := 0; i < 2; i++ { // the second Add is a no-op
			if err := m.Add(ctx, v); err != nil {
				t.Fatalf("Add #%d %s: %v", i+1, v, err)
			}
		}
		if has, err := m.Has(ctx, v); err != nil || !has {
			t.Errorf("Has(%s) = %v, %v", v, has, err)
		}
		if ok, err := a.HasAddr("lab0", v.Prefix.Addr()); err != nil || !ok {
			t.Errorf("lab sees %s on a: %v, %v", v, ok, err)
		}
	}
	// Label and nodad as the kernel reports them.
	link, err := a.Netlink().LinkByName("lab0")
	if err != nil {
		t.Fatal(err)
	}
	list, err := a.Netlink().AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var sawLabel, sawNodad bool
	for _, ad := range list {
		if ad.IP.Equal(net.ParseIP("192.0.2.100")) && ad.Label == "lab0:vip" {
			sawLabel = true
		}
		if ad.IP.Equal(net.ParseIP("2001:db8::100")) && ad.Flags&unix.IFA_F_NODAD != 0 && ad.Flags&unix.IFA_F_TENTATIVE == 0 {
			sawNodad = true
		}
	}
	if !sawLabel || !sawNodad {
		t.Errorf("kernel addresses %v: label seen %v, v6 nodad and not tentative %v", list, sawLabel, sawNodad)
	}
	// The same prefix with another length is a different address.
	if has, _ := m.Has(ctx, addr("192.0.2.100/32", "lab0", "")); has {
		t.Errorf("Has(/32) true while only /24 is configured")
	}

	// The VIP serves: b reaches a listener bound to it in a.
	var ln net.Listener
	if err := a.Do(func() (err error) { ln, err = net.Listen("tcp4", "192.0.2.100:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = io.WriteString(c, "vip")
			c.Close()
		}
	}()
	var got []byte
	if err := b.Do(func() error {
		c, err := net.DialTimeout("tcp4", "192.0.2.100:8080", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		got, err = io.ReadAll(c)
		return err
	}); err != nil || string(got) != "vip" {
		t.Errorf("b -> VIP: %q, %v", got, err)
	}

	// Stale cleanup (as after a crash) removes exactly the configured VIPs.
	removed, err := RemoveStale(ctx, m, []Address{v4, v6, addr("192.0.2.101/24", "lab0", "")})
	if err != nil || len(removed) != 2 {
		t.Errorf("RemoveStale = %v, %v; want v4 and v6", removed, err)
	}
	after, err := a.Addrs("lab0")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(after, v4.Prefix) || slices.Contains(after, v6.Prefix) || !slices.Contains(after, a.Addr) {
		t.Errorf("after cleanup a has %v: want the VIPs gone and %s kept", after, a.Addr)
	}
	if err := m.Remove(ctx, v4); err != nil {
		t.Errorf("Remove of an absent VIP: %v", err)
	}
	err = m.Add(ctx, addr("192.0.2.100/24", "nosuch0", ""))
	if !errors.Is(err, ErrLinkNotFound) || !containsAll(err.Error(), "192.0.2.100/24", "nosuch0") {
		t.Errorf("missing link: %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func TestNetnsVIPGARP(t *testing.T) {
	l := lab.New(t, lab.Config{})
	a, b := l.Node("a"), l.Node("b")
	ctx := context.Background()
	vip := netip.MustParseAddr("192.0.2.100")
	if err := NewNetlinkAt(a.Netlink()).Add(ctx, addr("192.0.2.100/24", "lab0", "")); err != nil {
		t.Fatal(err)
	}

	// A raw ARP listener in b, opened before a sends.
	var c *arp.Client
	if err := b.Do(func() error {
		ifi, err := net.InterfaceByName("lab0")
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if err := a.Do(func() error { return NewGARP(true).Announce(ctx, "lab0", vip) }); err != nil {
		t.Fatalf("Announce in a: %v", err)
	}

	var ops []arp.Operation
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for i := 0; i < 50 && len(ops) < 2; i++ { // bounded: other ARP traffic is skipped
		p, eth, err := c.Read()
		if err != nil {
			t.Fatalf("reading ARP in b after %v: %v", ops, err)
		}
		if p.SenderIP != vip {
			continue
		}
		if eth.Destination.String() != "ff:ff:ff:ff:ff:ff" || eth.Source.String() != a.MAC.String() {
			t.Errorf("ethernet %s -> %s, want %s -> broadcast", eth.Source, eth.Destination, a.MAC)
		}
		if p.TargetIP != vip || p.SenderHardwareAddr.String() != a.MAC.String() {
			t.Errorf("ARP %+v: want sender=target=%s from %s", p, vip, a.MAC)
		}
		wantTHA := "ff:ff:ff:ff:ff:ff"
		if p.Operation == arp.OperationReply {
			wantTHA = a.MAC.String()
		}
		if p.TargetHardwareAddr.String() != wantTHA {
			t.Errorf("%v target MAC %s, want %s", p.Operation, p.TargetHardwareAddr, wantTHA)
		}
		ops = append(ops, p.Operation)
	}
	if !slices.Equal(ops, []arp.Operation{arp.OperationRequest, arp.OperationReply}) {
		t.Errorf("b received %v, want request then reply", ops)
	}
}

func TestNetnsVIPNA(t *testing.T) {
	l := lab.New(t, lab.Config{IPv6: true})
	a, b := l.Node("a"), l.Node("b")
	ctx := context.Background()
	vip := netip.MustParseAddr("2001:db8::100")
	if err := NewNetlinkAt(a.Netlink()).Add(ctx, addr("2001:db8::100/64", "lab0", "")); err != nil {
		t.Fatal(err)
	}

	var c *ndp.Conn
	if err := b.Do(func() error {
		ifi, err := net.InterfaceByName("lab0")
		if err != nil {
			return err
		}
		c, _, err = ndp.Listen(ifi, ndp.Unspecified)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeNeighborAdvertisement)
	if err := c.SetICMPFilter(&f); err != nil {
		t.Fatal(err)
	}
	if err := c.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true); err != nil {
		t.Fatal(err)
	}

	if err := a.Do(func() error { return NewNA(false).Announce(ctx, "lab0", vip) }); err != nil {
		t.Fatalf("Announce in a: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for i := 0; ; i++ {
		if i == 50 {
			t.Fatal("no NA for the VIP among 50 messages")
		}
		m, cm, from, err := c.ReadFrom()
		if err != nil {
			t.Fatalf("reading NA in b: %v", err)
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.TargetAddress != vip {
			continue
		}
		if from.WithZone("") != vip {
			t.Errorf("NA source %s, want the VIP", from)
		}
		if cm == nil || cm.HopLimit != 255 || !net.IP(cm.Dst).Equal(net.ParseIP("ff02::1")) {
			t.Errorf("control message %+v: want hop limit 255 to ff02::1", cm)
		}
		if na.Solicited || !na.Override || na.Router {
			t.Errorf("NA flags %+v: want unsolicited, override, not router", na)
		}
		if len(na.Options) != 1 {
			t.Fatalf("NA options %v", na.Options)
		}
		if lla, ok := na.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Addr.String() != a.MAC.String() {
			t.Errorf("NA option %+v, want target LLA %s", na.Options[0], a.MAC)
		}
		break
	}
}
