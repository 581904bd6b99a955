package bgp

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Options configure a BGP speaker.
type Options struct {
	// ASN is the local autonomous system number.
	ASN uint32
	// RouterID is the BGP identifier (an IPv4 address).
	RouterID netip.Addr
	// ListenPort is the TCP port to accept sessions on; 0 does not listen
	// (lbd connects out to every neighbour).
	ListenPort int32
	Neighbors  []Neighbor
	// Prefixes are announced while the node can serve (VIPs as /32, /128).
	Prefixes []netip.Prefix
	// Communities are standard communities (high<<16 | low).
	Communities []uint32
	// MED, when set, is sent as MULTI_EXIT_DISC.
	MED *uint32
	// GracefulRestart > 0 negotiates BGP graceful restart (RFC 4724) with
	// this restart time: a session closed by Detach (binary upgrade) or
	// lost without a NOTIFICATION keeps its routes at the routers, marked
	// stale, until the new process re-announces them or the time runs out.
	GracefulRestart time.Duration
	// Restarting marks this speaker as the new process of a graceful
	// restart (binary upgrade).
	Restarting bool
	// Logger receives session changes; nil discards.
	Logger *slog.Logger
}

// Neighbor is one BGP peer (a router).
type Neighbor struct {
	Address netip.Addr
	ASN     uint32
	// Port is the peer's TCP port; 0 means 179.
	Port uint16
	// Password enables TCP MD5 signatures (RFC 2385); empty: none.
	Password string
	// HoldTime, Keepalive and ConnectRetry: 0 means GoBGP's defaults
	// (90 s, 30 s, 120 s).
	HoldTime, Keepalive, ConnectRetry time.Duration
	// BFD enables bidirectional forwarding detection; nil: timers only.
	BFD *BFD
}

// BFD is the per-neighbour BFD setting (RFC 5880, single hop).
type BFD struct {
	MinTx, MinRx time.Duration
	Multiplier   uint32
}

// Status is the BGP section of lbctl status and /metrics.
type Status struct {
	ASN      uint32 `json:"asn"`
	RouterID string `json:"router_id"`
	// Announced: the prefixes are offered to the neighbours now.
	Announced bool     `json:"announced"`
	Prefixes  []string `json:"prefixes"`
	// Healthy is the tracking verdict; Reason says why not.
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
	// AdminWithdrawn: lbctl bgp withdraw is in force.
	AdminWithdrawn bool `json:"admin_withdrawn"`
	// Draining: the node is stopping and has withdrawn.
	Draining bool `json:"draining,omitempty"`
	// Changes counts announce/withdraw transitions.
	Changes   uint64           `json:"changes"`
	LastError string           `json:"last_error,omitempty"`
	Neighbors []NeighborStatus `json:"neighbors"`
}

// NeighborStatus is one session as the speaker sees it.
type NeighborStatus struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is the FSM state: idle, connect, active, opensent,
	// openconfirm, established.
	State string `json:"state"`
	// Since is when the session became established (zero if it is not).
	Since time.Time `json:"since,omitzero"`
	// Flaps counts established sessions that went down.
	Flaps uint32 `json:"flaps"`
	// Notifications received from and sent to the peer (refused OPENs,
	// malformed updates, hold timer expiry ...).
	NotificationsIn  uint64 `json:"notifications_in"`
	NotificationsOut uint64 `json:"notifications_out"`
	UpdatesIn        uint64 `json:"updates_in"`
	UpdatesOut       uint64 `json:"updates_out"`
	// LastDown is the last disconnect reason, if any.
	LastDown string `json:"last_down,omitempty"`
	BFD      string `json:"bfd,omitempty"`
}

// Speaker is the BGP side effect: a running BGP instance that can offer and
// take back prefixes.
type Speaker interface {
	// Start brings the instance up and configures the neighbours; it does
	// not wait for sessions (an unreachable neighbour does not block).
	Start(ctx context.Context, o Options) error
	Announce(ctx context.Context, prefixes []netip.Prefix) error
	Withdraw(ctx context.Context, prefixes []netip.Prefix) error
	Neighbors(ctx context.Context) []NeighborStatus
	// Stop closes every session (NOTIFICATION Cease) and the instance.
	Stop()
	// Detach closes the sessions without a NOTIFICATION so that routers
	// that negotiated graceful restart keep the routes (binary upgrade).
	Detach()
}

