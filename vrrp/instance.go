package vrrp

import (
	"errors"
	"net/netip"
	"time"

	"github.com/lbd-ha/lbd/vip"
)

// InstanceConfig is one VRRP instance as a Node runs it (keepalived's
// vrrp_instance). NewNode trusts it: lbd's config loader fills the defaults
// and checks the ranges (with file:line); the Node only refuses what would
// break it (no VIPs, and the Machine's invariants, MachineConfig.Validate).
type InstanceConfig struct {
	// Name identifies the instance in logs and status, and is the first
	// argument of the notify commands.
	Name string
	// Interface carries the adverts.
	Interface string
	// VRID is the virtual router id; both nodes use the same one.
	VRID uint8
	// Version is 2 (RFC 3768) or 3 (RFC 5798).
	Version int
	// Priority is the base priority, 1..255 (255: the address owner).
	Priority int
	// Interval is the advert interval: 10ms..40.95s in 10ms steps for v3,
	// whole seconds 1s..255s for v2.
	Interval time.Duration
	// Preempt lets this node, as a backup, take over from a lower-priority
	// master; false is keepalived's nopreempt.
	Preempt bool
	// PreemptDelay postpones such a preemption (not a takeover from a dead
	// master); 0: none.
	PreemptDelay time.Duration
	// AuthPass is the VRRPv2 simple password, at most MaxAuthPass bytes;
	// empty: no authentication.
	AuthPass string
	// VIPs are the addresses the master holds and the adverts carry: at
	// least one, at most MaxAddrs, all of one family, each with its
	// interface set.
	VIPs []vip.Address
	// UnicastSrc is the source address of the adverts; invalid (the zero
	// Addr): the interface's primary address of the VIPs' family.
	UnicastSrc netip.Addr
	// UnicastPeers, when set, replace the multicast group: adverts go to
	// each peer and are accepted only from them.
	UnicastPeers []netip.Addr
	// StrictChecksum sends IPv4 VRRPv3 checksums without the pseudo-header
	// (RFC 9568, Cisco, Juniper); false includes it (keepalived, FRR).
	// Either form is accepted on receive.
	StrictChecksum bool
	// Tracks lists the tracked objects; see Node.SetTrack.
	Tracks []Track
	// Notify holds the commands run on transitions.
	Notify NotifyCommands
	// GARP is the gratuitous ARP / unsolicited NA schedule on becoming
	// master.
	GARP GARPSchedule
}

// Track is one tracked object. Kind/Name is the qualified name SetTrack
// takes.
type Track struct {
	// Kind is interface, backend or frontend.
	Kind string
	// Name is the object's name (eth0, a backend or frontend name).
	Name string
	// Weight 0 puts the instance in FAULT while the object fails; a
	// negative weight is subtracted from the priority while it fails, a
	// positive one added while it is up.
	Weight int
}

// NotifyCommands are the commands run on transitions (keepalived's
// notify_master, notify_backup, notify_fault, notify_stop). Each is split
// on spaces and run without a shell, with the instance name and the new
// state (MASTER, BACKUP, FAULT, STOP) appended; empty: none.
type NotifyCommands struct {
	Master, Backup, Fault, Stop string
}

// GARPSchedule says how a new master announces its VIPs (keepalived's
// garp_master_*): a burst of Repeat rounds at once, another after Delay,
// then one round every Refresh.
type GARPSchedule struct {
	// Repeat is the rounds per burst; 0 sends nothing.
	Repeat int
	// Delay is when the second burst goes; 0: no second burst.
	Delay time.Duration
	// Refresh is the period of the announcements while master; 0: none.
	Refresh time.Duration
}

// errNoVIPs: a Node needs at least one VIP (it gives the address family).
var errNoVIPs = errors.New("no VIPs")

// machineConfig is what the state machine needs; local is the tie-break
// address.
func (c *InstanceConfig) machineConfig(local netip.Addr) MachineConfig {
	return MachineConfig{
		Version:      c.Version,
		Priority:     c.Priority,
		Interval:     c.Interval,
		Preempt:      c.Preempt,
		PreemptDelay: c.PreemptDelay,
		LocalAddr:    local,
	}
}

// ipv6 reports whether the instance carries IPv6 VIPs.
func (c *InstanceConfig) ipv6() bool { return c.VIPs[0].Prefix.Addr().Is6() }

// dialConfig is the socket the instance needs.
func (c *InstanceConfig) dialConfig() DialConfig {
	dc := DialConfig{Interface: c.Interface, IPv6: c.ipv6(), Unicast: len(c.UnicastPeers) > 0, VRID: c.VRID, Src: c.UnicastSrc}
	for _, v := range c.VIPs {
		dc.Exclude = append(dc.Exclude, v.Prefix.Addr())
	}
	return dc
}

// destinations are where adverts go: the unicast peers, or the group.
func (c *InstanceConfig) destinations() []netip.Addr {
	if len(c.UnicastPeers) > 0 {
		return c.UnicastPeers
	}
	if c.ipv6() {
		return []netip.Addr{Group6}
	}
	return []netip.Addr{Group4}
}

// expect is what received adverts must match.
func (c *InstanceConfig) expect() Expect {
	// Receive either IPv4 v3 checksum form; send the configured one.
	return Expect{VRID: c.VRID, Version: c.Version, Interval: c.Interval, AuthPass: c.AuthPass,
		Checksum: ChecksumAny, Peers: c.UnicastPeers}
}

// sendMode is the checksum form of sent adverts.
func (c *InstanceConfig) sendMode() ChecksumMode {
	if c.StrictChecksum {
		return ChecksumNoPseudoHeader
	}
	return ChecksumPseudoHeader
}
