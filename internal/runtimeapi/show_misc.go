package runtimeapi

import (
	"fmt"
	"strings"
)

func cmdShowBackend(s *session, _ []string) string {
	var b strings.Builder
	b.WriteString("# name\n")
	for _, be := range s.b.Status().Backends {
		b.WriteString(oneLine(be.Name))
		b.WriteByte('\n')
	}
	return b.String()
}

func cmdShowErrors(s *session, _ []string) string {
	return "Total events captured on [" + s.now().Format("02/Jan/2006:15:04:05.000") + "] : 0\n"
}

// cmdShowSess is the summary form: one line per frontend with its current
// and total sessions (lbd keeps no per-stream table to dump).
func cmdShowSess(s *session, _ []string) string {
	var b strings.Builder
	for _, f := range s.b.Status().Frontends {
		fmt.Fprintf(&b, "fe=%s mode=%s scur=%d smax=%d stot=%d\n", oneLine(f.Name), f.Mode, f.Sessions, f.MaxSession, f.Total)
	}
	return b.String()
}

// oneLine keeps a name on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}
