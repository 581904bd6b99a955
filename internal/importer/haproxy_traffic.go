// HAProxy accept-proxy (bind option) and log-format.

package importer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/logformat"
)

// acceptProxy maps a bind line's accept-proxy. lbd sets it per section
// (frontend or listen), for all its binds: mixing binds with and without
// it is a WARNING naming the binds that change. before is the number of
// binds the section had before this line.
func (m *mapper) acceptProxy(t *target, l hLine, before int) {
	has := slices.Contains(l.Args[2:], "accept-proxy")
	if t.fe == nil || t.stats != nil {
		if has {
			m.unsupported(t, l, "accept-proxy on the stats listener is not supported; left out")
		}
		return
	}
	switch {
	case has && t.fe.AcceptProxy == nil:
		t.fe.AcceptProxy = &config.AcceptProxy{}
		m.done(t, l, "accept_proxy")
		if before > 0 {
			m.warnf(l.Num, "bind accept-proxy", t.path, "lbd's accept_proxy applies to every bind of the section: the %d bind(s) above, which HAProxy serves without a PROXY header, now expect one too; move them to another frontend if their clients connect directly", before)
		}
	case !has && t.fe.AcceptProxy != nil:
		m.warnf(l.Num, "bind", t.path, "this bind has no accept-proxy, but lbd's accept_proxy applies to every bind of the section: it will expect a PROXY header too; move it to another frontend if its clients connect directly")
	}
}

// logFormat maps `log-format FORMAT` (the words joined by one space, as
// HAProxy does). In defaults it is written into each frontend and listen
// section; an unknown variable is a WARNING and the line is left out.
func (m *mapper) logFormat(t *target, l hLine) error {
	if err := needArgs(m, l, 1, "log-format FORMAT"); err != nil {
		return err
	}
	format := strings.Join(l.Args[1:], " ")
	if _, err := logformat.Parse(format); err != nil && t.fe == nil && t.kind == "defaults" {
		var fe *logformat.Error
		if errors.As(err, &fe) {
			m.unsupported(t, l, fmt.Sprintf("column %d of the format: %s; lbd's default log line is used instead", fe.Col, fe.Msg))
			return nil
		}
	}
	if t.fe == nil {
		if t.kind == "defaults" {
			if t.path != "" {
				m.pushdown = append(m.pushdown, l)
				m.note(l.Num, "log-format", t.path, "lbd's defaults have no log_format: written into each frontend and listen section instead")
			}
			return nil
		}
		m.notHere(t, l)
		return nil
	}
	if _, err := logformat.Parse(format); err != nil {
		var fe *logformat.Error
		if errors.As(err, &fe) {
			m.unsupported(t, l, fmt.Sprintf("column %d of the format: %s; lbd's default log line is used instead", fe.Col, fe.Msg))
			return nil
		}
		return err
	}
	t.fe.LogFormat = format
	m.done(t, l, "log_format")
	return nil
}
