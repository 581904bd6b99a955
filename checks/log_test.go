package checks

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// lineHandler renders "LEVEL message\n" per record.
type lineHandler struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }

func (h *lineHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.b.WriteString(r.Level.String() + " " + r.Message + "\n")
	return nil
}
func (h *lineHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineHandler) WithGroup(string) slog.Handler      { return h }
