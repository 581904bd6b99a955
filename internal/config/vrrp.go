package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// VRRP holds the VRRP instances of this node (keepalived's vrrp_instance).
type VRRP struct {
	Instances []VRRPInstance `mapstructure:"instances" yaml:"instances,omitempty"`
}

// VRRPInstance is one virtual router: a VRID on an interface with its VIPs.
type VRRPInstance struct {
	Name      string `mapstructure:"name" yaml:"name"`
	Interface string `mapstructure:"interface" yaml:"interface"`
	// VRID is virtual_router_id, 1..255; both nodes use the same one.
	VRID int `mapstructure:"virtual_router_id" yaml:"virtual_router_id"`
	// Priority 1..255; 255 means this node owns the VIPs. Default 100.
	Priority int `mapstructure:"priority" yaml:"priority,omitempty"`
	// AdvertInterval: 10ms..40s for v3 (centisecond steps), whole seconds
	// for v2. Default 1s.
	AdvertInterval time.Duration `mapstructure:"advert_interval" yaml:"advert_interval,omitempty"`
	// Version is 3 (RFC 5798, default) or 2 (RFC 3768).
	Version int `mapstructure:"version" yaml:"version,omitempty"`
	// Preempt: a higher-priority backup takes over from a lower master.
	// Default true (keepalived's nopreempt sets it false).
	Preempt      *bool         `mapstructure:"preempt" yaml:"preempt,omitempty"`
	PreemptDelay time.Duration `mapstructure:"preempt_delay" yaml:"preempt_delay,omitempty"`
	// AuthPass is the VRRPv2 simple password (at most 8 bytes).
	AuthPass string `mapstructure:"auth_pass" yaml:"auth_pass,omitempty"`
	// UnicastSrc and UnicastPeers switch from multicast to unicast adverts.
	UnicastSrc   string   `mapstructure:"unicast_src" yaml:"unicast_src,omitempty"`
	UnicastPeers []string `mapstructure:"unicast_peers" yaml:"unicast_peers,omitempty"`
	VIPs         []VIP    `mapstructure:"vips" yaml:"vips"`
	Track        Track    `mapstructure:"track" yaml:"track,omitempty"`
	Notify       Notify   `mapstructure:"notify" yaml:"notify,omitempty"`
	GARP         GARP     `mapstructure:"garp" yaml:"garp,omitempty"`
	// StrictChecksum: IPv4 VRRPv3 only. false (default) computes the checksum
	// over an IPv4 pseudo-header as keepalived and FRR do by default; true
	// leaves the pseudo-header out as RFC 9568, Cisco and Juniper do
	// (keepalived's v3_checksum_as_v2). Either form is accepted on receive.
	// See docs/vrrp.md.
	StrictChecksum bool `mapstructure:"strict_checksum" yaml:"strict_checksum,omitempty"`
}

// VIP is one virtual address: "10.10.0.100/24" (prefix optional: /32 or /128).
type VIP struct {
	Address string `mapstructure:"address" yaml:"address"`
	// Label is the interface label (eth0:vip) shown by ifconfig; optional.
	Label string `mapstructure:"label" yaml:"label,omitempty"`
	// Interface overrides the instance's interface for this VIP.
	Interface string `mapstructure:"interface" yaml:"interface,omitempty"`
}

// Track lists what lowers this node's priority (Weight < 0) or puts the
// instance in FAULT (Weight 0) when it fails.
type Track struct {
	Interfaces []TrackItem `mapstructure:"interfaces" yaml:"interfaces,omitempty"`
	// Backends: fails when the named backend has no usable server.
	Backends []TrackItem `mapstructure:"backends" yaml:"backends,omitempty"`
	// Frontends: fails when the named frontend cannot accept connections.
	Frontends []TrackItem `mapstructure:"frontends" yaml:"frontends,omitempty"`
}

// TrackItem names one tracked object and the priority change when it fails.
type TrackItem struct {
	Name   string `mapstructure:"name" yaml:"name"`
	Weight int    `mapstructure:"weight" yaml:"weight,omitempty"`
}

// Notify holds commands run on transitions (keepalived notify_*). Each is
// run without a shell: split on spaces, with instance name and state appended.
type Notify struct {
	Master string `mapstructure:"master" yaml:"master,omitempty"`
	Backup string `mapstructure:"backup" yaml:"backup,omitempty"`
	Fault  string `mapstructure:"fault" yaml:"fault,omitempty"`
	Stop   string `mapstructure:"stop" yaml:"stop,omitempty"`
}

// GARP tunes gratuitous ARP / unsolicited NA on becoming master
// (keepalived garp_master_*).
type GARP struct {
	// MasterDelay: second burst after this delay; default 5s; 0s disables.
	MasterDelay *time.Duration `mapstructure:"master_delay" yaml:"master_delay,omitempty"`
	// MasterRepeat: packets per burst; default 5.
	MasterRepeat int `mapstructure:"master_repeat" yaml:"master_repeat,omitempty"`
	// MasterRefresh: periodic refresh while master; 0 disables (default).
	MasterRefresh time.Duration `mapstructure:"master_refresh" yaml:"master_refresh,omitempty"`
	// Reply also sends the ARP reply form of the announcement.
	Reply bool `mapstructure:"reply" yaml:"reply,omitempty"`
}

// ParseVIP parses a VIP address: "10.10.0.100/24", or a bare address as a
// /32 or /128. The address is kept as written (not masked); an
// IPv4-mapped IPv6 address is taken as the IPv4 address it maps. Validation
// and the daemon's mapping both use it, so they never disagree.
func ParseVIP(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix /%d is shorter than /96", p.Bits())
		}
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), nil
	}
	return p, nil
}
