package daemon

import (
	"context"
	"log/slog"
)

// syslogEvents sends event logs (server up/down, VRRP transitions, reloads,
// admin actions) to the syslog targets of global.log as well as stderr. The
// targets change on reload, so it looks the current access logger up per
// record; events are rare.
type syslogEvents struct {
	cur func() slog.Handler
	ops []func(slog.Handler) slog.Handler // WithAttrs/WithGroup, in order
}

func (h *syslogEvents) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }

func (h *syslogEvents) Handle(ctx context.Context, r slog.Record) error {
	x := h.cur()
	if x == nil {
		return nil
	}
	for _, op := range h.ops {
		x = op(x)
	}
	return x.Handle(ctx, r)
}

func (h *syslogEvents) with(op func(slog.Handler) slog.Handler) *syslogEvents {
	ops := append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), op)
	return &syslogEvents{cur: h.cur, ops: ops}
}

func (h *syslogEvents) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })
}

func (h *syslogEvents) WithGroup(name string) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
}

// eventLogger tees base into the syslog targets of the running config.
func (d *Daemon) eventLogger(base *slog.Logger) *slog.Logger {
	ev := &syslogEvents{cur: func() slog.Handler {
		rt := d.runtime()
		if rt == nil {
			return nil
		}
		lg := rt.access.Load()
		if lg == nil {
			return nil
		}
		return lg.Handler(nil)
	}}
	return slog.New(slog.NewMultiHandler(base.Handler(), ev))
}
