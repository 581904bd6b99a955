package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/internal/build"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/upgrade"
	"github.com/lbd-ha/lbd/sysctl"
)

// Options configure a Daemon. Zero values mean the real system.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger
	// Sysctl and Rlimit are the OS seams; nil means /proc/sys and setrlimit.
	Sysctl sysctl.State
	Rlimit sysctl.Rlimit
	// SocketPath overrides global.control_socket (tests, lbd run --socket).
	SocketPath string
	// Notify is called with sd_notify states (READY=1, RELOADING=1,
	// STOPPING=1); nil means no notification.
	Notify func(state string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Upgrader enables binary upgrades (lbctl upgrade, SIGUSR2) and, when
	// this process was started by one, supplies the previous process's
	// listeners and VRRP states. Nil: no binary upgrade.
	Upgrader *upgrade.Upgrader
}

// Daemon is one running lbd.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	started time.Time

	opMu     sync.Mutex    // serialises Reload and Upgrade
	upgraded chan struct{} // closed when a new process has taken over
	ctl      net.Listener  // the control socket

	mu         sync.Mutex
	cfg        *config.Config
	loadedAt   time.Time
	sysctls    []control.SysctlResult
	lastReload *control.ReloadResult
	rt         *runtime // the running components; nil before Run
	pair       pairState
	acme       acmeState
}

// New loads and validates the config; nothing is started yet.
func New(opts Options) (*Daemon, error) {
	if opts.ConfigPath == "" {
		opts.ConfigPath = config.DefaultPath
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.Sysctl == nil {
		opts.Sysctl = sysctl.NewState()
	}
	if opts.Rlimit == nil {
		opts.Rlimit = sysctl.ProcessRlimit{}
	}
	if opts.Notify == nil {
		opts.Notify = func(string) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	d := &Daemon{opts: opts, cfg: cfg, loadedAt: opts.Now(), upgraded: make(chan struct{})}
	d.log = d.eventLogger(opts.Logger)
	return d, nil
}

// Config returns the config in force.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Daemon) socketPath() string {
	if d.opts.SocketPath != "" {
		return d.opts.SocketPath
	}
	return d.cfg.Global.ControlSocket
}

// ApplySysctl applies the config's sysctl table and RLIMIT_NOFILE and
// returns what it found and changed (with sysctl.apply: false it only reads
// and reports the keys). Problems are warnings in the results.
func (d *Daemon) ApplySysctl() []sysctl.Result {
	rs := sysctl.Apply(SysctlOptions(d.Config()), d.opts.Sysctl, d.opts.Rlimit)
	d.mu.Lock()
	d.sysctls = sysctlStatus(rs)
	d.mu.Unlock()
	return rs
}

// Run starts everything and blocks until ctx ends, then stops gracefully:
// VRRP hands over (priority 0) and releases the VIPs first, then the proxy
// stops accepting and lets in-flight requests finish. After a binary
// upgrade (Upgrade) it returns nil once the old connections have drained,
// leaving VRRP and the listeners to the new process.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = d.opts.Now()
	u := d.opts.Upgrader
	resumed := u != nil && u.HasParent()
	if resumed {
		d.log.Info("binary upgrade: taking over from the previous lbd process", "pid", os.Getpid(), "parent", os.Getppid())
	} else {
		sysctl.Log(d.log, d.ApplySysctl())
	}
	var inherit func(string) (net.Listener, error)
	if resumed {
		inherit = u.Listener
	}

	l, err := d.controlListener(inherit)
	if err != nil {
		return err
	}
	d.ctl = l
	cfg := d.Config()
	rt, err := d.start(ctx, cfg, inherit)
	if err == nil && !resumed {
		err = rt.startVRRP(cfg, nil)
	}
	if err == nil {
		err = rt.startBGP(cfg, resumed)
	}
	if err != nil {
		rt.stop(context.Background())
		l.Close()
		return err
	}
	d.mu.Lock()
	d.rt = rt
	d.mu.Unlock()
	d.startPair(cfg)
	d.startACME(cfg)

	// Everything privileged is open now: listeners, raw VRRP sockets, the
	// control socket. Drop root as HAProxy does (global.user/group/chroot).
	g := cfg.Global
	note, err := dropPrivileges(g.User, g.Group, g.Chroot)
	if err != nil {
		rt.stop(context.Background())
		l.Close()
		return fmt.Errorf("dropping privileges: %w", err)
	}
	if note != "" {
		d.log.Info(note)
	}

	cctx, cancel := context.WithCancel(context.Background())
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- d.serveControl(cctx, l) }()
	if u != nil {
		if err := u.Ready(); err != nil {
			d.log.Error("binary upgrade readiness", "error", err)
		}
	}
	if resumed {
		d.resumeVRRP(rt, cfg)
		// The old process already made this one the main PID; READY
		// repeats it for service managers that missed it.
		d.opts.Notify(fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid()))
	} else {
		d.opts.Notify("READY=1")
	}
	d.log.Info("lbd started", "version", build.Version, "config", d.opts.ConfigPath, "socket", d.socketPath(), "pid", os.Getpid())

	var runErr error
	upgraded := false
	select {
	case <-ctx.Done():
	case err := <-rt.failed:
		runErr = err
	case <-d.upgraded:
		upgraded = true
	}
	if upgraded {
		rt.detachBGP()
		d.log.Info("lbd draining: a new process took over", "pid", os.Getpid())
		// The new process serves the control socket: stop accepting on
		// it now (the upgrade call in flight still gets its answer), so
		// that lbctl never reaches this process during its soft stop.
		cancel()
	} else {
		if u != nil {
			u.Stop()
		}
		d.opts.Notify("STOPPING=1")
		d.log.Info("lbd stopping")
		rt.drainBGP()
	}
	// Soft stop (proxy/softstop.go): connections finish on their own,
	// bounded by global.hard_stop_after.
	stopCtx, stopCancel := context.WithTimeout(context.Background(), d.Config().Global.HardStopAfter)
	defer stopCancel()
	d.stopACME()
	d.stopPair()
	rt.stop(stopCtx)
	cancel()
	if err := <-ctlDone; err != nil && runErr == nil {
		runErr = fmt.Errorf("control socket: %w", err)
	}
	if !upgraded && resumed {
		// An inherited socket does not unlink itself on close.
		os.Remove(d.socketPath())
	}
	d.log.Info("lbd stopped")
	return runErr
}

