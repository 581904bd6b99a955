package checks

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Event is one server state change.
type Event struct {
	Backend, Server string
	// Up is the health state after the change (admin aside).
	Up bool
	// Admin is the admin state after the change.
	Admin Admin
	// State is the operator-facing state: UP, DOWN, DRAIN or MAINT.
	State string
	// Reason is the check reason ("Layer7 wrong status") for health changes,
	// or "admin state X" for admin changes.
	Reason string
	// Message is the HAProxy-style log line.
	Message string
	// At is when the change happened.
	At time.Time
}

type note struct {
	ev    *Event
	level slog.Level
	msg   string
}

// queueLocked turns a transition into log lines and an Event.
func (m *Manager) queueLocked(s *server, t Transition) {
	be, name := s.spec.backend, s.spec.name
	switch t.Kind {
	case KindNone:
		return
	case KindCheck:
		p := s.m.Params()
		m.pending = append(m.pending, note{level: slog.LevelInfo,
			msg: CheckMessage(be, name, t.Result, s.m.Health(), p.Rise, p.Fall)})
		return
	}
	active, backup := m.countLocked(be)
	ev := &Event{Backend: be, Server: name, Up: t.Up, Admin: t.Admin, State: t.To, At: t.At}
	level := slog.LevelInfo
	if t.Kind == KindHealth {
		ev.Reason = t.Result.Reason()
		if t.Up {
			ev.Message = UpMessage(be, name, t.Result, active, backup)
		} else {
			ev.Message = DownMessage(be, name, t.Result, active, backup)
			level = slog.LevelWarn
		}
		if t.Result.Code == "" {
			ev.Reason, ev.Message = "reconfigured", fmt.Sprintf("Server %s/%s is %s after reload.", be, name, t.To)
		}
	} else {
		ev.Reason = "admin state " + t.Admin.String()
		ev.Message = AdminMessage(be, name, t.FromAdmin, t.Admin, t.Up, active, backup)
		if t.Admin == Maint {
			level = slog.LevelWarn
		}
	}
	m.pending = append(m.pending, note{ev: ev, level: level, msg: ev.Message})
	if active+backup == 0 && t.From == StateUp && !s.m.Usable() {
		m.pending = append(m.pending, note{level: slog.LevelError, msg: NoServerMessage(be)})
	}
}

// flush logs and delivers queued notes in order, without holding mu.
func (m *Manager) flush() {
	m.deliverMu.Lock()
	defer m.deliverMu.Unlock()
	for {
		m.mu.Lock()
		ns := m.pending
		m.pending = nil
		m.mu.Unlock()
		if len(ns) == 0 {
			return
		}
		for _, n := range ns {
			if n.ev != nil {
				m.log.Log(context.Background(), n.level, n.msg,
					"backend", n.ev.Backend, "server", n.ev.Server, "state", n.ev.State)
				if m.opts.OnChange != nil {
					m.opts.OnChange(*n.ev)
				}
				continue
			}
			m.log.Log(context.Background(), n.level, n.msg)
		}
	}
}
