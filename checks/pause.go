package checks

import (
	"errors"
	"fmt"
	"log/slog"
)

// ErrNotChecked is returned by SetChecking for a server without health
// checks in the config.
var ErrNotChecked = errors.New("Health check was not configured on this server, cannot enable")

// SetChecking pauses (on=false) or resumes a server's health checks, as
// HAProxy's `disable health` / `enable health`: while paused no check is
// sent and the server counts as UP (its admin state still applies);
// resuming starts it UP at health=rise and checks it at once. A reload
// resumes the checks the config asks for. OnChange has been called when it
// returns.
func (m *Manager) SetChecking(backend, server string, on bool) error {
	m.mu.Lock()
	s, err := m.lookupLocked(backend, server)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if !s.spec.checked {
		m.mu.Unlock()
		if on {
			return ErrNotChecked
		}
		return nil
	}
	if s.m.Checked() == on {
		m.mu.Unlock()
		return nil
	}
	now := m.now()
	t := s.m.Reconfigure(s.m.Params(), on, now)
	if t.Kind == KindHealth {
		word := "resumed"
		if !on {
			word = "paused"
		}
		ev := &Event{Backend: backend, Server: server, Up: t.Up, Admin: t.Admin, State: t.To, At: now,
			Reason:  "health checks " + word,
			Message: fmt.Sprintf("Server %s/%s is %s: health checks %s by the operator.", backend, server, t.To, word)}
		m.pending = append(m.pending, note{ev: ev, level: slog.LevelInfo, msg: ev.Message})
	}
	if on && s.kick != nil {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	m.flush()
	return nil
}
