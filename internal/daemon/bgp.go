package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lbd-ha/lbd/bgp"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/vip"
)

// bgpRuntime is the BGP speaker of a runtime (nil when bgp is not
// configured).
type bgpRuntime struct {
	ctl    *bgp.Controller
	drain  time.Duration
	cancel context.CancelFunc
	done   chan struct{}
}

// errBGPRestart explains why a reload that changes bgp is refused.
var errBGPRestart = errors.New("the bgp section changed: BGP is not reloaded in place (restart lbd: it withdraws, drains and announces again); nothing was changed")

// bgpOptions turns the validated config into the engine's options.
func bgpOptions(b *config.BGP) (bgp.Options, error) {
	o := bgp.Options{ASN: b.ASN, ListenPort: int32(b.ListenPort), MED: b.MED, GracefulRestart: b.GracefulRestart}
	var err error
	if o.RouterID, err = netip.ParseAddr(b.RouterID); err != nil {
		return o, fmt.Errorf("bgp.router_id: %w", err)
	}
	for _, s := range b.Prefixes {
		p, err := config.BGPPrefix(s)
		if err != nil {
			return o, err
		}
		o.Prefixes = append(o.Prefixes, p)
	}
	for _, s := range b.Communities {
		c, err := config.BGPCommunity(s)
		if err != nil {
			return o, err
		}
		o.Communities = append(o.Communities, c)
	}
	for _, n := range b.Neighbors {
		a, err := netip.ParseAddr(n.Address)
		if err != nil {
			return o, fmt.Errorf("bgp neighbor %q: %w", n.Address, err)
		}
		nb := bgp.Neighbor{Address: a, ASN: n.ASN, Port: uint16(n.Port), Password: n.Password,
			HoldTime: n.HoldTime, Keepalive: n.Keepalive, ConnectRetry: n.ConnectRetry}
		if n.Port == 179 {
			nb.Port = 0
		}
		if n.BFD != nil {
			nb.BFD = &bgp.BFD{MinTx: n.BFD.MinTx, MinRx: n.BFD.MinRx, Multiplier: uint32(n.BFD.Multiplier)}
		}
		o.Neighbors = append(o.Neighbors, nb)
	}
	return o, nil
}

// startBGP puts the VIPs on their interface, starts the speaker and the
// tracking that decides whether to announce. An unreachable router does not
// block: GoBGP keeps retrying. resumed: this process took over from
// another (binary upgrade), which graceful restart tells the routers.
func (rt *runtime) startBGP(cfg *config.Config, resumed bool) error {
	b := cfg.BGP
	if b == nil {
		return nil
	}
	o, err := bgpOptions(b)
	if err != nil {
		return err
	}
	if b.Interface != "none" {
		if err := addBGPVIPs(b.Interface, o.Prefixes); err != nil {
			return err
		}
	}
	o.Logger = rt.d.log.With("component", "bgp")
	o.Restarting = resumed
	ctl := bgp.New(o, bgp.NewGoBGP())
	ctx, cancel := context.WithCancel(context.Background())
	if err := ctl.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("bgp: %w", err)
	}
	br := &bgpRuntime{ctl: ctl, drain: *b.Drain, cancel: cancel, done: make(chan struct{})}
	rt.bgp.Store(br)
	rt.trackBGP()
	go func() {
		defer close(br.done)
		t := time.NewTicker(trackInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rt.trackBGP()
			}
		}
	}()
	return nil
}

// addBGPVIPs adds the VIPs to ifname, creating it as a dummy interface when
// it does not exist.
func addBGPVIPs(ifname string, ps []netip.Prefix) error {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		l = &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: ifname}}
		if err := netlink.LinkAdd(l); err != nil {
			return fmt.Errorf("bgp: creating dummy interface %s for the VIPs: %w", ifname, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("bgp: bringing %s up: %w", ifname, err)
	}
	m := vip.NewNetlink()
	for _, p := range ps {
		if err := m.Add(context.Background(), vip.Address{Prefix: p, Interface: ifname}); err != nil {
			return fmt.Errorf("bgp: %w", err)
		}
	}
	return nil
}

