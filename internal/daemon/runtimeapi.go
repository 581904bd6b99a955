package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/runtimeapi"
)

// serveControl serves the control socket: lbctl's HTTP API and HAProxy's
// runtime API text commands on the same path, told apart by their first
// bytes. It returns when ctx ends.
func (d *Daemon) serveControl(ctx context.Context, l net.Listener) error {
	hl := runtimeapi.Sniff(ctx, l, runtimeapi.SniffOptions{
		Backend:   rtAPI{d},
		Level:     d.runtimeLevel,
		Who:       func(c net.Conn) string { return "runtime API " + control.PeerString(c) },
		AllowHTTP: d.allowHTTP,
	})
	err := control.Serve(ctx, hl, d)
	l.Close()
	return err
}

func (d *Daemon) runtimeLevel() runtimeapi.Level {
	lv := runtimeapi.LevelOperator
	if ra := d.Config().Global.RuntimeAPI; ra != nil {
		lv, _ = runtimeapi.ParseLevel(ra.Level)
	}
	return lv
}

// allowHTTP keeps lbctl's changes (any method but GET) to root, lbd's own
// user, or any peer when the runtime API level is admin: a socket opened
// to a group for read-only monitoring must not let that group reload or
// change servers through the HTTP API.
func (d *Daemon) allowHTTP(c net.Conn, method string) bool {
	if method == "GET" || method == "HEAD" || d.runtimeLevel() == runtimeapi.LevelAdmin {
		return true
	}
	uid, ok := peerUID(c)
	return ok && (uid == 0 || uid == os.Geteuid())
}

func peerUID(c net.Conn) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cred == nil {
		return 0, false
	}
	return int(cred.Uid), true
}

// applySocketAccess sets the control socket's mode and owner from
// global.runtime_api (HAProxy's `stats socket ... mode/user/group`).
func applySocketAccess(path string, ra *config.RuntimeAPI) error {
	if ra == nil {
		return nil
	}
	if ra.Mode != "" {
		m, err := strconv.ParseUint(ra.Mode, 8, 32)
		if err != nil {
			return fmt.Errorf("global.runtime_api.mode %q: %w", ra.Mode, err)
		}
		if err := os.Chmod(path, os.FileMode(m)); err != nil {
			return fmt.Errorf("setting mode of control socket: %w", err)
		}
	}
	uid, gid := -1, -1
	if ra.User != "" {
		u, err := user.Lookup(ra.User)
		if err != nil {
			return fmt.Errorf("global.runtime_api.user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if ra.Group != "" {
		g, err := user.LookupGroup(ra.Group)
		if err != nil {
			return fmt.Errorf("global.runtime_api.group: %w", err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if uid != -1 || gid != -1 {
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("setting owner of control socket: %w", err)
		}
	}
	return nil
}

// rtAPI adapts the daemon to runtimeapi.Backend: changes take the same
// route as lbctl's (SetServerAdmin, SetServerWeight).
type rtAPI struct{ d *Daemon }

func (a rtAPI) Status() control.Status { return a.d.Status() }
func (a rtAPI) Maxconn() int           { return a.d.Config().Global.Maxconn }

func (a rtAPI) InitialWeight(backend, server string) (int, bool) {
	for _, b := range a.d.Config().Backends {
		if b.Name != backend {
			continue
		}
		for _, s := range b.Servers {
			if s.Name == server {
				if s.Weight == nil {
					return 1, true
				}
				return *s.Weight, true
			}
		}
	}
	return 0, false
}

func (a rtAPI) SetServerAdmin(backend, server, state, who string) error {
	return a.d.SetServerAdmin(backend, server, state, who)
}

func (a rtAPI) SetServerWeight(backend, server string, weight int, who string) error {
	return a.d.SetServerWeight(backend, server, weight, who)
}

func (a rtAPI) SetHealthChecks(backend, server string, on bool, who string) error {
	rt := a.d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	if err := rt.checks.SetChecking(backend, server, on); err != nil {
		return err
	}
	a.d.log.Info("server health checks changed", "server", backend+"/"+server, "checking", on, "by", who)
	return nil
}

// SetFrontendEnabled is `disable|enable frontend`: the proxy releases or
// takes back the frontend's ports (soft stop for the connections it has).
func (a rtAPI) SetFrontendEnabled(frontend string, on bool, who string) error {
	rt := a.d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	if err := rt.engine.SetFrontendEnabled(frontend, on); err != nil {
		return err
	}
	a.d.log.Info("frontend state changed", "frontend", frontend, "enabled", on, "by", who)
	return nil
}
