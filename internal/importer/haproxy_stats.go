// HAProxy stats directives and stats-only listen sections.

package importer

import (
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
)

// isStatsOnly reports whether a listen section only serves the stats page.
func isStatsOnly(s *hSection) bool {
	if s.Kind != "listen" {
		return false
	}
	stats := false
	for _, l := range s.Lines {
		switch l.Args[0] {
		case "server", "default_backend", "use_backend":
			return false
		case "stats":
			stats = true
		}
	}
	return stats
}

func (m *mapper) stats(t *target, l hLine) error {
	a := l.Args
	if len(a) < 2 {
		return m.errf(l.Num, "stats: missing keyword")
	}
	var st *config.Stats
	switch {
	case t.stats != nil:
		st = &t.stats.Stats
	case t.fe != nil:
		if t.fe.Stats == nil {
			t.fe.Stats = &config.Stats{}
		}
		st = t.fe.Stats
	case t.kind == "defaults" && t.path != "":
		m.pushdown = append(m.pushdown, l)
		m.note(l.Num, directiveName(a), t.path, "lbd's defaults have no stats: written into each frontend and listen section instead")
		return nil
	default:
		m.notHere(t, l)
		return nil
	}
	st.Enable = true // any stats keyword enables the page, as in HAProxy
	key := "stats"
	if t.stats != nil {
		key = ""
	}
	sub := func(k string) string {
		if key == "" {
			return k
		}
		return key + "." + k
	}
	need := func() error {
		if len(a) < 3 {
			return m.errf(l.Num, "stats %s: missing value", a[1])
		}
		return nil
	}
	switch a[1] {
	case "enable":
		m.done(t, l, sub("enable"))
	case "uri":
		if err := need(); err != nil {
			return err
		}
		st.URI = a[2]
		m.done(t, l, sub("uri"))
	case "realm":
		if err := need(); err != nil {
			return err
		}
		st.Realm = strings.Join(a[2:], " ")
		m.done(t, l, sub("realm"))
	case "auth":
		if err := need(); err != nil {
			return err
		}
		if !strings.Contains(a[2], ":") {
			return m.errf(l.Num, "stats auth: want USER:PASSWORD, got %q", a[2])
		}
		st.Auth = append(st.Auth, a[2])
		m.done(t, l, sub("auth"))
	case "hide-version":
		st.HideVersion = true
		m.done(t, l, sub("hide_version"))
	case "refresh":
		if err := need(); err != nil {
			return err
		}
		v := a[2]
		if isDigits(v) { // HAProxy's stats refresh defaults to seconds
			v += "s"
		}
		d, err := m.duration(l.Num, "stats refresh", v)
		if err != nil {
			return err
		}
		st.Refresh = d
		m.done(t, l, sub("refresh"))
	default:
		m.unsupported(t, l, "")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
