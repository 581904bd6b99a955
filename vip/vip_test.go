package vip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
)

func addr(p, ifname, label string) Address {
	return Address{Prefix: netip.MustParsePrefix(p), Interface: ifname, Label: label}
}

func TestValidate(t *testing.T) {
	for _, a := range []Address{
		addr("10.10.0.100/24", "eth0", ""),
		addr("10.10.0.100/32", "eth0", "eth0:vip"),
		addr("2001:db8::100/64", "bond0.100", ""),
	} {
		if err := Validate(a); err != nil {
			t.Errorf("Validate(%s) = %v", a, err)
		}
	}
	for _, a := range []Address{
		{Interface: "eth0"},
		addr("10.10.0.100/24", "", ""),
		addr("10.10.0.100/24", "averyveryverylongname", ""),
		addr("10.10.0.100/24", "eth0", "vip"),
		addr("10.10.0.100/24", "eth0", "eth0:waytoolonglabel"),
		addr("2001:db8::100/64", "eth0", "eth0:v6"),
		addr("::ffff:10.0.0.1/128", "eth0", ""),
	} {
		if err := Validate(a); !errors.Is(err, ErrBadAddress) {
			t.Errorf("Validate(%+v) = %v, want ErrBadAddress", a, err)
		}
	}
}

