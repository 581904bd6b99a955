package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a VRRP instance state.
type State int

const (
	_ State = iota
	// Init: not started, or stopped.
	Init
	// Backup: listening for the master's adverts.
	Backup
	// Master: sending adverts and holding the VIPs.
	Master
	// Fault: a tracked object with weight 0 failed; the instance neither
	// sends adverts nor holds VIPs.
	Fault
)

var stateNames = [...]string{Init: "INIT", Backup: "BACKUP", Master: "MASTER", Fault: "FAULT"}

// String returns the name lbctl shows: INIT, BACKUP, MASTER or FAULT.
func (s State) String() string {
	if s > 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// An Event is an input to Machine.Handle.
type Event interface{ isEvent() }

// Startup starts the instance (Init -> Backup, Master or Fault).
type Startup struct {
	// Resume is the state the previous lbd process left this instance in
	// when it handed over to this one (binary upgrade; zero: a fresh
	// start). Master resumes as master at once, so the VIP stays where it
	// is and the peers never miss an advert long enough to take over.
	Resume State
}

// Shutdown stops the instance: a master resigns with priority 0.
type Shutdown struct {
	// Detach stops without a word to the peers and keeps the VIPs: the
	// new lbd process of a binary upgrade resumes the instance.
	Detach bool
}

// AdvertReceived is a valid advert (it passed Decode) from Src.
type AdvertReceived struct {
	Src      netip.Addr
	Priority uint8
	// Interval is the sender's advert interval (v3 Max Adver Int).
	Interval time.Duration
}

// Timer tells the machine its deadline may have passed. A Timer before
// Deadline() does nothing, so spurious wake-ups are harmless.
type Timer struct{}

// TrackChange carries the effective priority computed from the tracked
// objects, and whether one with weight 0 failed (Fault).
type TrackChange struct {
	Priority int
	Fault    bool
}

// AdminHandover asks a master to step down (priority-0 advert) and the node
// to stay out of the way until AdminResume; see Machine for the details.
type AdminHandover struct{}

// AdminResume ends a handover.
type AdminResume struct{}

func (Startup) isEvent()        {}
func (Shutdown) isEvent()       {}
func (AdvertReceived) isEvent() {}
func (Timer) isEvent()          {}
func (TrackChange) isEvent()    {}
func (AdminHandover) isEvent()  {}
func (AdminResume) isEvent()    {}

// An Action is an output of Machine.Handle, executed in order by the driver.
type Action interface{ isAction() }

// SendAdvert sends one advertisement with this priority.
type SendAdvert struct{ Priority uint8 }

// AddVIPs puts the instance's VIPs on their interfaces.
type AddVIPs struct{}

// RemoveVIPs takes the VIPs off and stops any announcement schedule.
type RemoveVIPs struct{}

// SendGARP starts the announcement schedule (gratuitous ARP / unsolicited
// NA: a burst, a second burst later, optional refresh).
type SendGARP struct{}

// Notify reports a transition: To is the new state, Init meaning "stopped".
type Notify struct {
	From, To State
	Reason   string
}

func (SendAdvert) isAction() {}
func (AddVIPs) isAction()    {}
func (RemoveVIPs) isAction() {}
func (SendGARP) isAction()   {}
func (Notify) isAction()     {}

// String renders an action for logs and test diffs.
func (a SendAdvert) String() string { return fmt.Sprintf("advert(prio %d)", a.Priority) }
func (AddVIPs) String() string      { return "add-vips" }
func (RemoveVIPs) String() string   { return "remove-vips" }
func (SendGARP) String() string     { return "garp" }
func (a Notify) String() string     { return "notify(" + a.To.String() + ")" }
