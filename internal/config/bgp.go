package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// BGP defaults (see docs/config.md, docs/scale-out.md).
const (
	DefaultBGPHoldTime     = 9 * time.Second
	DefaultBGPKeepalive    = 3 * time.Second
	DefaultBGPConnectRetry = 5 * time.Second
	DefaultBGPDrain        = 3 * time.Second
	DefaultBGPInterface    = "lo"
)

// BGP announces VIPs to routers (ECMP scale-out; docs/scale-out.md). Nil:
// no BGP.
type BGP struct {
	// ASN is the local AS number (1..4294967294).
	ASN uint32 `mapstructure:"asn" yaml:"asn"`
	// RouterID is the BGP identifier, an IPv4 address unique per node.
	RouterID string `mapstructure:"router_id" yaml:"router_id"`
	// ListenPort accepts sessions on this TCP port; 0 (default) does not
	// listen: lbd connects to every neighbour.
	ListenPort int `mapstructure:"listen_port" yaml:"listen_port,omitempty"`
	// Prefixes are the VIPs announced while this node can serve: host
	// routes only (/32, /128; a bare address means one).
	Prefixes []string `mapstructure:"prefixes" yaml:"prefixes"`
	// Interface gets the VIPs so the node answers for them: "lo" (default)
	// or a dummy interface (created when absent); "none" leaves them alone.
	Interface string `mapstructure:"interface" yaml:"interface,omitempty"`
	// Communities are standard communities "ASN:VALUE" sent with the routes.
	Communities []string `mapstructure:"communities" yaml:"communities,omitempty"`
	// MED is sent as MULTI_EXIT_DISC when set.
	MED *uint32 `mapstructure:"med" yaml:"med,omitempty"`
	// Drain: on stop, how long to keep serving after the withdraw while the
	// routers converge. Default 3s; 0s stops at once.
	Drain *time.Duration `mapstructure:"drain" yaml:"drain,omitempty"`
	// GracefulRestart negotiates BGP graceful restart with this restart
	// time so that a binary upgrade keeps the routes; unset: off.
	GracefulRestart time.Duration `mapstructure:"graceful_restart" yaml:"graceful_restart,omitempty"`
	// Track: what must work for the node to announce. Empty: every frontend
	// serving and every frontend's default_backend usable.
	Track     BGPTrack      `mapstructure:"track" yaml:"track,omitempty"`
	Neighbors []BGPNeighbor `mapstructure:"neighbors" yaml:"neighbors"`
}

// BGPTrack names the objects whose failure withdraws the routes.
type BGPTrack struct {
	Frontends  []string `mapstructure:"frontends" yaml:"frontends,omitempty"`
	Backends   []string `mapstructure:"backends" yaml:"backends,omitempty"`
	Interfaces []string `mapstructure:"interfaces" yaml:"interfaces,omitempty"`
}

// BGPNeighbor is one router.
type BGPNeighbor struct {
	Address string `mapstructure:"address" yaml:"address"`
	ASN     uint32 `mapstructure:"asn" yaml:"asn"`
	// Port of the router; default 179.
	Port int `mapstructure:"port" yaml:"port,omitempty"`
	// Password enables TCP MD5 signatures (RFC 2385).
	Password string `mapstructure:"password" yaml:"password,omitempty"`
	// HoldTime (0s or >= 3s, whole seconds; default 9s), Keepalive (default
	// 3s) and ConnectRetry (default 5s).
	HoldTime     time.Duration `mapstructure:"hold_time" yaml:"hold_time,omitempty"`
	Keepalive    time.Duration `mapstructure:"keepalive" yaml:"keepalive,omitempty"`
	ConnectRetry time.Duration `mapstructure:"connect_retry" yaml:"connect_retry,omitempty"`
	// BFD enables fast failure detection (GoBGP's native BFD); nil: off.
	BFD *BGPBFD `mapstructure:"bfd" yaml:"bfd,omitempty"`
}

// BGPBFD tunes BFD for one neighbour.
type BGPBFD struct {
	// MinTx and MinRx default to 300ms, Multiplier to 3.
	MinTx      time.Duration `mapstructure:"min_tx" yaml:"min_tx,omitempty"`
	MinRx      time.Duration `mapstructure:"min_rx" yaml:"min_rx,omitempty"`
	Multiplier int           `mapstructure:"multiplier" yaml:"multiplier,omitempty"`
}

// normalizeBGP fills the defaults.
func (c *Config) normalizeBGP() {
	b := c.BGP
	if b == nil {
		return
	}
	b.Interface = firstStr(b.Interface, DefaultBGPInterface)
	if b.Drain == nil {
		d := DefaultBGPDrain
		b.Drain = &d
	}
	for i := range b.Neighbors {
		n := &b.Neighbors[i]
		if n.Port == 0 {
			n.Port = 179
		}
		n.HoldTime = firstDur(n.HoldTime, DefaultBGPHoldTime)
		n.Keepalive = firstDur(n.Keepalive, DefaultBGPKeepalive)
		n.ConnectRetry = firstDur(n.ConnectRetry, DefaultBGPConnectRetry)
		if n.BFD != nil {
			n.BFD.MinTx = firstDur(n.BFD.MinTx, 300*time.Millisecond)
			n.BFD.MinRx = firstDur(n.BFD.MinRx, 300*time.Millisecond)
			n.BFD.Multiplier = firstInt(n.BFD.Multiplier, 3)
		}
	}
}

