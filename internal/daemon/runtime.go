package daemon

import (
	"context"
	"fmt"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

// runtime is the set of running components for one daemon. Reload swaps
// configuration inside each component; the components themselves live for
// the whole process so listeners, check history and VRRP state survive.
type runtime struct {
	d      *Daemon
	checks *checks.Manager
	failed chan error // a component that cannot go on reports here
}

func (d *Daemon) start(ctx context.Context, cfg *config.Config) (*runtime, error) {
	rt := &runtime{d: d, failed: make(chan error, 4)}
	rt.checks = checks.New(checks.Options{
		Logger:   d.log,
		OnChange: rt.onServerChange,
		Now:      d.opts.Now,
	})
	if err := rt.checks.Apply(cfg); err != nil {
		rt.checks.Close()
		return nil, fmt.Errorf("starting health checks: %w", err)
	}
	return rt, nil
}

// onServerChange forwards a health or admin change to the proxy.
func (rt *runtime) onServerChange(ev checks.Event) {
	_ = ev
}

func (rt *runtime) reload(ctx context.Context, cfg *config.Config) error {
	if err := rt.checks.Apply(cfg); err != nil {
		return fmt.Errorf("health checks: %w", err)
	}
	return nil
}

func (rt *runtime) stop(ctx context.Context) {
	rt.checks.Close()
}

func (rt *runtime) setAdmin(backend, server, state string) error {
	a, err := checks.ParseAdmin(state)
	if err != nil {
		return err
	}
	if err := rt.checks.SetAdmin(backend, server, a); err != nil {
		return &control.NotFoundError{Msg: err.Error()}
	}
	return nil
}

func (rt *runtime) setWeight(backend, server string, w int) error {
	return fmt.Errorf("weights need the proxy engine")
}

func (rt *runtime) handover(instance string, on bool) error {
	return fmt.Errorf("no VRRP instance %q", instance)
}

// fill adds the components' sections to a status snapshot.
func (rt *runtime) fill(st *control.Status) {
	cfg := rt.d.Config()
	for _, b := range cfg.Backends {
		bs := control.BackendStatus{Name: b.Name, Mode: b.Mode, Balance: b.Balance}
		for _, s := range b.Servers {
			ss := control.ServerStatus{Name: s.Name, Address: s.Address, Backup: s.Backup}
			if s.Weight != nil {
				ss.Weight = *s.Weight
			}
			if info, ok := rt.checks.Info(b.Name, s.Name); ok {
				info.Fill(&ss)
				bs.Usable = bs.Usable || info.Usable
			}
			bs.Servers = append(bs.Servers, ss)
		}
		st.Backends = append(st.Backends, bs)
	}
}
