package vrrp

import (
	"maps"
	"slices"
	"time"
)

// Status is a snapshot of one instance, as lbctl status shows it.
type Status struct {
	Name      string
	Interface string
	VRID      uint8
	Version   int
	// State is INIT, BACKUP, MASTER or FAULT.
	State string
	// BasePriority is the configured priority; EffectivePriority the one
	// the instance runs with now (tracking, handover).
	BasePriority, EffectivePriority int
	// MasterIP is the master's address as last heard (ours when master);
	// empty when unknown.
	MasterIP string
	// AdvertInterval is the Master_Adver_Interval in use (learned from the
	// master in v3).
	AdvertInterval time.Duration
	// VIPs are the instance's addresses with their prefix.
	VIPs []string
	// VIPsHeld: every VIP was added when the instance became master.
	VIPsHeld bool
	// HandedOver: an operator handover is in force (see Node.Handover).
	HandedOver bool
	// LastTransition is when the state last changed; zero before the
	// first; LastReason says why.
	LastTransition time.Time
	LastReason     string
	// Transitions counts state changes.
	Transitions uint64
	// AdvertsRx and AdvertsTx count valid adverts received and adverts
	// sent.
	AdvertsRx, AdvertsTx uint64
	// Drops counts dropped packets by reason (DropTTL, DropVRID, ...).
	Drops map[string]uint64
}

// Status returns a snapshot for lbctl status.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.st
	s.VIPs = slices.Clone(s.VIPs)
	s.Drops = maps.Clone(n.st.Drops)
	if s.Drops == nil {
		s.Drops = map[string]uint64{}
	}
	return s
}

// syncStatus copies the machine's view into the status snapshot.
func (n *Node) syncStatus() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.state = n.m.State()
	n.st.State = n.state.String()
	n.st.EffectivePriority = n.m.Priority()
	n.st.HandedOver = n.m.HandedOver()
	n.st.AdvertInterval = n.m.MasterAdverInterval()
	n.st.MasterIP = ""
	if a := n.m.Master(); a.IsValid() {
		n.st.MasterIP = a.String()
	}
}
