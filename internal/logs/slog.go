package logs

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// Handler returns a slog.Handler that sends event logs (server up/down,
// VRRP transitions, reloads, admin actions) to the Logger's syslog targets,
// as "message key=value ..." at the severity matching the slog level
// (Debug->debug, Info->info, Warn->warning, Error->err). stdout/stderr
// targets are skipped: the daemon's own stderr handler already reaches
// journald. Combine with the stderr handler through slog.NewMultiHandler.
// level is the minimum slog level handled; nil means slog.LevelInfo.
func (l *Logger) Handler(level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	st := &textState{}
	inner := slog.NewTextHandler(&st.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &eventHandler{l: l, level: level, st: st, inner: inner}
}

type textState struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out []byte
}

type eventHandler struct {
	l     *Logger
	level slog.Leveler
	st    *textState
	inner slog.Handler
}

func (h *eventHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return lv >= h.level.Level()
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	h.st.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	out := appendClean(h.st.out[:0], r.Message)
	attrs := bytes.TrimRight(h.st.buf.Bytes(), "\n")
	if len(attrs) > 0 {
		out = append(out, ' ')
		out = appendClean(out, string(attrs))
	}
	h.st.out = out
	h.l.logEvent(severityOf(r.Level), out)
	return nil
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{l: h.l, level: h.level, st: h.st, inner: h.inner.WithAttrs(as)}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{l: h.l, level: h.level, st: h.st, inner: h.inner.WithGroup(name)}
}

func severityOf(lv slog.Level) Severity {
	switch {
	case lv < slog.LevelInfo:
		return Debug
	case lv < slog.LevelWarn:
		return Info
	case lv < slog.LevelError:
		return Warning
	default:
		return Err
	}
}

// appendClean copies s replacing control bytes (newlines included) by
// spaces so one event stays one syslog line.
func appendClean(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
