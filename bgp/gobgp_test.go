package bgp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gbgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// router is a second GoBGP on loopback standing in for a router: passive,
// it accepts the lbd speaker and keeps what it learns.
func router(t *testing.T, asn, peerASN uint32, password string) (*server.BgpServer, int) {
	return routerAt(t, "127.0.0.1", asn, peerASN, password)
}

func routerAt(t *testing.T, addr string, asn, peerASN uint32, password string) (*server.BgpServer, int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := server.NewBgpServer()
	go s.Serve()
	t.Cleanup(s.Stop)
	ctx := context.Background()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: asn, RouterId: "10.255.0.1", ListenPort: int32(port), ListenAddresses: []string{addr}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: addr, PeerAsn: peerASN, AuthPassword: password},
		Transport: &api.Transport{PassiveMode: true},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 3, KeepaliveInterval: 1}},
	}}); err != nil {
		t.Fatal(err)
	}
	return s, port
}

func learnt(s *server.BgpServer, p netip.Prefix) bool {
	found := false
	fam := gbgp.RF_IPv4_UC
	if p.Addr().Is6() {
		fam = gbgp.RF_IPv6_UC
	}
	s.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: fam}, func(n gbgp.NLRI, _ []*apiutil.Path) {
		if n.String() == p.String() {
			found = true
		}
	})
	return found
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGoBGPAnnounceWithdraw(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two BGP speakers on loopback")
	}
	vip := netip.MustParsePrefix("192.0.2.10/32")
	r, port := router(t, 65000, 65001, "s3cret")
	med := uint32(20)
	c := New(Options{
		ASN: 65001, RouterID: netip.MustParseAddr("10.255.0.2"), Prefixes: []netip.Prefix{vip},
		Communities: []uint32{65001<<16 | 100}, MED: &med,
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("127.0.0.1"), Port: uint16(port), ASN: 65000, Password: "s3cret",
			HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second}},
	}, NewGoBGP())
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.SetHealth(true, "")
	waitFor(t, "the router to learn the VIP", func() bool { return learnt(r, vip) })
	st := c.Status()
	if len(st.Neighbors) != 1 || st.Neighbors[0].State != "established" || st.Neighbors[0].Since.IsZero() {
		t.Fatalf("neighbour status %+v", st.Neighbors)
	}
	c.SetHealth(false, "backend down")
	waitFor(t, "the router to drop the VIP", func() bool { return !learnt(r, vip) })
	c.SetHealth(true, "")
	waitFor(t, "the VIP back", func() bool { return learnt(r, vip) })
	c.Stop()
	waitFor(t, "the VIP gone after stop", func() bool { return !learnt(r, vip) })
}

func TestGoBGPWrongASNRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two BGP speakers on loopback")
	}
	_, port := router(t, 65000, 65001, "")
	c := New(Options{
		ASN: 65001, RouterID: netip.MustParseAddr("10.255.0.2"), Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")},
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("127.0.0.1"), Port: uint16(port), ASN: 65099,
			HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second}},
	}, NewGoBGP())
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.SetHealth(true, "")
	waitFor(t, "a refused session to be counted", func() bool {
		st := c.Status()
		n := st.Neighbors[0]
		return n.NotificationsIn+n.NotificationsOut > 0 && n.State != "established"
	})
	if st := c.Status(); !st.Announced {
		t.Fatalf("a refused neighbour must not change the decision: %+v", st)
	}
}

func TestGoBGPUnreachableNeighborDoesNotBlock(t *testing.T) {
	c := New(Options{
		ASN: 65001, RouterID: netip.MustParseAddr("10.255.0.2"),
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("192.0.2.200"), ASN: 65000}},
	}, NewGoBGP())
	start := time.Now()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("start took %v", d)
	}
}

func TestGoBGPWrongPasswordNeverEstablishes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two BGP speakers on loopback")
	}
	_, port := router(t, 65000, 65001, "right")
	c := New(Options{
		ASN: 65001, RouterID: netip.MustParseAddr("10.255.0.2"), Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")},
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("127.0.0.1"), Port: uint16(port), ASN: 65000, Password: "wrong",
			HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second}},
	}, NewGoBGP())
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.SetHealth(true, "")
	// The kernel drops segments with a bad MD5 signature: the session
	// never comes up, nothing else breaks.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if st := c.Status(); st.Neighbors[0].State == "established" {
			t.Fatalf("established with a wrong password: %+v", st.Neighbors[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := c.Status(); !st.Announced || st.LastError != "" {
		t.Fatalf("status: %+v", st)
	}
}

func TestGoBGPIPv6Prefix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two BGP speakers on loopback")
	}
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback")
	} else {
		l.Close()
	}
	vip := netip.MustParsePrefix("2001:db8::10/128")
	r, port := routerAt(t, "::1", 65000, 65001, "")
	c := New(Options{
		ASN: 65001, RouterID: netip.MustParseAddr("10.255.0.2"), Prefixes: []netip.Prefix{vip},
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("::1"), Port: uint16(port), ASN: 65000,
			HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second}},
	}, NewGoBGP())
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.SetHealth(true, "")
	waitFor(t, "the router to learn the IPv6 VIP", func() bool { return learnt(r, vip) })
	c.SetHealth(false, "down")
	waitFor(t, "the router to drop the IPv6 VIP", func() bool { return !learnt(r, vip) })
}
