package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/logs"
	"github.com/lbd-ha/lbd/internal/metrics"
	"github.com/lbd-ha/lbd/internal/stats"
	"github.com/lbd-ha/lbd/proxy"
	"github.com/lbd-ha/lbd/vip"
	"github.com/lbd-ha/lbd/vrrp"
)

// trackInterval is how often tracked interfaces, frontends and backends are
// sampled for VRRP. Backend health changes are also pushed at once.
const trackInterval = 100 * time.Millisecond

// runtime is the set of running components for one daemon. Reload swaps
// configuration inside each component; the components themselves live for
// the whole process so listeners, check history and VRRP state survive.
type runtime struct {
	d       *Daemon
	feStats atomic.Pointer[[]frontendStats] // stats pages inside frontends
	engine  *proxy.Engine
	checks  *checks.Manager
	access  atomic.Pointer[logs.Logger]
	nodes   []*vrrpNode
	side    *sideServers // standalone stats page and /metrics
	failed  chan error   // a component that cannot go on reports here
	bgp     atomic.Pointer[bgpRuntime]

	// inherit returns a listening socket handed over by the previous
	// process (binary upgrade), or nil.
	inherit func(key string) (net.Listener, error)

	tls tlsSet // ticket keys and the certificates served

	ctx        context.Context // the runtime's life (cancelled by stop)
	cancel     context.CancelFunc
	vrrpCancel context.CancelFunc // the VRRP nodes and the tracking loop
	wg         sync.WaitGroup
}

type vrrpNode struct {
	cfg  config.VRRPInstance
	node *vrrp.Node
	done chan struct{} // closed when Run returned
}

// start runs everything but VRRP (startVRRP): logs, proxy, checks, side
// servers. inherit (nil: none) supplies listeners from a previous process.
func (d *Daemon) start(ctx context.Context, cfg *config.Config, inherit func(string) (net.Listener, error)) (rt *runtime, err error) {
	rctx, cancel := context.WithCancel(context.Background())
	rt = &runtime{d: d, failed: make(chan error, 8), ctx: rctx, cancel: cancel, inherit: inherit}
	if rt.inherit == nil {
		rt.inherit = func(string) (net.Listener, error) { return nil, nil }
	}
	defer func() {
		if err != nil {
			rt.stop(context.Background())
		}
	}()

	lopts, err := logOptions(cfg)
	if err != nil {
		return rt, err
	}
	lg, err := logs.NewLogger(cfg.Global.Log, lopts)
	if err != nil {
		return rt, fmt.Errorf("opening log targets: %w", err)
	}
	rt.access.Store(lg)

	rt.setFrontendStats(cfg)
	pc, err := proxyConfig(cfg)
	if err == nil {
		err = d.acmeRoute(pc, cfg)
	}
	if err != nil {
		return rt, err
	}
	rt.logWarnings(cfg)
	stores, err := rt.tls.build(rctx, cfg, pc, d.acmeTLSALPN(cfg))
	if err != nil {
		return rt, err
	}
	rt.engine, err = proxy.New(pc, proxy.Options{Logger: d.log, AccessLog: rt.logAccess, StatsHandler: http.HandlerFunc(rt.serveFrontendStats), Inherited: rt.inheritTCP})
	if err != nil {
		return rt, fmt.Errorf("building proxy: %w", err)
	}
	rt.checks = checks.New(checks.Options{Logger: d.log, OnChange: rt.onServerChange, Now: d.opts.Now})
	if err := rt.checks.Apply(checksConfig(cfg)); err != nil {
		return rt, fmt.Errorf("starting health checks: %w", err)
	}
	rt.pushServerStates()
	if err := rt.engine.Start(rctx); err != nil {
		return rt, fmt.Errorf("starting proxy: %w", err)
	}
	rt.tls.commit(stores)
	rt.side = &sideServers{dropped: func() uint64 { return rt.access.Load().Dropped() }, inherit: rt.inherit, acme: d.ACMEStatus}
	if err := rt.side.apply(cfg, d.Status); err != nil {
		return rt, err
	}

	return rt, nil
}

// startVRRP starts the VRRP instances. resume maps an instance name to the
// state the previous process detached it in (binary upgrade; nil: fresh).
func (rt *runtime) startVRRP(cfg *config.Config, resume map[string]string) error {
	vctx, cancel := context.WithCancel(context.Background())
	rt.vrrpCancel = cancel
	for _, in := range cfg.VRRP.Instances {
		vn, err := rt.startNode(vctx, in, resume[in.Name])
		if err != nil {
			return err
		}
		rt.nodes = append(rt.nodes, vn)
	}
	if len(rt.nodes) > 0 {
		rt.wg.Add(1)
		go rt.trackLoop(vctx)
	}
	return nil
}

