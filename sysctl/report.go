package sysctl

import (
	"fmt"
	"log/slog"
	"strings"
)

// Format renders results as aligned "key  old -> new  (note)" lines, as
// `lbd sysctl` prints them.
func Format(rs []Result) string {
	w := 0
	for _, r := range rs {
		w = max(w, len(r.Key))
	}
	var b strings.Builder
	for _, r := range rs {
		state := "unchanged"
		if r.Changed {
			state = "changed"
		}
		fmt.Fprintf(&b, "%-*s  %s -> %s  (%s)", w, r.Key, orDash(r.Old), orDash(r.New), state)
		if r.Warning != "" {
			b.WriteString("  warning: " + r.Warning)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Log logs each result at Info (Warn when it has a warning) as
// "sysctl key=... old=... new=... changed=...".
func Log(l *slog.Logger, rs []Result) {
	for _, r := range rs {
		args := []any{"key", r.Key, "old", r.Old, "new", r.New, "changed", r.Changed}
		if r.Warning != "" {
			l.Warn("sysctl", append(args, "warning", r.Warning)...)
			continue
		}
		l.Info("sysctl", args...)
	}
}