// controlListener takes the control socket from the previous process or
// opens it.
func (d *Daemon) controlListener(inherit func(string) (net.Listener, error)) (net.Listener, error) {
	if inherit != nil {
		l, err := inherit("unix|" + d.socketPath())
		if err != nil || l != nil {
			return l, err
		}
	}
	l, err := control.Listen(d.socketPath())
	if err == nil {
		if err = applySocketAccess(d.socketPath(), d.Config().Global.RuntimeAPI); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, err
}

// Reload re-reads the config file. An invalid file changes nothing: the
// error is returned (and kept for status) and the old config keeps serving.
func (d *Daemon) Reload(ctx context.Context, who string) control.ReloadResult {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	select {
	case <-d.upgraded:
		res := control.ReloadResult{At: d.opts.Now(), Source: who, Error: "this process has handed over to a new one (binary upgrade) and is draining: reload the new one"}
		return res
	default:
	}
	d.opts.Notify("RELOADING=1")
	defer d.opts.Notify("READY=1")
	res := control.ReloadResult{At: d.opts.Now(), Source: who}
	cfg, err := config.Load(d.opts.ConfigPath)
	if err == nil {
		d.mu.Lock()
		rt := d.rt
		d.mu.Unlock()
		if rt != nil {
			err = rt.reload(ctx, cfg)
		}
	}
	if err != nil {
		res.Error = err.Error()
		d.log.Error("reload refused: the old config keeps serving", "by", who, "error", err)
	} else {
		res.OK = true
		d.mu.Lock()
		d.cfg, d.loadedAt = cfg, res.At
		d.mu.Unlock()
		d.startPair(cfg)
		d.startACME(cfg)
		d.log.Info("config reloaded", "by", who, "config", d.opts.ConfigPath)
		d.pairAfterReload(who)
	}
	d.mu.Lock()
	d.lastReload = &res
	d.mu.Unlock()
	return res
}

// Status implements control.Backend.
func (d *Daemon) Status() control.Status {
	st := d.statusCore()
	st.Pair = d.pairStatus()
	return st
}

// statusCore is Status without the pair section.
func (d *Daemon) statusCore() control.Status {
	d.mu.Lock()
	cfg, loaded, sys, last, rt := d.cfg, d.loadedAt, d.sysctls, d.lastReload, d.rt
	d.mu.Unlock()
	host, _ := os.Hostname()
	now := d.opts.Now()
	st := control.Status{
		Version:    build.Version,
		PID:        os.Getpid(),
		Node:       host,
		StartedAt:  d.started,
		UptimeSec:  now.Sub(d.started).Seconds(),
		ConfigFile: cfg.File,
		ConfigLoad: loaded,
		LastReload: last,
		Sysctl:     sys,
		VRRP:       []control.VRRPStatus{},
		Frontends:  []control.FrontendStatus{},
		Backends:   []control.BackendStatus{},
	}
	if rt != nil {
		rt.fill(&st)
	}
	return st
}

var errNoRuntime = errors.New("lbd is starting")

// VRRPHandover implements control.Backend.
func (d *Daemon) VRRPHandover(instance, who string) error {
	rt := d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	if err := rt.handover(instance, true); err != nil {
		return err
	}
	d.log.Info("vrrp handover", "instance", orAll(instance), "by", who)
	return nil
}

// VRRPResume implements control.Backend.
func (d *Daemon) VRRPResume(instance, who string) error {
	rt := d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	if err := rt.handover(instance, false); err != nil {
		return err
	}
	d.log.Info("vrrp resume", "instance", orAll(instance), "by", who)
	return nil
}

func (d *Daemon) runtime() *runtime {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rt
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}