// BGPPrefix parses one bgp.prefixes entry: a host route, or a bare address.
func BGPPrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %q", s)
	}
	if !p.IsValid() || !p.IsSingleIP() {
		return netip.Prefix{}, fmt.Errorf("%q is not a host route: announce VIPs as /32 or /128", s)
	}
	return p, nil
}

// BGPCommunity parses "ASN:VALUE" (each 0..65535) into high<<16 | low.
func BGPCommunity(s string) (uint32, error) {
	hi, lo, ok := strings.Cut(s, ":")
	h, err1 := strconv.ParseUint(hi, 10, 16)
	l, err2 := strconv.ParseUint(lo, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("invalid community %q: want ASN:VALUE, each 0..65535", s)
	}
	return uint32(h)<<16 | uint32(l), nil
}

func (c *checker) checkBGP(cfg *Config) {
	b := cfg.BGP
	if b == nil {
		return
	}
	if b.ASN == 0 || b.ASN == 4294967295 {
		c.add("bgp.asn", "needs a local AS number 1..4294967294")
	}
	if a, err := netip.ParseAddr(b.RouterID); err != nil || !a.Is4() {
		c.add("bgp.router_id", "needs an IPv4 address unique to this node (got %q)", b.RouterID)
	}
	if b.ListenPort < 0 || b.ListenPort > 65535 {
		c.add("bgp.listen_port", "must be 0 (do not listen) or 1..65535")
	}
	if g := b.GracefulRestart; g != 0 && (g%time.Second != 0 || g < time.Second || g > 4095*time.Second) {
		c.add("bgp.graceful_restart", "must be whole seconds, 1s..4095s (got %v)", g)
	}
	if len(b.Prefixes) == 0 {
		c.add("bgp.prefixes", "needs at least one VIP to announce")
	}
	seen := map[netip.Prefix]bool{}
	for i, s := range b.Prefixes {
		p, err := BGPPrefix(s)
		if err != nil {
			c.add(fmt.Sprintf("bgp.prefixes[%d]", i), "%v", err)
			continue
		}
		if seen[p] {
			c.add(fmt.Sprintf("bgp.prefixes[%d]", i), "duplicate prefix %s", p)
		}
		seen[p] = true
	}
	if b.Interface != "none" && !nameRe.MatchString(b.Interface) || len(b.Interface) > 15 {
		c.add("bgp.interface", "invalid interface name %q", b.Interface)
	}
	for i, s := range b.Communities {
		if _, err := BGPCommunity(s); err != nil {
			c.add(fmt.Sprintf("bgp.communities[%d]", i), "%v", err)
		}
	}
	if len(b.Neighbors) == 0 {
		c.add("bgp.neighbors", "needs at least one neighbor (router)")
	}
	addrs := map[netip.Addr]bool{}
	for i := range b.Neighbors {
		n := &b.Neighbors[i]
		p := fmt.Sprintf("bgp.neighbors[%d]", i)
		a, err := netip.ParseAddr(n.Address)
		if err != nil {
			c.add(p+".address", "invalid address %q", n.Address)
		} else if addrs[a] {
			c.add(p+".address", "duplicate neighbor %s", a)
		}
		addrs[a] = true
		if n.ASN == 0 || n.ASN == 4294967295 {
			c.add(p+".asn", "needs the router's AS number 1..4294967294")
		}
		if n.Port < 1 || n.Port > 65535 {
			c.add(p+".port", "must be 1..65535")
		}
		if len(n.Password) > 80 {
			c.add(p+".password", "TCP MD5 keys are at most 80 bytes")
		}
		if n.HoldTime%time.Second != 0 || n.HoldTime < 3*time.Second || n.HoldTime > 65535*time.Second {
			c.add(p+".hold_time", "must be whole seconds, 3s..65535s (got %v)", n.HoldTime)
		}
		if n.Keepalive%time.Second != 0 || n.Keepalive >= n.HoldTime {
			c.add(p+".keepalive", "must be whole seconds and below hold_time (got %v; a third of it is usual)", n.Keepalive)
		}
		if n.ConnectRetry%time.Second != 0 {
			c.add(p+".connect_retry", "must be whole seconds (got %v)", n.ConnectRetry)
		}
		if f := n.BFD; f != nil {
			if f.MinTx < 10*time.Millisecond || f.MinRx < 10*time.Millisecond {
				c.add(p+".bfd", "min_tx and min_rx must be at least 10ms")
			}
			if f.Multiplier < 1 || f.Multiplier > 255 {
				c.add(p+".bfd.multiplier", "must be 1..255")
			}
		}
	}
	for i, name := range b.Track.Frontends {
		if cfg.FrontendByName(name) == nil {
			c.add(fmt.Sprintf("bgp.track.frontends[%d]", i), "frontend %q does not exist", name)
		}
	}
	for i, name := range b.Track.Backends {
		if cfg.BackendByName(name) == nil {
			c.add(fmt.Sprintf("bgp.track.backends[%d]", i), "backend %q does not exist", name)
		}
	}
	for i, name := range b.Track.Interfaces {
		if name == "" {
			c.add(fmt.Sprintf("bgp.track.interfaces[%d]", i), "needs an interface name")
		}
	}
}
