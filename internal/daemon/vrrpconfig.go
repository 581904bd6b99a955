package daemon

import (
	"net/netip"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/vip"
	"github.com/lbd-ha/lbd/vrrp"
)

// vrrpInstance maps one loaded instance onto the VRRP node's options.
// config.Load has filled the defaults (version, priority, interval,
// preempt, GARP) and checked every range, address and family, so the
// parse errors below cannot happen.
func vrrpInstance(in config.VRRPInstance) vrrp.InstanceConfig {
	c := vrrp.InstanceConfig{
		Name:           in.Name,
		Interface:      in.Interface,
		VRID:           uint8(in.VRID),
		Version:        in.Version,
		Priority:       in.Priority,
		Interval:       in.AdvertInterval,
		Preempt:        config.True(in.Preempt),
		PreemptDelay:   in.PreemptDelay,
		AuthPass:       in.AuthPass,
		StrictChecksum: in.StrictChecksum,
		Notify: vrrp.NotifyCommands{
			Master: in.Notify.Master, Backup: in.Notify.Backup, Fault: in.Notify.Fault, Stop: in.Notify.Stop,
		},
		GARP: vrrp.GARPSchedule{Repeat: in.GARP.MasterRepeat, Refresh: in.GARP.MasterRefresh},
	}
	if in.GARP.MasterDelay != nil {
		c.GARP.Delay = *in.GARP.MasterDelay
	}
	for _, v := range in.VIPs {
		p, _ := config.ParseVIP(v.Address)
		ifname := v.Interface
		if ifname == "" {
			ifname = in.Interface
		}
		c.VIPs = append(c.VIPs, vip.Address{Prefix: p, Interface: ifname, Label: v.Label})
	}
	if a, err := netip.ParseAddr(in.UnicastSrc); err == nil {
		c.UnicastSrc = a.Unmap()
	}
	for _, s := range in.UnicastPeers {
		if a, err := netip.ParseAddr(s); err == nil {
			c.UnicastPeers = append(c.UnicastPeers, a.Unmap())
		}
	}
	for _, k := range []struct {
		kind  string
		items []config.TrackItem
	}{{"interface", in.Track.Interfaces}, {"backend", in.Track.Backends}, {"frontend", in.Track.Frontends}} {
		for _, t := range k.items {
			c.Tracks = append(c.Tracks, vrrp.Track{Kind: k.kind, Name: t.Name, Weight: t.Weight})
		}
	}
	return c
}

// vrrpStatus maps a node's status onto what lbctl status serves.
func vrrpStatus(s vrrp.Status) control.VRRPStatus {
	return control.VRRPStatus{
		Name: s.Name, Interface: s.Interface, VRID: int(s.VRID), Version: s.Version, State: s.State,
		BasePriority: s.BasePriority, EffectivePriority: s.EffectivePriority, MasterIP: s.MasterIP,
		AdvertInterval: s.AdvertInterval, VIPs: s.VIPs, VIPsHeld: s.VIPsHeld, HandedOver: s.HandedOver,
		LastTransition: s.LastTransition, LastReason: s.LastReason, Transitions: s.Transitions,
		AdvertsRx: s.AdvertsRx, AdvertsTx: s.AdvertsTx, Drops: s.Drops,
	}
}
