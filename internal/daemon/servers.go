package daemon

import (
	"context"
	"errors"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/proxy"
)

// SetServerAdmin implements control.Backend.
func (d *Daemon) SetServerAdmin(backend, server, state, who string) error {
	a, err := checks.ParseAdmin(state)
	if err != nil {
		return err
	}
	return d.setServer(backend, server, serverChange{admin: &a}, who)
}

// SetServerWeight implements control.Backend.
func (d *Daemon) SetServerWeight(backend, server string, weight int, who string) error {
	return d.setServer(backend, server, serverChange{weight: &weight}, who)
}

// serverChange is an operator's change to one server (lbctl server
// drain|enable|disable|ready|maint|weight): an admin state or a weight.
type serverChange struct {
	admin  *checks.Admin
	weight *int
}

// setServer applies an operator's change. Admin states and weights take
// this one route: the names are checked against the running proxy (an
// unknown one is a control.NotFoundError listing the valid names), a weight
// goes to the proxy, which owns weights, and an admin state to the health
// checker, which owns server state: it records the transition and hands
// the new state to the proxy (onServerChange). One log line either way.
//
// With a pair link the change is also sent to the peer and recorded for a
// peer that joins later (pairsync.go); lbctl's --local and changes coming
// from the peer stay on this node. The runtime API's set server comes here
// too.
func (d *Daemon) setServer(backend, server string, ch serverChange, who string) error {
	_, err := d.changeServer(context.Background(), backend, server, ch, false, who)
	return err
}

// applyServer is setServer on this node only.
func (d *Daemon) applyServer(backend, server string, ch serverChange, who string) error {
	rt := d.runtime()
	if rt == nil {
		return errNoRuntime
	}
	if _, err := rt.engine.ServerState(backend, server); err != nil {
		return notFound(err)
	}
	attrs := []any{"server", backend + "/" + server}
	if ch.weight != nil {
		if err := rt.engine.SetServerWeight(backend, server, *ch.weight); err != nil {
			return notFound(err)
		}
		attrs = append(attrs, "weight", *ch.weight)
	}
	if ch.admin != nil {
		if err := rt.checks.SetAdmin(backend, server, *ch.admin); err != nil {
			return &control.NotFoundError{Msg: err.Error()}
		}
		attrs = append(attrs, "state", ch.admin.String())
	}
	msg := "server weight changed"
	if ch.admin != nil {
		msg = "server admin state changed"
	}
	d.log.Info(msg, append(attrs, "by", who)...)
	return nil
}

// notFound marks the proxy's unknown-name errors for control (404); other
// errors (a weight out of range) stay as they are (400).
func notFound(err error) error {
	var ne *proxy.NameError
	if errors.As(err, &ne) {
		return &control.NotFoundError{Msg: err.Error()}
	}
	return err
}
