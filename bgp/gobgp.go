package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gbgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// GoBGP is the Speaker backed by an embedded GoBGP server. Its own logs go
// to the logger at warning level and above (refused OPENs, malformed
// updates, MD5 failures show up there and in the neighbour counters).
type GoBGP struct {
	mu   sync.Mutex
	s    *server.BgpServer
	o    Options
	stop context.CancelFunc
}

// NewGoBGP returns an unstarted GoBGP speaker.
func NewGoBGP() *GoBGP { return &GoBGP{} }

// Start implements Speaker: it starts the server and adds the neighbours
// without waiting for any session.
func (g *GoBGP) Start(ctx context.Context, o Options) (err error) {
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelWarn)
	glog := slog.New(minLevel{lvl, lg.Handler()}).With("component", "gobgp")
	s := server.NewBgpServer(server.LoggerOption(glog, lvl))
	go s.Serve()
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	port := o.ListenPort
	if port == 0 {
		port = -1
	}
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        o.ASN,
		RouterId:   o.RouterID.String(),
		ListenPort: port,
	}}); err != nil {
		return fmt.Errorf("starting bgp: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	if err := s.WatchEvent(wctx, server.WatchEventMessageCallbacks{
		OnPeerUpdate: func(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) {
			if ev.Type != apiutil.PEER_EVENT_STATE {
				return
			}
			st := ev.Peer.State
			args := []any{"neighbor", st.NeighborAddress.String(), "state", fsmName(st.SessionState)}
			if st.SessionState != gbgp.BGP_FSM_ESTABLISHED && st.DisconnectMessage != "" {
				args = append(args, "reason", st.DisconnectMessage)
			}
			lg.Info("bgp session", args...)
		},
	}, server.WatchPeer()); err != nil {
		cancel()
		return fmt.Errorf("watching bgp sessions: %w", err)
	}
	v6 := false
	for _, p := range o.Prefixes {
		if p.Addr().Is6() {
			v6 = true
		}
	}
	for _, n := range o.Neighbors {
		if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(n, v6, o)}); err != nil {
			cancel()
			return fmt.Errorf("adding neighbor %s: %w", n.Address, err)
		}
	}
	g.mu.Lock()
	g.s, g.o, g.stop = s, o, cancel
	g.mu.Unlock()
	return nil
}

func peerConf(n Neighbor, v6 bool, o Options) *api.Peer {
	gr := o.GracefulRestart > 0
	fam := func(afi api.Family_Afi) *api.AfiSafi {
		f := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}, Enabled: true}}
		if gr {
			f.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
		return f
	}
	fams := []*api.AfiSafi{fam(api.Family_AFI_IP)}
	if v6 {
		fams = append(fams, fam(api.Family_AFI_IP6))
	}
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			AuthPassword:    n.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          uint64(n.HoldTime / time.Second),
			KeepaliveInterval: uint64(n.Keepalive / time.Second),
			ConnectRetry:      uint64(n.ConnectRetry / time.Second),
		}},
		AfiSafis: fams,
	}
	if gr {
		p.GracefulRestart = &api.GracefulRestart{
			Enabled:         true,
			RestartTime:     uint32(o.GracefulRestart / time.Second),
			LocalRestarting: o.Restarting,
		}
	}
	if n.Port != 0 {
		p.Transport = &api.Transport{RemotePort: uint32(n.Port)}
	}
	if n.BFD != nil {
		p.Bfd = &api.BfdPeerConfig{
			Enabled:                  true,
			DesiredMinimumTxInterval: uint32(n.BFD.MinTx / time.Microsecond),
			RequiredMinimumReceive:   uint32(n.BFD.MinRx / time.Microsecond),
			DetectionMultiplier:      n.BFD.Multiplier,
		}
	}
	return p
}

var errNotStarted = errors.New("bgp speaker not started")

func (g *GoBGP) server() (*server.BgpServer, Options) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.s, g.o
}