// ShouldAnnounce is the whole policy: announce iff tracking says this node
// can serve, no operator withdrew it, and it is not stopping.
func ShouldAnnounce(healthy, adminWithdrawn, draining bool) bool {
	return healthy && !adminWithdrawn && !draining
}

// Controller applies ShouldAnnounce to a Speaker. It starts unhealthy:
// nothing is announced until the first SetHealth(true).
type Controller struct {
	sp   Speaker
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	healthy   bool
	reason    string
	admin     bool
	draining  bool
	detached  bool // the routes belong to the next process now
	announced bool
	changes   uint64
	lastErr   string
}

// New returns a controller for o driving sp.
func New(o Options, sp Speaker) *Controller {
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Controller{sp: sp, opts: o, log: lg, reason: "not evaluated yet"}
}

// Start starts the speaker.
func (c *Controller) Start(ctx context.Context) error {
	return c.sp.Start(ctx, c.opts)
}

// SetHealth feeds the tracking verdict; reason explains a false one.
// Called often (every tracking sample); it only acts on a change or to
// retry a failed one.
func (c *Controller) SetHealth(ok bool, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		reason = ""
	}
	if ok != c.healthy || reason != c.reason {
		c.log.Info("bgp tracking", "can_serve", ok, "reason", reason)
	}
	c.healthy, c.reason = ok, reason
	c.apply()
}

// SetAdminWithdrawn records lbctl bgp withdraw (true) or resume (false).
func (c *Controller) SetAdminWithdrawn(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.admin = on
	c.apply()
}

// Drain withdraws for good before a stop; it reports whether anything was
// announced (the caller then waits for the routers to converge).
func (c *Controller) Drain() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.announced
	c.draining = true
	c.apply()
	return was
}

// Detach hands the routes over to the next process (binary upgrade): the
// sessions close without withdrawing, and with graceful restart the
// routers keep the routes until the new process announces them.
func (c *Controller) Detach() {
	c.mu.Lock()
	c.detached = true // never change the routes from this process again
	c.mu.Unlock()
	c.sp.Detach()
}

// Stop withdraws and closes the speaker.
func (c *Controller) Stop() {
	c.Drain()
	c.sp.Stop()
}

// apply moves the speaker to the decided state; c.mu is held. A failed
// call is retried on the next SetHealth.
func (c *Controller) apply() {
	want := ShouldAnnounce(c.healthy, c.admin, c.draining)
	if want == c.announced || c.detached {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if want {
		err = c.sp.Announce(ctx, c.opts.Prefixes)
	} else {
		err = c.sp.Withdraw(ctx, c.opts.Prefixes)
	}
	if err != nil {
		c.lastErr = err.Error()
		c.log.Error("bgp update failed", "announce", want, "error", err)
		return
	}
	c.announced = want
	c.changes++
	c.lastErr = ""
	if want {
		c.log.Info("bgp: announcing", "prefixes", c.opts.Prefixes)
	} else {
		c.log.Warn("bgp: withdrawn", "prefixes", c.opts.Prefixes, "reason", c.whyLocked())
	}
}

func (c *Controller) whyLocked() string {
	switch {
	case c.draining:
		return "stopping"
	case c.admin:
		return "lbctl bgp withdraw"
	case !c.healthy:
		return c.reason
	}
	return ""
}

// Status returns a snapshot, neighbours included.
func (c *Controller) Status() Status {
	c.mu.Lock()
	st := Status{
		ASN:            c.opts.ASN,
		RouterID:       c.opts.RouterID.String(),
		Announced:      c.announced,
		Healthy:        c.healthy,
		Reason:         c.reason,
		AdminWithdrawn: c.admin,
		Draining:       c.draining,
		Changes:        c.changes,
		LastError:      c.lastErr,
	}
	c.mu.Unlock()
	for _, p := range c.opts.Prefixes {
		st.Prefixes = append(st.Prefixes, p.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st.Neighbors = c.sp.Neighbors(ctx)
	if st.Neighbors == nil {
		st.Neighbors = []NeighborStatus{}
	}
	slices.SortFunc(st.Neighbors, func(a, b NeighborStatus) int {
		switch {
		case a.Address < b.Address:
			return -1
		case a.Address > b.Address:
			return 1
		}
		return 0
	})
	return st
}