// detachVRRP stops every instance silently for a binary upgrade and returns
// the state each was in, for the new process to resume.
func (rt *runtime) detachVRRP() map[string]string {
	states := map[string]string{}
	if rt.vrrpCancel == nil {
		return states
	}
	for _, vn := range rt.nodes {
		vn.node.Detach()
	}
	rt.vrrpCancel()
	for _, vn := range rt.nodes {
		<-vn.done
		states[vn.cfg.Name] = vn.node.StoppedAs().String()
	}
	return states
}

// inheritTCP adapts inherit for the proxy.
func (rt *runtime) inheritTCP(key string) (*net.TCPListener, error) {
	ln, err := rt.inherit(key)
	if ln == nil || err != nil {
		return nil, err
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("inherited listener %s is a %T, not TCP", key, ln)
	}
	return tl, nil
}

// listeners are the listening sockets to hand to a new process: the
// proxy's binds and the side servers' (the control socket is the
// daemon's).
func (rt *runtime) listeners() map[string]syscall.Conn {
	ls := rt.engine.Listeners()
	for k, l := range rt.side.listeners() {
		ls[k] = l
	}
	return ls
}

func (rt *runtime) startNode(ctx context.Context, in config.VRRPInstance, resume string) (*vrrpNode, error) {
	node, err := vrrp.NewNode(vrrpInstance(withPairHold(in)), vrrp.Deps{
		VIPs:      vip.NewNetlink(),
		Announcer: vip.NewAnnouncer(in.GARP.Reply, false),
		Logger:    rt.d.log.With("vrrp", in.Name),
	})
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %s: %w", in.Name, err)
	}
	switch resume {
	case vrrp.Master.String():
		node.ResumeFrom(vrrp.Master)
	case vrrp.Backup.String():
		node.ResumeFrom(vrrp.Backup)
	}
	vn := &vrrpNode{cfg: in, node: node, done: make(chan struct{})}
	rt.track(vn)
	go func() {
		err := node.Run(ctx)
		close(vn.done)
		if err != nil && ctx.Err() == nil {
			rt.failed <- fmt.Errorf("vrrp instance %s: %w", in.Name, err)
		}
	}()
	return vn, nil
}

// frontendStats is the stats page of one frontend with `stats: enable`.
type frontendStats struct {
	uri string
	h   http.Handler
}

// setFrontendStats builds the stats pages served inside frontends. The
// proxy matches the URI and checks `stats auth` itself, then calls
// serveFrontendStats; the page keeps its own realm, refresh and version
// settings.
func (rt *runtime) setFrontendStats(cfg *config.Config) {
	var list []frontendStats
	for _, f := range cfg.Frontends {
		if f.Stats == nil || !f.Stats.Enable {
			continue
		}
		sc := *f.Stats
		sc.Auth = nil // already checked by the proxy
		list = append(list, frontendStats{uri: sc.URI, h: stats.New(sc, rt.d.Status)})
	}
	rt.feStats.Store(&list)
}

func (rt *runtime) serveFrontendStats(w http.ResponseWriter, r *http.Request) {
	list := rt.feStats.Load()
	var best *frontendStats
	for i, fs := range *list {
		if strings.HasPrefix(r.RequestURI, fs.uri) && (best == nil || len(fs.uri) > len(best.uri)) {
			best = &(*list)[i]
		}
	}
	if best == nil {
		http.Error(w, "no stats page here", http.StatusNotFound)
		return
	}
	best.h.ServeHTTP(w, r)
}

// logAccess hands a record to the current async logger (the proxy has
// already applied the section's log: none and dontlognull).
func (rt *runtime) logAccess(rec *logs.Record) {
	rt.access.Load().Log(rec)
}

// onServerChange forwards a health or admin change to the proxy and
// re-evaluates VRRP tracking at once.
func (rt *runtime) onServerChange(ev checks.Event) {
	if rt.engine != nil {
		rt.engine.SetServerState(ev.Backend, ev.Server, proxy.ServerState{Up: ev.Up, Admin: ev.Admin})
	}
	for _, vn := range rt.nodes {
		rt.track(vn)
	}
	rt.trackBGP()
}

