package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/upgrade"
)

// stateWait bounds how long a new process waits for the old one's VRRP
// states before starting its instances fresh.
const stateWait = 5 * time.Second

// parentWait bounds how long an upgrade waits for the previous process to
// end its soft stop (lbctl upgrade waits a minute in all, the new process
// may take 30 s to become ready).
const parentWait = 25 * time.Second

// handoverState is what the old process tells the new one last.
type handoverState struct {
	// VRRP maps an instance name to the state it was detached in.
	VRRP map[string]string `json:"vrrp"`
}

// Upgrade implements control.Backend: it starts the installed binary as a
// new process with this one's listeners, and once that process is ready,
// detaches the VRRP instances (no priority-0 advert, VIPs kept) and hands
// their states over, so the new process resumes them at once. This
// process then drains its connections and Run returns. On error nothing
// changed and this process keeps serving.
func (d *Daemon) Upgrade(_ context.Context, who string) control.UpgradeResult {
	res := control.UpgradeResult{At: d.opts.Now(), Source: who, OldPID: os.Getpid()}
	if err := d.upgrade(&res); err != nil {
		res.Error = err.Error()
		d.log.Error("binary upgrade failed: this process keeps serving", "by", who, "error", err)
		return res
	}
	res.OK = true
	d.log.Info("binary upgrade: the new process serves", "by", who, "new_pid", res.NewPID)
	return res
}

func (d *Daemon) upgrade(res *control.UpgradeResult) error {
	u := d.opts.Upgrader
	if u == nil {
		return fmt.Errorf("%w (it runs only under `lbd run`)", upgrade.ErrNoUpgrader)
	}
	// The process this one replaced may still be finishing its
	// connections (soft stop): no new upgrade can start before it exits.
	wait := min(d.Config().Global.HardStopAfter+2*time.Second, parentWait)
	wctx, cancel := context.WithTimeout(context.Background(), wait)
	err := u.WaitParent(wctx)
	cancel()
	if err != nil {
		return fmt.Errorf("the previous lbd process is still finishing its connections (soft stop, at most global.hard_stop_after); waited %v, try again later", wait)
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	select {
	case <-d.upgraded:
		return errors.New("already upgraded: this process is draining")
	default:
	}
	rt := d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	cfg := d.Config()
	if cfg.Global.Chroot != "" {
		return fmt.Errorf("global.chroot is set: the new binary cannot be started inside %s; use systemctl restart lbd (VRRP hands over with priority 0)", cfg.Global.Chroot)
	}
	ls := rt.listeners()
	if sc, ok := d.ctl.(syscall.Conn); ok {
		ls["unix|"+d.socketPath()] = sc
	}
	child, err := u.Upgrade(ls)
	if err != nil {
		return err
	}
	res.NewPID = child.PID
	d.opts.Notify(fmt.Sprintf("MAINPID=%d", child.PID))
	st := handoverState{VRRP: rt.detachVRRP()}
	if err := child.Handover(st); err != nil {
		d.log.Warn("binary upgrade: the new process starts VRRP fresh", "error", err)
	}
	if ul, ok := d.ctl.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the new process serves it now
	}
	close(d.upgraded)
	return nil
}

// resumeVRRP starts the VRRP instances in a process started by an upgrade,
// in the states the old process detached them in.
func (d *Daemon) resumeVRRP(rt *runtime, cfg *config.Config) {
	var st handoverState
	if err := d.opts.Upgrader.ParentState(stateWait, &st); err != nil {
		d.log.Warn("binary upgrade: no VRRP state from the previous process, starting the instances fresh", "error", err)
	}
	for name, s := range st.VRRP {
		d.log.Info("binary upgrade: resuming vrrp instance", "instance", name, "state", s)
	}
	if err := rt.startVRRP(cfg, st.VRRP); err != nil {
		rt.failed <- fmt.Errorf("starting vrrp after the upgrade: %w", err)
	}
}