func TestFakeManager(t *testing.T) {
	ctx := context.Background()
	f := NewFake("eth0", "eth1")
	for _, a := range []Address{
		addr("10.10.0.101/24", "eth0", ""),
		addr("10.10.0.100/24", "eth0", "eth0:vip"),
		addr("10.10.0.100/24", "eth0", "eth0:vip"), // idempotent
		addr("2001:db8::1/64", "eth1", ""),
	} {
		if err := f.Add(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	want := "ip addr add 10.10.0.100/24 dev eth0 label eth0:vip\n" +
		"ip addr add 10.10.0.101/24 dev eth0\n" +
		"ip addr add 2001:db8::1/64 dev eth1\n"
	if got := f.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
	if err := f.Add(ctx, addr("10.0.0.1/32", "eth9", "")); !errors.Is(err, ErrLinkNotFound) || !strings.Contains(err.Error(), "eth9") || !strings.Contains(err.Error(), "10.0.0.1/32") {
		t.Errorf("unknown link: %v", err)
	}
	if err := f.Remove(ctx, addr("10.10.0.101/24", "eth0", "")); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(ctx, addr("10.10.0.101/24", "eth0", "")); err != nil {
		t.Errorf("second Remove: %v, want idempotent success", err)
	}
	if has, _ := f.Has(ctx, addr("10.10.0.101/24", "eth0", "")); has {
		t.Errorf("Has after Remove = true")
	}
	boom := errors.New("boom")
	f.FailNext(boom)
	if err := f.Add(ctx, addr("10.10.0.102/24", "eth0", "")); !errors.Is(err, boom) {
		t.Errorf("FailNext: %v", err)
	}
	wantOps := []string{"add 10.10.0.101/24 dev eth0", "add 10.10.0.100/24 dev eth0 label eth0:vip", "add 2001:db8::1/64 dev eth1", "del 10.10.0.101/24 dev eth0"}
	if got := f.Ops(); strings.Join(got, "|") != strings.Join(wantOps, "|") {
		t.Errorf("Ops = %q\nwant %q", got, wantOps)
	}
}

func TestRemoveStale(t *testing.T) {
	ctx := context.Background()
	f := NewFake("eth0")
	left := addr("10.10.0.100/24", "eth0", "")
	other := addr("10.10.0.200/32", "eth0", "") // not configured: must stay
	for _, a := range []Address{left, other} {
		if err := f.Add(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(ctx, f, []Address{left, addr("10.10.0.101/24", "eth0", ""), addr("10.10.0.102/24", "eth7", "")})
	if len(removed) != 1 || removed[0] != left {
		t.Errorf("removed %v, want only %s", removed, left)
	}
	if !errors.Is(err, ErrLinkNotFound) || !strings.Contains(err.Error(), "eth7") {
		t.Errorf("err = %v, want the missing eth7 reported", err)
	}
	if got := f.String(); got != "ip addr add 10.10.0.200/32 dev eth0\n" {
		t.Errorf("state after cleanup:\n%s", got)
	}
	removed, err = RemoveStale(ctx, f, []Address{left})
	if len(removed) != 0 || err != nil {
		t.Errorf("second cleanup: %v, %v", removed, err)
	}
}

// recConn is a net.PacketConn that records writes.
type recConn struct {
	mu     sync.Mutex
	frames [][]byte
	addrs  []net.Addr
}

func (c *recConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errors.New("not readable") }
func (c *recConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, append([]byte(nil), b...))
	c.addrs = append(c.addrs, a)
	return len(b), nil
}
func (c *recConn) Close() error                     { return nil }
func (c *recConn) LocalAddr() net.Addr              { return &packet.Addr{} }
func (c *recConn) SetDeadline(time.Time) error      { return nil }
func (c *recConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recConn) SetWriteDeadline(time.Time) error { return nil }

// testIfi is loopback (for arp.New's IPv4 address check) renamed and given
// an Ethernet MAC.
func testIfi(t *testing.T) *net.Interface {
	t.Helper()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	ifi := *lo
	ifi.Name = "test0"
	ifi.HardwareAddr = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	return &ifi
}

func TestGARPFrames(t *testing.T) {
	ifi := testIfi(t)
	vip := netip.MustParseAddr("10.10.0.100")
	for _, reply := range []bool{false, true} {
		pc := &recConn{}
		g, err := NewGARPConn(ifi, pc, reply)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Announce(context.Background(), "test0", vip); err != nil {
			t.Fatal(err)
		}
		wantN := 1
		if reply {
			wantN = 2
		}
		if len(pc.frames) != wantN {
			t.Fatalf("reply=%v: %d frames, want %d", reply, len(pc.frames), wantN)
		}
		for i, fb := range pc.frames {
			var f ethernet.Frame
			if err := f.UnmarshalBinary(fb); err != nil {
				t.Fatal(err)
			}
			if f.Destination.String() != "ff:ff:ff:ff:ff:ff" || f.Source.String() != ifi.HardwareAddr.String() || f.EtherType != ethernet.EtherTypeARP {
				t.Errorf("frame %d ethernet %s -> %s type %v", i, f.Source, f.Destination, f.EtherType)
			}
			if a, ok := pc.addrs[i].(*packet.Addr); !ok || a.HardwareAddr.String() != "ff:ff:ff:ff:ff:ff" {
				t.Errorf("frame %d sent to %v, want the broadcast packet.Addr", i, pc.addrs[i])
			}
			var p arp.Packet
			if err := p.UnmarshalBinary(f.Payload); err != nil {
				t.Fatal(err)
			}
			wantOp, wantTHA := arp.OperationRequest, "ff:ff:ff:ff:ff:ff"
			if i == 1 {
				wantOp, wantTHA = arp.OperationReply, ifi.HardwareAddr.String()
			}
			if p.Operation != wantOp || p.SenderIP != vip || p.TargetIP != vip ||
				p.SenderHardwareAddr.String() != ifi.HardwareAddr.String() || p.TargetHardwareAddr.String() != wantTHA ||
				p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) {
				t.Errorf("frame %d ARP %+v: want op %v sender=target=%s tha %s", i, p, wantOp, vip, wantTHA)
			}
		}
		// Raw bytes of the request as keepalived sends it: opcode 1 at offset
		// 14+6, target MAC all ones at 14+18.
		fb := pc.frames[0]
		if fb[20] != 0 || fb[21] != 1 || string(fb[32:38]) != "\xff\xff\xff\xff\xff\xff" {
			t.Errorf("request bytes % x", fb[:42])
		}
	}

	g, _ := NewGARPConn(ifi, &recConn{}, false)
	if err := g.Announce(context.Background(), "eth0", vip); !errors.Is(err, ErrLinkNotFound) {
		t.Errorf("other interface: %v", err)
	}
	if err := g.Announce(context.Background(), "test0", netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Errorf("IPv6 address accepted by GARP")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Announce(ctx, "test0", vip); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, err := GARPPackets(net.HardwareAddr{1, 2, 3}, vip, false); !errors.Is(err, ErrNoEthernet) {
		t.Errorf("short MAC: %v", err)
	}
}

func TestNAMessage(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0, 1, 2}
	vip := netip.MustParseAddr("2001:db8::100")
	for _, router := range []bool{false, true} {
		m, err := NAMessage(mac, vip, router)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ndp.MarshalMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		wantFlags := byte(0x20) // Override
		if router {
			wantFlags |= 0x80
		}
		if b[0] != byte(ipv6.ICMPTypeNeighborAdvertisement) || b[4] != wantFlags {
			t.Errorf("router=%v: type %d flags %#x, want 136 and %#x", router, b[0], b[4], wantFlags)
		}
		got, err := ndp.ParseMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		na := got.(*ndp.NeighborAdvertisement)
		if na.TargetAddress != vip || na.Solicited || !na.Override || na.Router != router || len(na.Options) != 1 {
			t.Errorf("parsed NA %+v", na)
		}
		if lla, ok := na.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Direction != ndp.Target || lla.Addr.String() != mac.String() {
			t.Errorf("option %+v, want target LLA %s", na.Options[0], mac)
		}
	}
	if _, err := NAMessage(mac, netip.MustParseAddr("10.0.0.1"), false); err == nil {
		t.Errorf("IPv4 accepted")
	}
}

func TestNAAnnounceSeam(t *testing.T) {
	var sent []netip.Addr
	n := &NA{send: func(ifi *net.Interface, src netip.Addr, m ndp.Message) error {
		sent = append(sent, src)
		return nil
	}}
	// Loopback has no Ethernet address: nothing is sent.
	err := n.Announce(context.Background(), "lo", netip.MustParseAddr("::1"))
	if !errors.Is(err, ErrNoEthernet) || len(sent) != 0 {
		t.Errorf("NA on lo: %v, sent %v", err, sent)
	}
	if err := n.Announce(context.Background(), "nosuchif0", netip.MustParseAddr("2001:db8::1")); !errors.Is(err, ErrLinkNotFound) {
		t.Errorf("missing interface: %v", err)
	}
	if err := NewGARP(false).Announce(context.Background(), "nosuchif0", netip.MustParseAddr("192.0.2.1")); !errors.Is(err, ErrLinkNotFound) {
		t.Errorf("GARP missing interface: %v", err)
	}
}

func TestDualAndFakeAnnouncer(t *testing.T) {
	v4, v6 := &FakeAnnouncer{}, &FakeAnnouncer{}
	d := Dual{V4: v4, V6: v6}
	ctx := context.Background()
	for _, a := range []string{"10.0.0.1", "2001:db8::1", "::ffff:10.0.0.2"} {
		if err := d.Announce(ctx, "eth0", netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
	if got := v4.String(); got != "announce 10.0.0.1 dev eth0\nannounce 10.0.0.2 dev eth0\n" {
		t.Errorf("v4 calls:\n%s", got)
	}
	if got := v6.Calls(); len(got) != 1 || got[0] != (Announcement{"eth0", netip.MustParseAddr("2001:db8::1")}) {
		t.Errorf("v6 calls %v", got)
	}
	if err := (Dual{V4: v4}).Announce(ctx, "eth0", netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Errorf("missing V6 announcer: no error")
	}
	v4.Err = errors.New("down")
	if err := d.Announce(ctx, "eth0", netip.MustParseAddr("10.0.0.3")); err == nil || len(v4.Calls()) != 3 {
		t.Errorf("Err not returned or call not recorded: %v", err)
	}
}