// pushServerStates copies every server's check and admin state to the proxy
// (start and reload: new servers begin UP in both, disabled ones in MAINT).
func (rt *runtime) pushServerStates() {
	for _, si := range rt.checks.Snapshot() {
		rt.engine.SetServerState(si.Backend, si.Server, proxy.ServerState{Up: si.Up, Admin: si.Admin})
	}
}

// track samples what one instance tracks and feeds the node.
func (rt *runtime) track(vn *vrrpNode) {
	for _, t := range vn.cfg.Track.Backends {
		ok := rt.engine != nil && rt.engine.BackendUsable(t.Name)
		vn.node.SetTrack("backend/"+t.Name, ok)
	}
	for _, t := range vn.cfg.Track.Frontends {
		ok := rt.engine != nil && rt.engine.FrontendServing(t.Name)
		vn.node.SetTrack("frontend/"+t.Name, ok)
	}
	for _, t := range vn.cfg.Track.Interfaces {
		vn.node.SetTrack("interface/"+t.Name, linkUp(t.Name))
	}
}

func linkUp(name string) bool {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return false
	}
	a := l.Attrs()
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}

func (rt *runtime) trackLoop(ctx context.Context) {
	defer rt.wg.Done()
	t := time.NewTicker(trackInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, vn := range rt.nodes {
				rt.track(vn)
			}
		}
	}
}

// errVRRPRestart explains why a reload that changes VRRP is refused.
var errVRRPRestart = errors.New("the vrrp section changed: VRRP instances are not reloaded in place (a restart hands the VIP over cleanly: systemctl restart lbd); nothing was changed")

func (rt *runtime) reload(ctx context.Context, cfg *config.Config) error {
	old := rt.d.Config()
	if !reflect.DeepEqual(old.VRRP, cfg.VRRP) {
		return errVRRPRestart
	}
	if !reflect.DeepEqual(old.BGP, cfg.BGP) {
		return errBGPRestart
	}
	// Validate what can fail before touching anything.
	lopts, err := logOptions(cfg)
	if err != nil {
		return err
	}
	lg, err := logs.NewLogger(cfg.Global.Log, lopts)
	if err != nil {
		return fmt.Errorf("opening log targets: %w", err)
	}
	pc, err := proxyConfig(cfg)
	var stores []boundStore
	if err == nil {
		stores, err = rt.tls.build(rt.ctx, cfg, pc, rt.d.acmeTLSALPN(cfg))
	}
	if err == nil {
		err = rt.d.acmeRoute(pc, cfg)
	}
	if err == nil {
		err = rt.engine.Reload(pc)
	}
	if err != nil {
		lg.Close()
		return fmt.Errorf("proxy: %w", err)
	}
	rt.tls.commit(stores)
	rt.logWarnings(cfg)
	if err := rt.checks.Apply(checksConfig(cfg)); err != nil {
		lg.Close()
		return fmt.Errorf("health checks: %w", err)
	}
	rt.pushServerStates()
	rt.setFrontendStats(cfg)
	if prev := rt.access.Swap(lg); prev != nil {
		prev.Close()
	}
	if err := rt.side.apply(cfg, rt.d.Status); err != nil {
		return err
	}
	return nil
}

// stop shuts down in the order that loses nothing: VRRP first (priority 0,
// VIPs removed: the peer takes over within skew time), the stats and
// metrics servers, then the proxy soft-stops (proxy/softstop.go, bounded
// by ctx: global.hard_stop_after), then checks and logs.
func (rt *runtime) stop(ctx context.Context) {
	rt.stopBGP()
	if rt.vrrpCancel != nil {
		rt.vrrpCancel()
	}
	if rt.cancel != nil {
		rt.cancel()
	}
	for _, vn := range rt.nodes {
		select {
		case <-vn.done:
		case <-ctx.Done():
		}
	}
	rt.wg.Wait()
	// The stats and metrics servers close first: after a binary upgrade
	// the new process answers on their sockets, not this one, while the
	// proxy's soft stop goes on.
	if rt.side != nil {
		rt.side.close()
	}
	if rt.engine != nil {
		if err := rt.engine.Shutdown(ctx); err != nil {
			rt.d.log.Warn("proxy shutdown", "error", err)
		}
	}
	if rt.checks != nil {
		rt.checks.Close()
	}
	if lg := rt.access.Load(); lg != nil {
		lg.Close()
	}
}