// trackBGP feeds the speaker the same signals VRRP tracking uses.
func (rt *runtime) trackBGP() {
	br := rt.bgp.Load()
	if br == nil {
		return
	}
	br.ctl.SetHealth(rt.bgpCanServe(rt.d.Config()))
}

// bgpCanServe reports whether this node can serve, and if not why: the
// tracked frontends accept, the tracked backends have a usable server (as
// the proxy sees it: health and admin state), the
// tracked interfaces are up. Nothing tracked: every frontend and its
// default_backend.
func (rt *runtime) bgpCanServe(cfg *config.Config) (bool, string) {
	if cfg.BGP == nil || rt.engine == nil {
		return false, "not running"
	}
	tr := cfg.BGP.Track
	fes, bes := tr.Frontends, tr.Backends
	if len(fes)+len(bes)+len(tr.Interfaces) == 0 {
		for _, f := range cfg.Frontends {
			fes = append(fes, f.Name)
			if f.DefaultBackend != "" {
				bes = append(bes, f.DefaultBackend)
			}
		}
	}
	for _, name := range fes {
		if !rt.engine.FrontendServing(name) {
			return false, "frontend " + name + " is not serving"
		}
	}
	for _, name := range bes {
		if !rt.engine.BackendUsable(name) {
			return false, "backend " + name + " has no usable server"
		}
	}
	for _, name := range tr.Interfaces {
		if !linkUp(name) {
			return false, "interface " + name + " is down"
		}
	}
	return true, ""
}

// drainBGP withdraws before a stop and, if routes were announced, keeps
// serving for bgp.drain while the routers converge.
func (rt *runtime) drainBGP() {
	br := rt.bgp.Load()
	if br == nil {
		return
	}
	br.cancel()
	<-br.done
	if br.ctl.Drain() && br.drain > 0 {
		rt.d.log.Info("bgp: withdrawn, draining before closing the listeners", "drain", br.drain)
		time.Sleep(br.drain)
	}
}

// detachBGP leaves the routes to the new process of a binary upgrade:
// the sessions close without withdrawing (with bgp.graceful_restart the
// routers keep the routes until the new process announces them).
func (rt *runtime) detachBGP() {
	br := rt.bgp.Swap(nil)
	if br == nil {
		return
	}
	br.cancel()
	<-br.done
	br.ctl.Detach()
}

// stopBGP closes the sessions (a NOTIFICATION Cease each).
func (rt *runtime) stopBGP() {
	br := rt.bgp.Swap(nil)
	if br == nil {
		return
	}
	br.cancel()
	<-br.done
	br.ctl.Stop()
}

// BGPWithdraw implements control.BGPBackend: lbctl bgp withdraw.
func (d *Daemon) BGPWithdraw(who string) error { return d.bgpAdmin(true, who) }

// BGPResume implements control.BGPBackend: lbctl bgp resume.
func (d *Daemon) BGPResume(who string) error { return d.bgpAdmin(false, who) }

func (d *Daemon) bgpAdmin(withdraw bool, who string) error {
	rt := d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	br := rt.bgp.Load()
	if br == nil {
		return &control.NotFoundError{Msg: "bgp is not configured"}
	}
	br.ctl.SetAdminWithdrawn(withdraw)
	if withdraw {
		d.log.Info("bgp withdraw: routes withdrawn until `lbctl bgp resume`", "by", who)
	} else {
		d.log.Info("bgp resume: routes announced while tracking allows", "by", who)
	}
	return nil
}

// fillBGP adds the bgp section to a status snapshot.
func (rt *runtime) fillBGP(st *control.Status) {
	if br := rt.bgp.Load(); br != nil {
		s := br.ctl.Status()
		st.BGP = &s
	}
}