// paths builds one path per prefix with the configured attributes. The
// unspecified next hop makes GoBGP send its own session address.
func paths(o Options, prefixes []netip.Prefix) ([]*apiutil.Path, error) {
	var out []*apiutil.Path
	for _, p := range prefixes {
		nlri, err := gbgp.NewIPAddrPrefix(p.Masked())
		if err != nil {
			return nil, fmt.Errorf("prefix %s: %w", p, err)
		}
		attrs := []gbgp.PathAttributeInterface{gbgp.NewPathAttributeOrigin(0)}
		fam := gbgp.RF_IPv4_UC
		if p.Addr().Is4() {
			nh, err := gbgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
			if err != nil {
				return nil, fmt.Errorf("prefix %s: %w", p, err)
			}
			attrs = append(attrs, nh)
		} else {
			fam = gbgp.RF_IPv6_UC
			mp, err := gbgp.NewPathAttributeMpReachNLRI(fam, []gbgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
			if err != nil {
				return nil, fmt.Errorf("prefix %s: %w", p, err)
			}
			attrs = append(attrs, mp)
		}
		if o.MED != nil {
			attrs = append(attrs, gbgp.NewPathAttributeMultiExitDisc(*o.MED))
		}
		if len(o.Communities) > 0 {
			attrs = append(attrs, gbgp.NewPathAttributeCommunities(o.Communities))
		}
		out = append(out, &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs})
	}
	return out, nil
}

// Announce implements Speaker.
func (g *GoBGP) Announce(ctx context.Context, prefixes []netip.Prefix) error {
	s, o := g.server()
	if s == nil {
		return errNotStarted
	}
	ps, err := paths(o, prefixes)
	if err != nil {
		return err
	}
	res, err := s.AddPath(apiutil.AddPathRequest{Paths: ps})
	if err != nil {
		return fmt.Errorf("adding paths: %w", err)
	}
	for _, r := range res {
		if r.Error != nil {
			return fmt.Errorf("adding a path: %w", r.Error)
		}
	}
	return nil
}

// Withdraw implements Speaker.
func (g *GoBGP) Withdraw(ctx context.Context, prefixes []netip.Prefix) error {
	s, o := g.server()
	if s == nil {
		return errNotStarted
	}
	ps, err := paths(o, prefixes)
	if err != nil {
		return err
	}
	if err := s.DeletePath(apiutil.DeletePathRequest{Paths: ps}); err != nil {
		return fmt.Errorf("deleting paths: %w", err)
	}
	return nil
}

// Neighbors implements Speaker.
func (g *GoBGP) Neighbors(ctx context.Context) []NeighborStatus {
	s, _ := g.server()
	if s == nil {
		return nil
	}
	var out []NeighborStatus
	s.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: false}, func(p *api.Peer) {
		ns := NeighborStatus{}
		if c := p.GetConf(); c != nil {
			ns.Address, ns.ASN = c.NeighborAddress, c.PeerAsn
		}
		if st := p.GetState(); st != nil {
			ns.State = strings.ToLower(strings.TrimPrefix(st.SessionState.String(), "SESSION_STATE_"))
			ns.Flaps = st.Flops
			if m := st.GetMessages(); m != nil {
				ns.NotificationsIn = m.GetReceived().GetNotification()
				ns.UpdatesIn = m.GetReceived().GetUpdate()
				ns.NotificationsOut = m.GetSent().GetNotification()
				ns.UpdatesOut = m.GetSent().GetUpdate()
			}
			ns.LastDown = st.DisconnectMessage
			if b := st.GetBfdState(); b != nil && b.SessionState != api.BfdSessionState_BFD_SESSION_STATE_UNSPECIFIED {
				ns.BFD = strings.ToLower(strings.TrimPrefix(b.SessionState.String(), "BFD_SESSION_STATE_"))
			}
		}
		if ts := p.GetTimers().GetState(); ts != nil && ns.State == "established" && ts.Uptime != nil {
			ns.Since = ts.Uptime.AsTime()
		}
		out = append(out, ns)
	})
	return out
}

// Stop implements Speaker: every session gets a NOTIFICATION Cease, so the
// routers drop the routes at once.
func (g *GoBGP) Stop() {
	g.mu.Lock()
	s, cancel := g.s, g.stop
	g.s = nil
	g.mu.Unlock()
	if s == nil {
		return
	}
	cancel()
	s.Stop()
}

// Detach implements Speaker: the sessions close without a NOTIFICATION
// (when graceful restart was negotiated; otherwise with one, as Stop).
func (g *GoBGP) Detach() {
	g.mu.Lock()
	s, cancel := g.s, g.stop
	g.s = nil
	g.mu.Unlock()
	if s == nil {
		return
	}
	cancel()
	if err := s.StopBgp(context.Background(), &api.StopBgpRequest{AllowGracefulRestart: true}); err != nil {
		s.Log().Warn("bgp detach", "error", err)
	}
}

func fsmName(s gbgp.FSMState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "BGP_FSM_"))
}

// minLevel drops GoBGP's records below a level (its own INFO lines repeat
// what the session watcher logs).
type minLevel struct {
	min slog.Leveler
	slog.Handler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min.Level() && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.min, m.Handler.WithAttrs(as)}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.min, m.Handler.WithGroup(name)}
}