func (rt *runtime) handover(instance string, on bool) error {
	var names []string
	found := false
	for _, vn := range rt.nodes {
		names = append(names, vn.cfg.Name)
		if instance != "" && vn.cfg.Name != instance {
			continue
		}
		found = true
		if on {
			vn.node.Handover()
		} else {
			vn.node.Resume()
		}
	}
	if !found {
		if len(names) == 0 {
			return &control.NotFoundError{Msg: "no VRRP instances are configured"}
		}
		return &control.NotFoundError{Msg: fmt.Sprintf("no VRRP instance %q (valid: %v)", instance, names)}
	}
	return nil
}

// logWarnings logs what config.Load found worth a warning (an expired
// certificate, a skipped cipher name).
func (rt *runtime) logWarnings(cfg *config.Config) {
	for _, w := range cfg.Warnings {
		rt.d.log.Warn("config warning", "problem", w.String())
	}
}

// fill adds the components' sections to a status snapshot.
func (rt *runtime) fill(st *control.Status) {
	st.Frontends = frontendStatus(rt.engine.Frontends())
	st.Backends = backendStatus(rt.engine.Backends())
	st.Certificates = rt.d.acmeAnnotate(rt.tls.certificates())
	for bi := range st.Backends {
		b := &st.Backends[bi]
		for si := range b.Servers {
			if info, ok := rt.checks.Info(b.Name, b.Servers[si].Name); ok {
				fillServerStatus(&b.Servers[si], info)
			}
		}
	}
	for _, vn := range rt.nodes {
		st.VRRP = append(st.VRRP, vrrpStatus(vn.node.Status()))
	}
	rt.fillBGP(st)
}

// sideServers are the plain net/http listeners: the standalone stats page
// and the Prometheus endpoint. They are rebuilt on reload when changed.
type sideServers struct {
	dropped              func() uint64 // access-log lines dropped (lbd_log_dropped_total)
	inherit              func(key string) (net.Listener, error)
	stats, metrics       *httpListener
	statsCfg, metricsCfg any
	acme                 func() (*control.ACMEStatus, error)
}

type httpListener struct {
	srvs []*http.Server
	lns  map[string]net.Listener // by key "tcp|addr", for a binary upgrade
}

func (s *sideServers) apply(cfg *config.Config, status func() control.Status) error {
	if !reflect.DeepEqual(s.statsCfg, cfg.Stats) {
		var nl *httpListener
		if cfg.Stats != nil && cfg.Stats.Enable {
			var err error
			nl, err = serveHTTP(cfg.Stats.Bind, stats.New(cfg.Stats.Stats, status), s.inherit)
			if err != nil {
				return fmt.Errorf("stats listener: %w", err)
			}
		}
		s.stats.close()
		s.stats, s.statsCfg = nl, cfg.Stats
	}
	if !reflect.DeepEqual(s.metricsCfg, cfg.Metrics) {
		var nl *httpListener
		if cfg.Metrics != nil {
			mux := http.NewServeMux()
			mux.Handle(cfg.Metrics.Path, metrics.Handler(status, metrics.LogDropped(s.dropped), metrics.ACME(s.acme)))
			var err error
			nl, err = serveHTTP([]string{cfg.Metrics.Bind}, mux, s.inherit)
			if err != nil {
				return fmt.Errorf("metrics listener: %w", err)
			}
		}
		s.metrics.close()
		s.metrics, s.metricsCfg = nl, cfg.Metrics
	}
	return nil
}

func (s *sideServers) close() {
	s.stats.close()
	s.metrics.close()
}

// listeners returns the side servers' listening sockets by key.
func (s *sideServers) listeners() map[string]syscall.Conn {
	m := map[string]syscall.Conn{}
	for _, hl := range []*httpListener{s.stats, s.metrics} {
		if hl == nil {
			continue
		}
		for k, l := range hl.lns {
			if sc, ok := l.(syscall.Conn); ok {
				m[k] = sc
			}
		}
	}
	return m
}

func serveHTTP(binds []string, h http.Handler, inherit func(string) (net.Listener, error)) (*httpListener, error) {
	hl := &httpListener{lns: map[string]net.Listener{}}
	for _, b := range binds {
		addr := b
		if len(addr) > 1 && addr[0] == '*' {
			addr = addr[1:]
		}
		key := "tcp|" + addr
		l, err := inherit(key)
		if l == nil && err == nil {
			l, err = net.Listen("tcp", addr)
		}
		if err != nil {
			hl.close()
			return nil, fmt.Errorf("binding %s: %w", b, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
		hl.srvs = append(hl.srvs, srv)
		hl.lns[key] = l
		go srv.Serve(l)
	}
	return hl, nil
}

func (hl *httpListener) close() {
	if hl == nil {
		return
	}
	for _, s := range hl.srvs {
		s.Close()
	}
}
