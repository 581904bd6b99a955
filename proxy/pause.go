package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Runtime pause of a frontend (HAProxy's `disable frontend` / `enable
// frontend`): the frontend releases its ports and can take them again.
// Releasing follows the soft-stop rule (softstop.go): connections already
// accepted are served to their end, each HTTP one answering its next
// request with Connection: close. The pause is runtime state: it survives
// a reload while the frontend exists (as a drained server does), and is
// not handed to a new process by a binary upgrade.

// ErrFrontendPaused and ErrFrontendActive answer a pause or resume that
// changes nothing.
var (
	ErrFrontendPaused = errors.New("frontend is already disabled")
	ErrFrontendActive = errors.New("frontend is already enabled")
)

// SetFrontendEnabled pauses (on=false) or resumes a frontend. Resuming
// binds its listeners again; an error then (the port was taken meanwhile)
// leaves the frontend paused. An unknown name returns a *NameError.
func (e *Engine) SetFrontendEnabled(name string, on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.gen.Load()
	var fe *frontend
	names := make([]string, 0, len(g.frontends))
	for _, f := range g.frontends {
		names = append(names, f.name)
		if f.name == name {
			fe = f
		}
	}
	if fe == nil {
		return &NameError{fmt.Sprintf("unknown frontend %q (known: %s)", name, strings.Join(names, ", "))}
	}
	if !e.started || e.stopping.Load() {
		return errors.New("proxy is not serving")
	}
	if !on {
		if e.paused[name] {
			return ErrFrontendPaused
		}
		e.paused[name] = true
		for _, k := range fe.binds {
			if l := e.listeners[k]; l != nil {
				l.retire()
				delete(e.listeners, k)
			}
		}
		e.softStopConns()
		e.log.Info("frontend paused", "frontend", name)
		return nil
	}
	if !e.paused[name] {
		return ErrFrontendActive
	}
	delete(e.paused, name)
	opened, err := e.openListeners(context.Background(), g, e.listeners)
	if err != nil {
		e.paused[name] = true
		return err
	}
	e.startListeners(opened)
	e.log.Info("frontend resumed", "frontend", name)
	return nil
}

// FrontendPaused reports whether the frontend is paused at runtime.
func (e *Engine) FrontendPaused(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused[name]
}
